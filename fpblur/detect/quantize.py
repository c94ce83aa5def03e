"""Static int8 QDQ quantisation with ONNX Runtime's tool: the one procedure behind fpblur's int8 graphs
(:mod:`fpblur.detect.centerface_int8`, :mod:`fpblur.detect.plate_int8`), which differ only in their calibration
inputs, calibration method, opset and the nodes they keep in fp32.

Why ONNX Runtime's tool and not a hand-written one: it does the per-channel weight scales, the QDQ node placement
ONNX Runtime's int8 kernels fuse, and the calibration; fpblur only chooses inputs and settings.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import onnxruntime as ort

METHODS = ("minmax", "percentile")


def quantize_qdq(
    model: bytes,
    dst: str | os.PathLike,
    feeds: Iterable[dict[str, np.ndarray]],
    *,
    method: str,
    percentile: float = 99.99,
    opset: int | None = None,
    keep_fp32: Callable[[list[str]], list[str]] | None = None,
) -> Path:
    """Quantise an fp32 ONNX graph to int8 QDQ (static, calibrated) and write it to ``dst`` atomically.

    Steps: ONNX Runtime's ``quant_pre_process`` (BN folding, no symbolic shape inference), optionally a conversion
    to ``opset``, then ``quantize_static`` with QDQ nodes, per-channel int8 weights and uint8 activations
    calibrated on ``feeds``.  The tool is silenced meanwhile (root logger at ERROR, ONNX Runtime's log at errors,
    stdout captured).  ``onnx`` and the quantisation tool are imported here, not when fpblur starts (about 0.6 s).

    Args:
        model: the serialized fp32 model.
        dst: where to write the int8 model (its folder is created; the temporary files live beside it).
        feeds: the calibration inputs, in order: ``{input name: array}`` per network run.
        method: ``"minmax"`` or ``"percentile"`` activation ranges.
        percentile: the percentile of ``"percentile"`` calibration.
        opset: convert the pre-processed graph to this opset first (per-channel QDQ needs 13 or more); None: keep.
        keep_fp32: given the pre-processed graph's node names, the ones to leave unquantised (None: none).

    Returns:
        ``dst`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: an unknown ``method``.
        OSError: ``dst``'s folder cannot be created or written.
    """
    if method not in METHODS:
        raise ValueError(f"unknown calibration method {method!r}; expected one of {', '.join(METHODS)}")
    # optional: onnx and ONNX Runtime's quantisation tool, deferred (0.6 s to import) to the runs that quantise
    import onnx
    from onnx import version_converter  # optional: onnx, as above

    # optional: onnx, as above (ONNX Runtime's quantisation tool imports it)
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process  # optional: onnx, as above

    runs = iter(feeds)

    class Reader(CalibrationDataReader):
        """Feeds the calibration inputs to ONNX Runtime's quantiser, one per call, in order."""

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(runs, None)

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantisation tool warns through the root logger and prints to stdout
    ort.set_default_logger_severity(3)  # and ONNX Runtime's "Removing initializer" warnings, one per BN layer
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            tempfile.TemporaryDirectory(prefix="fpblur-q-", dir=dst.parent) as tmp,
        ):
            raw, pre, fp32 = (Path(tmp) / n for n in ("raw.onnx", "pre.onnx", "fp32.onnx"))
            raw.write_bytes(model)
            quant_pre_process(str(raw), str(pre), skip_symbolic_shape=True)  # folds BN, cleans the graph
            graph = onnx.load(str(pre))
            if opset is not None:
                graph = version_converter.convert_version(graph, opset)
            onnx.save(graph, str(fp32))
            excluded = keep_fp32([n.name for n in graph.graph.node]) if keep_fp32 else []
            out = Path(tmp) / dst.name
            quantize_static(
                str(fp32),
                str(out),
                Reader(),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.Percentile if method == "percentile" else CalibrationMethod.MinMax,
                extra_options={"CalibPercentile": percentile} if method == "percentile" else {},
                nodes_to_exclude=excluded,
            )
            os.replace(out, dst)
    finally:
        root.setLevel(level)
    return dst


__all__ = ["METHODS", "quantize_qdq"]
