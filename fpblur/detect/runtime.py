"""ONNX Runtime session helpers shared by every ONNX backend (CenterFace, YOLO exports)."""

from __future__ import annotations


def make_session(model_bytes: bytes, threads: int | None = None, providers: list[str] | None = None):
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # silence the "unused initializer" warnings
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = int(threads)
    if providers is None:
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=providers)
