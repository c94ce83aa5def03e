"""Detectors: one contract (:mod:`fpblur.detect.base`), CenterFace (fp32 and int8) and YOLO (ONNX Runtime or
PyTorch) backends, multi-pass merging, and the factory that builds a detector from a spec."""
