"""Merging boxes from several passes (scales, image sizes) of one detector: NMS, optionally with box voting.

Box voting replaces each box that NMS keeps with the score-weighted mean of every candidate that overlaps it
by at least ``vote_iou`` (itself included).  Boxes from different input scales disagree by a few pixels on
small faces; averaging them localises better than keeping the single best box.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from fpblur.core.boxes import iou_matrix, nms
from fpblur.core.detections import Detections


def merge_boxes(
    boxes: np.ndarray,
    scores: np.ndarray,
    iou: float,
    vote_iou: float | None = None,
    vote_power: float = 4.0,
    chunk: int = 512,
) -> tuple[np.ndarray, np.ndarray]:
    """NMS at ``iou`` (best first) and optional box voting; returns ``(boxes, scores)`` of the kept boxes.

    ``vote_power`` sharpens the weights (``score ** power``) so that confident boxes dominate the mean.
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
        w = (iou_matrix(kept[start:start + chunk], boxes) >= vote_iou) * weights[None, :]
        voted[start:start + chunk] = (w @ boxes) / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
    return voted.astype(np.float32), scores[keep]


class MultiDetector:
    """Run several detectors with the same label on each image and merge their boxes by NMS (+ voting).

    Used for the plate model at several image sizes; ``conf`` passed to :meth:`detect` reaches every member.
    """

    def __init__(self, members: Sequence, iou: float, vote_iou: float | None = None) -> None:
        if not members:
            raise ValueError("MultiDetector needs at least one detector")
        self.members = list(members)
        self.label = self.members[0].label
        self.iou = float(iou)
        self.vote_iou = vote_iou
        self.conf = float(getattr(self.members[0], "conf", 0.0))

    def _merge(self, parts: list[Detections]) -> Detections:
        dets = Detections.concat(parts)
        if len(dets) == 0:
            return Detections.empty()
        boxes, scores = merge_boxes(dets.boxes, dets.scores, self.iou, self.vote_iou)
        return Detections.from_arrays(boxes, scores, self.label)

    def predict(self, images: list[np.ndarray], conf: float | None = None) -> list[Detections]:
        per_member = [self._call_many(m, images, conf) for m in self.members]
        return [self._merge([p[i] for p in per_member]) for i in range(len(images))]

    @staticmethod
    def _call_many(member, images: list[np.ndarray], conf: float | None) -> list[Detections]:
        kw = {} if conf is None else {"conf": conf}
        if hasattr(member, "predict"):
            return member.predict(images, **kw)
        return [member.detect(im, **kw) for im in images]

    def detect(self, image_bgr: np.ndarray, conf: float | None = None) -> Detections:
        return self.predict([image_bgr], conf=conf)[0]

    __call__ = detect
