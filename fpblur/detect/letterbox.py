"""Ultralytics YOLOv8's letterbox for a dynamic-shape model, the input every YOLO ONNX graph fpblur runs gets
(:mod:`fpblur.detect.yolo_onnx`; the int8 plate calibration, :mod:`fpblur.detect.plate_int8`)."""

from __future__ import annotations

import cv2
import numpy as np

PAD_VALUE = 114  # Ultralytics' grey padding


def letterbox(
    image: np.ndarray, imgsz: int, stride: int = 32
) -> tuple[np.ndarray, tuple[float, float], tuple[int, int]]:
    """Letterbox as Ultralytics YOLOv8 does for a dynamic-shape model (``LetterBox(auto=True)``): resize keeping
    the aspect ratio so the long side is ``imgsz``, then pad each dimension with grey (114) by
    ``(imgsz - size) mod stride`` pixels, split between both sides (so a multiple of ``stride`` when ``imgsz`` is).

    Args:
        image: H×W×3 uint8 BGR image.
        imgsz: the long side after resizing, in pixels (images are enlarged or shrunk to it).
        stride: the network's stride.

    Returns:
        ``(padded, (gain_x, gain_y), (pad_left, pad_top))``: the padded image, the resize factors
        (new size / original size) and the padding added on the left and top, in pixels.  A box in the padded
        image maps back as ``(x - pad_left) / gain_x``, ``(y - pad_top) / gain_y``.
    """
    h, w = image.shape[:2]
    r = min(imgsz / h, imgsz / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = (imgsz - new_w) % stride / 2, (imgsz - new_h) % stride / 2
    if (w, h) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return image, (new_w / w, new_h / h), (left, top)


__all__ = ["PAD_VALUE", "letterbox"]
