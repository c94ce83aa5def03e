"""The research workflow: dataset tools (``data``), evaluation (``eval``), YOLO training and ONNX export.

Inference code never imports this package; it may import every inference layer."""
