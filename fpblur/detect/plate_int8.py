"""int8 plate model: the default YOLOv8n plate ONNX file statically quantised, for light video frames and crop
re-checks.

On the 2-core development machine (AVX-512 VNNI) the int8 graph runs a 480 px light pass in about 11.6 ms
instead of 18.7 ms and a 640×384 pass in 18 instead of 32 ms.  It is not used for photos or full video frames:
on the photo sets it lost plates the fp32 graph finds (``plates_kaggle416`` coverage 1.000 -> 0.954, README),
while on video, where the full frames keep fp32 and carry every plate, the 30 motion clips, the ``large``
clips and the parking-lot clip were anonymized exactly as with fp32 (README, issue 12).

The recipe (:func:`quantize_plate_model`): ONNX Runtime's ``quant_pre_process``, then ``quantize_static`` with QDQ
nodes, per-channel int8 weights, uint8 activations and min-max calibration.  The detection head's decoding (DFL,
anchors, the concatenation of boxes in pixels with scores in [0, 1]: one uint8 range cannot hold both) and its
stride-32 branches (the largest plates: with them quantised, plates filling the frame scored 0.5 or less) stay
fp32.  Calibration inputs: the three photos shipped with fpblur (``fpblur/models/assets``) at three scales and
fpblur's drawn car (:func:`fpblur.models.samples.synthetic_car`) with plates 40–560 px wide, each letterboxed to
640×640.  Calibrated on the photos alone, plates filling the frame were lost (their activations were outside
the calibrated ranges).  No evaluation data is involved.

Only the registry's ``plate-yolov8n`` file has an int8 graph, shipped with fpblur
(``fpblur/models/weights/plate-yolov8n-int8.onnx``, :data:`SHIPPED_INT8_SHA256`; ``scripts/build_int8.py plate``
rebuilds it and checks that the bytes are the same); any other plate model runs fp32 everywhere.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from fpblur.core.digest import model_digest
from fpblur.detect.letterbox import PAD_VALUE, letterbox
from fpblur.detect.quantize import quantize_qdq
from fpblur.models.registry import get_info
from fpblur.models.samples import ASSETS, photo_path, synthetic_car

SHIPPED_INT8 = "plate-yolov8n-int8.onnx"  # in fpblur/models/weights: the int8 graph of the registry's plate-yolov8n
SHIPPED_INT8_SHA256 = "7a97033ecf6d85d762d5b3739d58302b6d124f10d46f667713fc93ac2665e26e"
CALIB_SIZE = 640  # every calibration input is letterboxed to CALIB_SIZE × CALIB_SIZE (min-max needs no one shape,
# but one size keeps the recipe simple)
CALIB_SCALES = (0.5, 1.0, 2.0)  # of each shipped photo before letterboxing
CALIB_PLATE_WIDTHS = (40, 80, 160, 320, 560)  # of the drawn car's plate, pixels at 640 px
FP32_BRANCHES = ("/cv2.2/", "/cv3.2/")  # the head's stride-32 box and class branches stay fp32
HEAD = "/model.22/"  # Ultralytics' name of the YOLOv8 detection head in the export


def shipped_int8_path() -> Path:
    """The int8 plate model shipped with fpblur (may be missing from a broken install: check ``is_file()``)."""
    return Path(str(resources.files("fpblur.models").joinpath("weights").joinpath(SHIPPED_INT8)))


def int8_weights_for(weights: str | os.PathLike) -> Path | None:
    """The int8 graph of a plate ONNX file, when fpblur has one: the shipped file for the registry's
    ``plate-yolov8n`` (same sha256, and the int8 file installed), else None.

    Raises:
        FileNotFoundError: ``weights`` does not exist.
    """
    shipped = shipped_int8_path()
    if model_digest(weights) == get_info("plate-yolov8n").sha256 and shipped.is_file():
        return shipped
    return None


def _letterboxed(image: np.ndarray) -> np.ndarray:
    """``image`` as the network sees it (Ultralytics' letterbox to :data:`CALIB_SIZE`, padded to a square with
    grey 114): ``1×3×640×640`` float32 RGB in [0, 1]."""
    padded, _, _ = letterbox(image, CALIB_SIZE)
    canvas = np.full((CALIB_SIZE, CALIB_SIZE, 3), PAD_VALUE, np.uint8)
    canvas[: padded.shape[0], : padded.shape[1]] = padded[:CALIB_SIZE, :CALIB_SIZE]
    return np.ascontiguousarray(canvas[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255.0


def calibration_inputs() -> list[np.ndarray]:
    """The calibration network inputs, in a fixed order: each shipped photo (:data:`~fpblur.models.samples.ASSETS`)
    at each of :data:`CALIB_SCALES`, then the drawn car with each plate width of :data:`CALIB_PLATE_WIDTHS`.

    Returns:
        ``1×3×640×640`` float32 RGB blobs in [0, 1].

    Raises:
        RuntimeError: a shipped photo cannot be decoded.
    """
    images = []
    for name in ASSETS:
        photo = cv2.imread(str(photo_path(name)))
        if photo is None:
            raise RuntimeError(f"int8 plate model: calibration photo unreadable: {photo_path(name)}")
        images += [cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) for s in CALIB_SCALES]
    images += [synthetic_car(plate_width=w, seed=i)[0] for i, w in enumerate(CALIB_PLATE_WIDTHS)]
    return [_letterboxed(im) for im in images]


def fp32_nodes(node_names: list[str]) -> list[str]:
    """The nodes of a YOLOv8 export that stay fp32: every node of the head (:data:`HEAD`) outside its box and
    class branches, and the stride-32 branches (:data:`FP32_BRANCHES`)."""
    out = []
    for name in node_names:
        if not name.startswith(HEAD):
            continue
        in_branch = "/cv2." in name or "/cv3." in name
        if not in_branch or any(b in name for b in FP32_BRANCHES):
            out.append(name)
    return out


def quantize_plate_model(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Quantise a YOLOv8 plate ONNX export to int8 QDQ (the module's recipe) and write it to ``dst`` atomically.

    Args:
        src: the fp32 ONNX export (the registry's ``plate-yolov8n``).
        dst: where to write the int8 model (its folder is created; temporary files live beside it).

    Returns:
        ``dst`` as a :class:`~pathlib.Path`.

    Raises:
        RuntimeError: a calibration photo cannot be read.
        OSError: ``dst``'s folder cannot be created or written.
    """
    name = ort.InferenceSession(str(src), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    feeds = ({name: blob} for blob in calibration_inputs())
    return quantize_qdq(Path(src).read_bytes(), dst, feeds, method="minmax", keep_fp32=fp32_nodes)


__all__ = [
    "SHIPPED_INT8_SHA256",
    "calibration_inputs",
    "fp32_nodes",
    "int8_weights_for",
    "quantize_plate_model",
    "shipped_int8_path",
]
