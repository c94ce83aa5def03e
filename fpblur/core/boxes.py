"""Box arithmetic shared by detectors, tracker and metrics: IoU, coverage, NMS, affine moves.

Boxes are ``[x1, y1, x2, y2]`` in pixels, as N×4 arrays.  Pure numpy, except :func:`nms`, which is OpenCV's
greedy NMS (``cv2.dnn.NMSBoxes``, the same greedy rule Ultralytics YOLOv8 applies through torchvision).
"""

from __future__ import annotations

import cv2
import numpy as np


def _intersections(a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N×M intersection areas, areas of a, areas of b) for N×4 and M×4 boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clip(min=0).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).clip(min=0).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).clip(min=0).prod(axis=1)
    return inter, area_a, area_b


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union.

    Args:
        a: N×4 boxes ``[x1, y1, x2, y2]`` (any numeric array-like; reshaped to N×4).
        b: M×4 boxes.

    Returns:
        N×M float64 IoU in [0, 1]; 0 where the union is empty (degenerate boxes).
    """
    inter, area_a, area_b = _intersections(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def intersection_over_first(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How much of each box in ``a`` each box in ``b`` covers: intersection / area of the ``a`` box.

    Args:
        a: N×4 boxes ``[x1, y1, x2, y2]``.
        b: M×4 boxes.

    Returns:
        N×M float64 fractions in [0, 1] (0 for an ``a`` box of zero area).
    """
    inter, area_a, _ = _intersections(a, b)
    return inter / np.maximum(area_a[:, None], 1e-12)


def touching_inner_edges(
    boxes: np.ndarray, window: tuple[int, int, int, int], width: int, height: int, margin: float = 2.0
) -> np.ndarray:
    """Which ``boxes`` touch an edge of ``window`` that lies inside the ``width`` × ``height`` image (within
    ``margin`` pixels): the window (a tile, a crop) cut their object, so a box there may show only a piece of it.
    Edges on the image's own border cut nothing.

    Args:
        boxes: N×4 ``[x1, y1, x2, y2]`` in image pixels.
        window: ``(x0, y0, x1, y1)`` in image pixels.

    Returns:
        N bools.
    """
    x0, y0, x1, y1 = window
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    cut = np.zeros(len(b), bool)
    if x0 > 0:
        cut |= b[:, 0] <= x0 + margin
    if y0 > 0:
        cut |= b[:, 1] <= y0 + margin
    if x1 < width:
        cut |= b[:, 2] >= x1 - margin
    if y1 < height:
        cut |= b[:, 3] >= y1 - margin
    return cut


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression (OpenCV's ``cv2.dnn.NMSBoxes``), class-agnostic.

    Args:
        boxes: N×4 boxes ``[x1, y1, x2, y2]`` in pixels.
        scores: N scores; boxes scoring 0 or less are dropped (OpenCV's score threshold, 0 here).
        iou: a box overlapping an already kept, higher-scoring box by more than this IoU is dropped.

    Returns:
        int64 indices of the kept boxes, highest score first (empty for no boxes).
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros((0,), dtype=np.int64)
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), np.asarray(scores, np.float32).tolist(), 0.0, float(iou))
    return np.asarray(keep, dtype=np.int64).reshape(-1)


def transform_boxes(boxes: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Axis-aligned boxes moved by an affine transform: each box becomes the one enclosing its four moved corners.

    Args:
        boxes: N×4 boxes ``[x1, y1, x2, y2]`` in pixels.
        m: 2×3 affine matrix mapping ``(x, y, 1)`` to the new pixel coordinates (e.g. the camera motion of
            :class:`fpblur.track.motion.CameraMotion`).

    Returns:
        N×4 float64 boxes in the transformed pixels.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return boxes
    xs = boxes[:, [0, 2, 2, 0]]
    ys = boxes[:, [1, 1, 3, 3]]
    mx = m[0, 0] * xs + m[0, 1] * ys + m[0, 2]
    my = m[1, 0] * xs + m[1, 1] * ys + m[1, 2]
    return np.stack([mx.min(1), my.min(1), mx.max(1), my.max(1)], axis=1)


def mirror_boxes(boxes: np.ndarray, width: float) -> np.ndarray:
    """Boxes of a horizontally mirrored image mapped back onto the original: ``[x1, y1, x2, y2]`` becomes
    ``[width - x2, y1, width - x1, y2]``.

    Args:
        boxes: N×4 ``[x1, y1, x2, y2]`` in pixels of the mirrored image.
        width: the image width in pixels.

    Returns:
        N×4 float32 boxes (new array).
    """
    b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return np.stack([width - b[:, 2], b[:, 1], width - b[:, 0], b[:, 3]], axis=1).astype(np.float32)
