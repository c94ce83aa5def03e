"""int8 CenterFace: static QDQ quantisation of the prepared model, built once and cached.

On CPUs with AVX-512 VNNI / AMX the int8 graph runs about 1.6× faster than fp32 (measured on the 2-core Xeon
this project is developed on: 1280×720 63 ms vs 94 ms, 2560×1440 180 ms vs 305 ms) and loses little accuracy
on WIDER FACE (see the README's "Quality and speed" section).  Older CPUs gain less.

Calibration uses three photos shipped with fpblur (``fpblur/models/assets``: ``zidane.jpg`` and ``bus.jpg`` from the
ultralytics wheel, matplotlib's ``grace_hopper.jpg``; byte-identical copies, so the int8 model is the same as when
they were read from those packages), each at three scales on a fixed 960×640 canvas, with percentile (99.99)
activation ranges; weights are per-channel int8.  No evaluation data is involved.

The int8 model of the default CenterFace file is shipped with fpblur (``fpblur/models/weights/centerface-int8.onnx``,
:data:`SHIPPED_INT8_SHA256`; ``scripts/build_int8.py centerface`` rebuilds it and checks that the bytes are the
same): building it needs about 7 GB of memory for the percentile calibration and 30-40 s on two cores, too much
to do behind a user's first video (or in every Ray worker).  Another CenterFace file is quantised on first use
with the same recipe and written atomically to
``<fpblur cache>/centerface/centerface-int8-<version>-<sha256 prefix of the fp32 file>.onnx``.
"""

from __future__ import annotations

import os
import sys
import time
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from fpblur.core.digest import model_digest
from fpblur.detect.centerface_graph import INPUT_NAME, prepare_model, to_blob
from fpblur.detect.quantize import quantize_qdq
from fpblur.models.registry import cache_dir, get_info
from fpblur.models.samples import photo_path

QUANT_VERSION = "v1"  # bump when the recipe changes: a new cache file is built
CANVAS = (640, 960)  # h, w of every calibration input (percentile calibration needs one shape)
CALIB_SCALES = (0.5, 1.0, 2.0)
CALIB_PHOTOS = ("zidane.jpg", "bus.jpg", "grace_hopper.jpg")  # in this order (the calibration is order-sensitive)
SHIPPED_INT8 = "centerface-int8.onnx"  # in fpblur/models/weights: the int8 model of the registry's ``centerface``
SHIPPED_INT8_SHA256 = "7fa37099e21ead64b348fc80e275d56882dde730d92aa22637b7af5906ce044c"


def shipped_int8_path() -> Path:
    """The int8 model shipped with fpblur (of the registry's ``centerface`` file; may be missing from a broken
    install: check ``is_file()``)."""
    return Path(str(resources.files("fpblur.models").joinpath("weights").joinpath(SHIPPED_INT8)))


def calibration_images() -> list[np.ndarray]:
    """The calibration photos (:data:`CALIB_PHOTOS`, shipped with fpblur; never downloaded, no ultralytics or
    matplotlib import).

    Returns:
        H×W×3 uint8 BGR images, in :data:`CALIB_PHOTOS` order.

    Raises:
        RuntimeError: a photo cannot be decoded.
        FileNotFoundError: a photo is missing from the installed package.
    """
    images = []
    for name in CALIB_PHOTOS:
        image = cv2.imread(str(photo_path(name)))
        if image is None:
            raise RuntimeError(f"int8 CenterFace: calibration photo unreadable: {photo_path(name)}")
        images.append(image)
    return images


def calibration_inputs(images: list[np.ndarray]) -> list[np.ndarray]:
    """The calibration network inputs: each photo at each of :data:`CALIB_SCALES`, top-left on a black
    :data:`CANVAS` (cropped where the scaled photo is larger).

    Args:
        images: H×W×3 uint8 BGR photos.

    Returns:
        ``len(images) × len(CALIB_SCALES)`` blobs, photo by photo: 1×3×640×960 float32 RGB in 0–255.
    """
    h, w = CANVAS
    out = []
    for image in images:
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        for s in CALIB_SCALES:
            scaled = cv2.resize(rgb, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            canvas = np.zeros((h, w, 3), np.uint8)
            ch, cw = min(h, scaled.shape[0]), min(w, scaled.shape[1])
            canvas[:ch, :cw] = scaled[:ch, :cw]
            out.append(to_blob(canvas, w, h))
    return out


def quantize_model(prepared: bytes, dst: str | os.PathLike) -> Path:
    """Quantise a prepared CenterFace graph to int8 QDQ (static, calibrated) and write it to ``dst`` atomically.

    The recipe (module docstring): ONNX Runtime's ``quant_pre_process`` (BN folding, no symbolic shape
    inference), conversion to opset 13, then ``quantize_static`` with QDQ nodes, per-channel int8 weights,
    uint8 activations and percentile (99.99) calibration on :func:`calibration_inputs`
    (:func:`fpblur.detect.quantize.quantize_qdq`).

    Args:
        prepared: the dynamic-shape graph from :func:`~fpblur.detect.centerface_graph.prepare_model`.
        dst: where to write the int8 model (its folder is created); the temporary files live beside it.

    Returns:
        ``dst`` as a :class:`~pathlib.Path`.

    Raises:
        RuntimeError: a calibration photo cannot be read (:func:`calibration_images`).
        OSError: ``dst``'s folder cannot be created or written.
    """
    feeds = ({INPUT_NAME: blob} for blob in calibration_inputs(calibration_images()))
    return quantize_qdq(prepared, dst, feeds, method="percentile", percentile=99.99, opset=13)


def int8_model_ready(source: str | os.PathLike) -> bool:
    """Whether the int8 model of the CenterFace file ``source`` is on this machine without a build: shipped (the
    registry's ``centerface``) or already in the cache (:func:`int8_model_path`)."""
    return _int8_location(model_digest(source)).is_file()


def _int8_location(digest: str) -> Path:
    """Where the int8 model of the CenterFace file with sha256 ``digest`` is: the shipped file for the registry's
    ``centerface`` (when installed), else its cache path (which may not exist yet)."""
    shipped = shipped_int8_path()
    if digest == get_info("centerface").sha256 and shipped.is_file():
        return shipped
    return cache_dir() / "centerface" / f"centerface-int8-{QUANT_VERSION}-{digest[:12]}.onnx"


def int8_model_path(source: str | os.PathLike) -> Path:
    """Path of the int8 model of the CenterFace file ``source``: the shipped one (:func:`shipped_int8_path`) when
    ``source`` is the registry's ``centerface`` file (same sha256), else a cache file built on first use.

    The cache file is ``<fpblur cache>/centerface/centerface-int8-<QUANT_VERSION>-<sha256 of source, 12 hex
    digits>.onnx``; building it (:func:`quantize_model`) says so on stderr before it starts and reports the
    measured time when it is done (no guessed duration: it depends on the machine).

    Args:
        source: the fp32 CenterFace ONNX file.

    Returns:
        The int8 model's path (an existing file).

    Raises:
        FileNotFoundError: ``source`` does not exist.
        RuntimeError: a calibration photo cannot be read.
    """
    dst = _int8_location(model_digest(source))
    if not dst.is_file():
        print(f"fpblur: building the int8 CenterFace model (once per machine; cached at {dst})", file=sys.stderr)
        start = time.perf_counter()
        quantize_model(prepare_model(source), dst)
        print(f"fpblur: built the int8 CenterFace model in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return dst
