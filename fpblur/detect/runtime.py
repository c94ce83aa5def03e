"""ONNX Runtime session helpers shared by every ONNX backend (CenterFace, YOLO exports)."""

from __future__ import annotations

import onnxruntime as ort


def make_session(
    model_bytes: bytes, threads: int | None = None, providers: list[str] | None = None
) -> ort.InferenceSession:
    """An ONNX Runtime inference session for a serialized model, with every graph optimisation on.

    ONNX Runtime's own logging is lowered to errors (the CenterFace graph's "unused initializer" warnings).

    Args:
        model_bytes: the serialized ONNX model (a file's bytes, or
            :func:`~fpblur.detect.centerface_graph.prepare_model`'s).
        threads: intra-op threads (None or 0: ONNX Runtime's own choice, one per physical core).
        providers: execution providers in order of preference (None: ``CUDAExecutionProvider`` when this
            onnxruntime build has it, then ``CPUExecutionProvider``).

    Returns:
        The session.

    Raises:
        onnxruntime.capi.onnxruntime_pybind11_state.InvalidProtobuf: ``model_bytes`` is not an ONNX model (other
            errors of that module, e.g. ``Fail``, when ONNX Runtime cannot load the graph).
    """
    ort.set_default_logger_severity(3)  # silence the "unused initializer" warnings
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # No busy-waiting between operators: video runs two sessions at once (full/light frames in the detect
    # thread, crop re-checks in the track thread) beside decode and encode on the same cores, and spinning
    # intra-op threads take cores from them (measured on the six 960x540 motion clips: 28.4 s -> 22.9 s;
    # single images unchanged).  ONNX Runtime's "session.intra_op.allow_spinning" session option.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        opts.intra_op_num_threads = int(threads)
    if providers is None:
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=providers)
