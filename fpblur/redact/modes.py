"""Anonymization modes: pure functions that change pixels inside regions and nothing outside them.

Every function takes an image of any channel count (gray, BGR, BGRA) and dtype (uint8/uint16) and
returns a new image; the alpha channel of a BGRA image is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import numpy.typing as npt

from fpblur.config.settings import DEFAULT_MODE, MODES  # the one list of modes (resolved configurations check it)
from fpblur.core.detections import Detections

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

    Args:
        roi: the region's pixels, h×w or h×w×C, uint8 or uint16.
        strength: sigma as a fraction of the region's longer side (at least 2 px).

    Returns:
        The blurred region, same shape and dtype (a new array; edges replicated, not mixed with outside pixels).
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
    """Mosaic with about ``blocks`` cells along the longer side (at least 2 px per cell).

    Args:
        roi: the region's pixels, h×w or h×w×C, uint8 or uint16.
        blocks: cells along the longer side.

    Returns:
        The pixelated region (cell means, area-averaged), same shape and dtype.
    """
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
            cv2.ellipse(mask, (((x2 - x1) / 2, (y2 - y1) / 2), (float(x2 - x1), float(y2 - y1)), 0.0), 255, -1)
            sel = mask.astype(bool)
            roi[sel] = new[sel]
        else:
            roi[...] = new
    return out


def _max_value(image: np.ndarray) -> int:
    return 65535 if image.dtype == np.uint16 else 255


def draw_boxes(
    image: np.ndarray, dets: Detections | npt.ArrayLike, regions: Detections | npt.ArrayLike | None = None
) -> np.ndarray:
    """Review mode: labelled rectangles with scores (and track ids) around the regions; nothing is hidden.

    Drawn on an 8-bit overlay and copied in, so 16-bit, grayscale and BGRA images work the same way (alpha
    unchanged).  Colours per label: :data:`COLORS`.

    Args:
        image: H×W, H×W×3 (BGR) or H×W×4 (BGRA), uint8 or uint16.
        dets: what to label: label, score and track id (``#id``) of each box (:class:`Detections`, or an N×4
            array of ``[x1, y1, x2, y2]`` pixels, drawn as ``region 1.00``).
        regions: the rectangles to draw, same order as ``dets`` (None: ``dets``' own boxes), in pixels.

    Returns:
        A copy of ``image`` with the boxes drawn.

    Raises:
        TypeError, ValueError: boxes that are neither Detections nor an N×4 array (:meth:`Detections.coerce`);
            ``regions`` not as many as ``dets``.
    """
    dets = Detections.coerce(dets)
    regions = None if regions is None else Detections.coerce(regions)
    if regions is not None and len(regions) != len(dets):
        raise ValueError(f"{len(regions)} regions for {len(dets)} detections; expected one region per detection")
    out = image.copy()
    h, w = out.shape[:2]
    overlay = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    thick = max(1, int(round(max(h, w) / 600)))
    boxes = (regions if regions is not None else dets).boxes
    for i in range(len(dets)):
        label = str(dets.labels[i])
        c = COLORS.get(label, (0, 255, 0))
        x1, y1, x2, y2 = (int(round(v)) for v in boxes[i])
        text = f"{label} {dets.scores[i]:.2f}"
        if dets.track_ids is not None and dets.track_ids[i] >= 0:
            text += f" #{dets.track_ids[i]}"
        org = (x1, max(12, y1 - 4))
        for canvas, colour in ((overlay, c), (mask, 255)):
            cv2.rectangle(canvas, (x1, y1), (x2 - 1, y2 - 1), colour, thick)
            cv2.putText(canvas, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, colour, thick, cv2.LINE_AA)
    sel = mask > 0
    scale = _max_value(out) / 255
    color_img, _alpha = _color_channels(out)
    if color_img.ndim == 2:
        color_img[sel] = (overlay[sel].mean(axis=1) * scale).astype(out.dtype)
    else:
        color_img[sel] = (overlay[sel] * scale).astype(out.dtype)
    return out


def anonymize(
    image: np.ndarray,
    regions: Detections | npt.ArrayLike,
    mode: str = DEFAULT_MODE,
    *,
    detections: Detections | npt.ArrayLike | None = None,
    blur_strength: float = 0.25,
    pixel_blocks: int = 8,
    color: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Return a copy of ``image`` with every region in ``regions`` anonymized by ``mode``.

    Pixels outside the regions are unchanged (``boxes`` draws only the rectangles' outlines and labels).  A
    region is rounded outwards to whole pixels and clipped to the image.

    Args:
        image: H×W, H×W×3 (BGR) or H×W×4 (BGRA), uint8 or uint16; not modified.
        regions: the (already padded) areas to change: :class:`Detections`, or an N×4 array-like of
            ``[x1, y1, x2, y2]`` boxes in image pixels.
        mode: ``"blur"`` (:func:`strong_blur`), ``"pixelate"`` (:func:`pixelate`), ``"solid"`` (filled with
            ``color``), ``"ellipse"`` (blur inside the ellipse inscribed in each region) or ``"boxes"``
            (:func:`draw_boxes`).
        detections: same order as ``regions``; only the ``boxes`` mode uses them, to print labels and scores.
        blur_strength: sigma as a fraction of a region's longer side (``blur``, ``ellipse``).
        pixel_blocks: mosaic cells along a region's longer side (``pixelate``).
        color: BGR fill of ``solid`` (0–255, scaled to 16-bit images; gray images get the mean).

    Returns:
        The anonymized copy, same shape and dtype as ``image``.

    Raises:
        ValueError: ``mode`` is not one of :data:`MODES`, or ``regions`` is an array that is not N×4.
        TypeError: ``regions`` is neither Detections nor numeric.
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    regions = Detections.coerce(regions)
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
