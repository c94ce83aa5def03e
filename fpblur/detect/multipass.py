"""Merging boxes from several passes (scales, image sizes) of one detector: NMS, optionally with box voting.

:class:`MultiDetector` runs several detectors (one loaded model at several input sizes) and merges their boxes
per label, so a two-class model keeps faces as faces and plates as plates.

Box voting (Gidaris & Komodakis 2015, "Object detection via a multi-region & semantic segmentation-aware CNN
model") replaces each box that NMS keeps with the score-weighted mean of every candidate that overlaps it by at
least ``vote_iou`` (itself included).  Boxes from different input scales disagree by a few pixels on
small faces; averaging them localises better than keeping the single best box.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np

from fpblur.config.profiles import FullFramePasses, LightPasses
from fpblur.core.boxes import iou_matrix, nms
from fpblur.core.detections import Detections
from fpblur.detect.base import Detector


def merge_boxes(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou: float,
    vote_iou: float | None = None,
    vote_power: float = 4.0,
    chunk: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy NMS (:func:`fpblur.core.boxes.nms`) and optional box voting (module docstring).

    Args:
        boxes: N×4 ``[x1, y1, x2, y2]`` candidates in pixels (all of one label).
        scores: N scores.
        iou: NMS IoU.
        vote_iou: each kept box becomes the weighted mean of the candidates overlapping it by at least this
            IoU (None: plain NMS).
        vote_power: weights are ``score ** vote_power``, so that confident boxes dominate the mean.
        chunk: kept boxes voted at a time (bounds memory to ``chunk × N`` IoUs).

    Returns:
        ``(boxes, scores)`` of the kept boxes, best first: K×4 float32 (voted, when ``vote_iou``) and their own
        K float32 scores (voting does not change scores).
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    keep = nms(boxes, scores, iou)
    kept = boxes[keep]
    if vote_iou is None or len(keep) == 0:
        return kept, scores[keep]
    weights = scores.astype(np.float64) ** vote_power
    voted = np.empty_like(kept)
    for start in range(0, len(keep), chunk):  # bounded memory on thousands of low-score candidates
        w = (iou_matrix(kept[start : start + chunk], boxes) >= vote_iou) * weights[None, :]
        voted[start : start + chunk] = (w @ boxes) / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return voted.astype(np.float32), scores[keep]


def fuse_views(
    parts: Sequence[tuple[np.ndarray, np.ndarray]], seed_conf: float, iou: float = 0.5, nms_iou: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse the boxes of several views of one image (the image and its mirror image), rewarding agreement.

    Seeds are the candidates scoring at least ``seed_conf``, kept by NMS (``nms_iou``); each seed's box becomes
    the ``score ** 4``-weighted mean of every candidate overlapping it by at least ``iou`` and its score the mean,
    over the views, of each view's best overlapping score (0 for a view that saw nothing there): a box that only
    one of two views sees keeps half its score (weighted box fusion's score rule, Solovyev et al. 2021).

    Args:
        parts: per view, ``(N×4 boxes, N scores)`` in the same pixels (mirrored views already mapped back).
        seed_conf: candidates below this can support a seed but not start one (a fused score cannot exceed the
            best view's).
        iou: IoU at which a candidate supports a seed.
        nms_iou: NMS IoU among seeds.

    Returns:
        ``(boxes, scores)``: K×4 float32 fused boxes and K float32 fused scores, best seed first.
    """
    if len(parts) == 1:
        return parts[0]
    boxes = np.concatenate([np.asarray(b, np.float32).reshape(-1, 4) for b, _ in parts])
    scores = np.concatenate([np.asarray(sc, np.float32).reshape(-1) for _, sc in parts])
    view = np.concatenate([np.full(len(sc), i) for i, (_, sc) in enumerate(parts)])
    seeds = np.nonzero(scores >= seed_conf)[0]
    if len(seeds) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    keep = seeds[nms(boxes[seeds], scores[seeds], nms_iou)]
    near = iou_matrix(boxes[keep], boxes) >= iou
    best = np.zeros((len(keep), len(parts)), np.float32)
    for v in range(len(parts)):
        mine = view == v
        if mine.any():
            best[:, v] = (near[:, mine] * scores[mine][None, :]).max(axis=1)
    w = near * (scores.astype(np.float64)[None, :] ** 4)
    fused = (w @ boxes) / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return fused.astype(np.float32), best.mean(axis=1)


