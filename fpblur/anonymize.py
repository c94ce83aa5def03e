"""Anonymization modes: pure functions that change pixels inside regions and nothing outside them.

Every function takes an image of any channel count (gray, BGR, BGRA) and dtype (uint8/uint16) and
returns a new image; the alpha channel of a BGRA image is left as it was.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from fpblur.detections import Detections

MODES = ("blur", "pixelate", "solid", "ellipse", "boxes")
COLORS = {"face": (0, 200, 255), "plate": (255, 120, 0)}  # BGR


def _int_box(box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Round a float box outwards to whole pixels, clipped; None if empty."""
    x1, y1 = int(np.floor(max(box[0], 0))), int(np.floor(max(box[1], 0)))
    x2, y2 = int(np.ceil(min(box[2], width))), int(np.ceil(min(box[3], height)))
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def strong_blur(roi: np.ndarray, strength: float = 0.25) -> np.ndarray:
    """Gaussian blur whose sigma grows with the region (``strength`` × its longer side).

    A fixed kernel (the seed's 35×35) leaves big faces readable; a sigma proportional to the region makes
    a 400 px face as featureless as a 20 px one.  Large sigmas are applied on a downscaled copy (blur is
    a low-pass filter, so nothing is lost) to keep the cost independent of the region size.
    """
    h, w = roi.shape[:2]
    sigma = max(2.0, strength * max(h, w))
    factor = max(1.0, sigma / 4.0)  # downscale so the effective sigma is about 4 px
    sw, sh = max(1, int(round(w / factor))), max(1, int(round(h / factor)))
    small = cv2.resize(roi, (sw, sh), interpolation=cv2.INTER_AREA) if factor > 1 else roi
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, borderType=cv2.BORDER_REPLICATE)
    if factor > 1:
        small = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return small.reshape(roi.shape)


def pixelate(roi: np.ndarray, blocks: int = 8) -> np.ndarray:
    """Mosaic with about ``blocks`` cells along the longer side (at least 2 px per cell)."""
    h, w = roi.shape[:2]
    cell = max(2.0, max(h, w) / blocks)
    sw, sh = max(1, int(round(w / cell))), max(1, int(round(h / cell)))
    small = cv2.resize(roi, (sw, sh), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).reshape(roi.shape)


def _color_channels(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    if image.ndim == 3 and image.shape[2] == 4:
        return image[:, :, :3], image[:, :, 3:]
    return image, None


def _apply_per_box(image, regions: Detections, fn: Callable[[np.ndarray, int], np.ndarray], ellipse=False):
    out = image.copy()
    color, _alpha = _color_channels(out)
    h, w = out.shape[:2]
    for i in range(len(regions)):
        ib = _int_box(regions.boxes[i], w, h)
        if ib is None:
            continue
        x1, y1, x2, y2 = ib
        roi = color[y1:y2, x1:x2]
        new = fn(roi.copy(), i)
        if ellipse:
            mask = np.zeros((y2 - y1, x2 - x1), np.uint8)
            cv2.ellipse(mask, ((x2 - x1) / 2, (y2 - y1) / 2), (x2 - x1, y2 - y1), 0, 0, 360, 255, -1)
            sel = mask.astype(bool)
            roi[sel] = new[sel]
        else:
            roi[...] = new
    return out


def _max_value(image: np.ndarray) -> int:
    return 65535 if image.dtype == np.uint16 else 255


def draw_boxes(image: np.ndarray, dets: Detections, regions: Detections | None = None) -> np.ndarray:
    """Review mode: labelled rectangles with scores (regions dashed-free, detections solid)."""
    out = image.copy()
    color_img, _ = _color_channels(out)
    color_img = np.ascontiguousarray(color_img)
    scale = _max_value(out) / 255
    gray = color_img.ndim == 2 or color_img.shape[2] == 1
    for i in range(len(dets)):
        label = str(dets.labels[i])
        c = COLORS.get(label, (0, 255, 0))
        c = (int(sum(c) / 3 * scale),) if gray else tuple(int(v * scale) for v in c)
        box = (regions if regions is not None else dets).boxes[i]
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        thick = max(1, int(round(max(out.shape[:2]) / 600)))
        cv2.rectangle(color_img, (x1, y1), (x2, y2), c, thick)
        text = f"{label} {dets.scores[i]:.2f}"
        if dets.track_ids is not None and dets.track_ids[i] >= 0:
            text += f" #{dets.track_ids[i]}"
        cv2.putText(color_img, text, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, c, thick, cv2.LINE_AA)
    if out.ndim == 3 and out.shape[2] == 4:
        out[:, :, :3] = color_img
    else:
        out = color_img.reshape(out.shape)
    return out


def anonymize(
    image: np.ndarray,
    regions: Detections,
    mode: str = "blur",
    *,
    detections: Detections | None = None,
    blur_strength: float = 0.25,
    pixel_blocks: int = 8,
    color: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Return a copy of ``image`` with every region in ``regions`` anonymized by ``mode``.

    ``regions`` are the (already padded) areas to change; ``detections`` (same order) are only used by
    the ``boxes`` review mode to print scores.  Pixels outside the regions are unchanged.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "boxes":
        return draw_boxes(image, detections if detections is not None else regions, regions)
    if mode == "blur":
        return _apply_per_box(image, regions, lambda roi, _i: strong_blur(roi, blur_strength))
    if mode == "ellipse":
        return _apply_per_box(image, regions, lambda roi, _i: strong_blur(roi, blur_strength), ellipse=True)
    if mode == "pixelate":
        return _apply_per_box(image, regions, lambda roi, _i: pixelate(roi, pixel_blocks))

    def fill(roi: np.ndarray, _i: int) -> np.ndarray:
        scale = _max_value(roi) / 255
        if roi.ndim == 3 and roi.shape[2] == 3:
            roi[...] = np.asarray([v * scale for v in color], dtype=roi.dtype)
        else:  # grayscale
            roi[...] = np.asarray(np.mean(color) * scale, dtype=roi.dtype)
        return roi

    return _apply_per_box(image, regions, fill)
