"""The one value type that flows from detector to tracker to anonymizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

LABELS = ("face", "plate")


def _as_boxes(boxes) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float32)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float32)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must be N x 4, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class Detections:
    """N boxes ``[x1, y1, x2, y2]`` in original-image pixels, with scores, labels and optional track ids.

    Immutable: every helper returns a new object.  ``track_ids`` uses -1 for "no track".
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    labels: np.ndarray = field(default_factory=lambda: np.zeros((0,), dtype="<U8"))
    track_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        boxes = _as_boxes(self.boxes)
        n = len(boxes)
        scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        labels = np.asarray(self.labels, dtype="<U8").reshape(-1)
        if labels.size == 1 and n > 1:
            labels = np.repeat(labels, n)
        if len(scores) != n or len(labels) != n:
            raise ValueError(f"Detections: {n} boxes but {len(scores)} scores and {len(labels)} labels")
        tids = None
        if self.track_ids is not None:
            tids = np.asarray(self.track_ids, dtype=np.int64).reshape(-1)
            if len(tids) != n:
                raise ValueError(f"Detections: {n} boxes but {len(tids)} track ids")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "scores", scores)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "track_ids", tids)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> "Detections":
        return cls()

    @classmethod
    def from_arrays(cls, boxes, scores, label: str) -> "Detections":
        boxes = _as_boxes(boxes)
        return cls(boxes, scores, np.full(len(boxes), label, dtype="<U8"))

    @classmethod
    def concat(cls, parts: Iterable["Detections"]) -> "Detections":
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        tids = None
        if any(p.track_ids is not None for p in parts):
            tids = np.concatenate(
                [p.track_ids if p.track_ids is not None else np.full(len(p), -1) for p in parts]
            )
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.labels for p in parts]),
            tids,
        )

    # -- basic protocol -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index) -> "Detections":
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            self.boxes[index],
            self.scores[index],
            self.labels[index],
            None if self.track_ids is None else self.track_ids[index],
        )

    def count(self, label: str) -> int:
        return int(np.sum(self.labels == label))

    # -- helpers --------------------------------------------------------------------------------
    def filter(self, mask=None, *, label: str | None = None, min_score: float | None = None) -> "Detections":
        # a copy: ``&=`` below must not change the caller's mask
        keep = np.ones(len(self), dtype=bool) if mask is None else np.array(mask, dtype=bool)
        if label is not None:
            keep &= self.labels == label
        if min_score is not None:
            keep &= self.scores >= min_score
        return self[np.flatnonzero(keep)]

    def scale(self, sx: float, sy: float | None = None) -> "Detections":
        sy = sx if sy is None else sy
        return self._with_boxes(self.boxes * np.array([sx, sy, sx, sy], dtype=np.float32))

    def shift(self, dx: float, dy: float) -> "Detections":
        return self._with_boxes(self.boxes + np.array([dx, dy, dx, dy], dtype=np.float32))

    def clip(self, width: int, height: int) -> "Detections":
        b = self.boxes.copy()
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, width)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, height)
        return self._with_boxes(b)

    def pad(self, fraction: float | Sequence[float]) -> "Detections":
        """Grow each box by ``fraction`` of its width/height on every side (0.18 → 1.36× wide)."""
        frac = np.broadcast_to(np.asarray(fraction, dtype=np.float32), (len(self),))
        b = self.boxes
        w = (b[:, 2] - b[:, 0]) * frac
        h = (b[:, 3] - b[:, 1]) * frac
        return self._with_boxes(np.stack([b[:, 0] - w, b[:, 1] - h, b[:, 2] + w, b[:, 3] + h], axis=1))

    def drop_degenerate(self, min_size: float = 1.0) -> "Detections":
        wh = self.boxes[:, 2:] - self.boxes[:, :2]
        return self.filter((wh >= min_size).all(axis=1))

    def with_track_ids(self, ids) -> "Detections":
        return Detections(self.boxes, self.scores, self.labels, ids)

    def _with_boxes(self, boxes: np.ndarray) -> "Detections":
        return Detections(boxes.astype(np.float32), self.scores, self.labels, self.track_ids)

    @property
    def areas(self) -> np.ndarray:
        wh = (self.boxes[:, 2:] - self.boxes[:, :2]).clip(min=0)
        return wh[:, 0] * wh[:, 1]

    def to_records(self, regions: "Detections | None" = None) -> list[dict]:
        """JSON-ready list of dicts (``box``, ``score``, ``label``, optional ``track_id`` and ``region``)."""
        out = []
        for i in range(len(self)):
            rec = {
                "box": [round(float(v), 2) for v in self.boxes[i]],
                "score": round(float(self.scores[i]), 4),
                "label": str(self.labels[i]),
            }
            if self.track_ids is not None:
                rec["track_id"] = int(self.track_ids[i])
            if regions is not None:
                rec["region"] = [round(float(v), 2) for v in regions.boxes[i]]
            out.append(rec)
        return out