def merge_per_label(parts: Sequence[Detections], iou: float, vote_iou: float | None = None) -> Detections:
    """Concatenate ``parts`` and merge them label by label with :func:`merge_boxes` (NMS, optional voting).

    Args:
        parts: detections of one image (same pixels), from several passes.
        iou: NMS IoU.  vote_iou: box-voting IoU (None: plain NMS).

    Returns:
        The merged detections, labels in order of first appearance, each label's boxes best first.
    """
    dets = Detections.concat(parts)
    if len(dets) == 0:
        return Detections.empty()
    merged = []
    for label in dict.fromkeys(dets.labels.tolist()):
        mine = dets.filter(label=label)
        boxes, scores = merge_boxes(mine.boxes, mine.scores, iou, vote_iou)
        merged.append(Detections.from_arrays(boxes, scores, label))
    return Detections.concat(merged)


def _at_sizes(members: Sequence[Detector], sizes: Sequence[int]) -> list[Detector]:
    """The ``members`` that run only at input sizes (pixels) among ``sizes`` (members without sizes: none)."""
    wanted = set(sizes)
    return [m for m in members if m.input_sizes and set(m.input_sizes) <= wanted]


class MultiDetector(Detector):
    """Run several detectors on each image and merge their boxes by NMS (+ voting), label by label.

    Used for the plate model at several input sizes (members sharing one loaded model).  The ``conf`` given to
    :meth:`predict` reaches every member.

    Args:
        members: the detectors to run (at least one); the first one's :attr:`conf` is the merge's.
        iou: NMS IoU of the merge.
        vote_iou: box-voting IoU (None: plain NMS); see :func:`merge_boxes`.

    Raises:
        ValueError: no members.
    """

    def __init__(self, members: Sequence[Detector], iou: float, vote_iou: float | None = None) -> None:
        if not members:
            raise ValueError("MultiDetector needs at least one detector")
        self.members = list(members)
        self.labels = tuple(dict.fromkeys(label for m in self.members for label in m.labels))
        self.iou = float(iou)
        self.vote_iou = vote_iou
        self.conf = float(self.members[0].conf)
        backends = {m.backend for m in self.members}
        self.backend = backends.pop() if len(backends) == 1 else "mixed"

    @property
    def input_sizes(self) -> tuple[int, ...]:
        """Every member's input sizes, in member order."""
        return tuple(size for m in self.members for size in m.input_sizes)

    def _merge(self, parts: list[Detections]) -> Detections:
        return merge_per_label(parts, self.iou, self.vote_iou)

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        # images are validated once here, at the merge's boundary: members run their backend directly
        per_member = [m._predict(images, conf) for m in self.members]
        return [self._merge([p[i] for p in per_member]) for i in range(len(images))]

    def video_full(self, full: FullFramePasses) -> MultiDetector:
        """The members' full-video-frame variants, merged the same way; a plate detector keeps only the members
        at ``full.plate_imgsz`` sizes when that names any of theirs, else all of them."""
        other = copy.copy(self)
        members = [m.video_full(full) for m in self.members]
        if full.plate_imgsz is not None and "plate" in self.labels:
            members = _at_sizes(members, full.plate_imgsz) or members
        other.members = members
        return other

    def light(self, passes: LightPasses) -> Detector:
        """The light variants of the members at ``passes.plate_imgsz`` (else of the smallest one), sharing the
        loaded model: that member's when only one is left, else a merge of them."""
        members = _at_sizes(self.members, passes.plate_imgsz)
        if not members:
            members = [min(self.members, key=lambda m: min(m.input_sizes, default=0))]
        members = [m.light(passes) for m in members]
        if len(members) == 1:
            return members[0]
        light = copy.copy(self)
        light.members = members
        return light
