"""The detector interface: ``detector(image_bgr) -> Detections``."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from fpblur.core.detections import Detections


@runtime_checkable
class Detector(Protocol):
    """Anything that maps a BGR uint8 image (H×W×3) to :class:`Detections` in its pixels."""

    label: str

    def __call__(self, image_bgr: np.ndarray) -> Detections: ...


def check_image(image: np.ndarray) -> np.ndarray:
    """Return an H×W×3 uint8 BGR view of ``image`` (grayscale and BGRA are converted)."""
    import cv2

    if image is None or not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError("expected an H×W or H×W×C numpy image")
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
