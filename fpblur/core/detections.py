"""The one value type that flows from detector to tracker to anonymizer: :class:`Detections`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from fpblur.core.boxes import mirror_boxes

LABELS = ("face", "plate")  # every label fpblur knows, in its order of targets


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

    Immutable: every helper returns a new object.  The constructor converts its arguments (any array-likes) to
    the dtypes below; one label given for several boxes is repeated for each.

    Attributes:
        boxes: N×4 float32 ``[x1, y1, x2, y2]`` in pixels of the image they were found in.
        scores: N float32 detector scores (in [0, 1] for fpblur's detectors).
        labels: N strings (``<U8``), ``"face"`` or ``"plate"`` (:data:`LABELS`).
        track_ids: N int64 track ids (-1: no track), or None when the detections come from no tracker.

    Raises:
        ValueError: ``boxes`` is not N×4 (an empty array is 0 boxes), or ``scores``, ``labels`` or
            ``track_ids`` do not have one entry per box.
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
    def empty(cls) -> Detections:
        """No detections (0 boxes, ``track_ids`` None)."""
        return cls()

    @classmethod
    def from_arrays(cls, boxes: np.ndarray | Sequence, scores: np.ndarray | Sequence, label: str) -> Detections:
        """Detections that all carry one label.

        Args:
            boxes: N×4 ``[x1, y1, x2, y2]`` in pixels (any array-like; empty: no boxes).
            scores: N scores.
            label: the label of every box.

        Raises:
            ValueError: ``boxes`` is not N×4, or ``scores`` does not have N entries.
        """
        arr = _as_boxes(boxes)
        return cls(arr, np.asarray(scores, dtype=np.float32), np.full(len(arr), label, dtype="<U8"))

    @classmethod
    def coerce(cls, value: Detections | npt.ArrayLike, label: str = "region") -> Detections:
        """``value`` as :class:`Detections`: itself, or boxes given as an array.

        Args:
            value: a :class:`Detections`, or an N×4 array-like of boxes ``[x1, y1, x2, y2]`` in pixels (a single
                box of 4 numbers is one box; an empty array is no box).
            label: the label given to boxes that come as an array (scores are 1.0).

        Returns:
            ``value`` itself when it already is a :class:`Detections`, else a new one.

        Raises:
            TypeError: ``value`` is neither Detections nor numeric (one line saying what is expected).
            ValueError: an array that is not N×4 (one line with its shape).
        """
        if isinstance(value, Detections):
            return value
        expected = "expected Detections or an N×4 array of [x1, y1, x2, y2] boxes in pixels"
        try:
            arr = np.asarray(value, dtype=np.float32)
        except (TypeError, ValueError):
            raise TypeError(f"{expected}, got {type(value).__name__}") from None
        if arr.size == 0:
            return cls()
        if arr.ndim == 1 and arr.shape[0] == 4:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != 4:
            raise ValueError(f"{expected}, got an array of shape {arr.shape}")
        return cls(arr, np.ones(len(arr), np.float32), np.full(len(arr), label, dtype="<U8"))

    @classmethod
    def concat(cls, parts: Iterable[Detections]) -> Detections:
        """All boxes of ``parts``, in order (boxes of the same image: the caller keeps the pixel frames equal).

        Empty parts are skipped.  When any non-empty part has ``track_ids``, the boxes of those without get -1;
        otherwise the result has none.
        """
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls()
        tids = None
        if any(p.track_ids is not None for p in parts):
            tids = np.concatenate([p.track_ids if p.track_ids is not None else np.full(len(p), -1) for p in parts])
        return cls(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.labels for p in parts]),
            tids,
        )

    # -- basic protocol -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index: int | np.integer | slice | Sequence[int] | np.ndarray) -> Detections:
        """A subset as :class:`Detections`: an integer gives one detection; a slice, index array or boolean mask
        gives those boxes, in that order."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return Detections(
            self.boxes[index],
            self.scores[index],
            self.labels[index],
            None if self.track_ids is None else self.track_ids[index],
        )

    def count(self, label: str) -> int:
        """How many boxes carry ``label``."""
        return int(np.sum(self.labels == label))

    # -- helpers --------------------------------------------------------------------------------
    def filter(
        self,
        mask: np.ndarray | Sequence[bool] | None = None,
        *,
        label: str | None = None,
        min_score: float | None = None,
    ) -> Detections:
        """The boxes passing every condition given, in order.

        Args:
            mask: N booleans (not modified).
            label: keep only this label.
            min_score: keep scores >= this.
        """
        # a copy: ``&=`` below must not change the caller's mask
        keep = np.ones(len(self), dtype=bool) if mask is None else np.array(mask, dtype=bool)
        if label is not None:
            keep &= self.labels == label
        if min_score is not None:
            keep &= self.scores >= min_score
        return self[np.flatnonzero(keep)]

    def scale(self, sx: float, sy: float | None = None) -> Detections:
        """Boxes with x multiplied by ``sx`` and y by ``sy`` (None: ``sx``), e.g. from a resized image's pixels
        to the original's."""
        sy = sx if sy is None else sy
        return self._with_boxes(self.boxes * np.array([sx, sy, sx, sy], dtype=np.float32))

    def shift(self, dx: float, dy: float) -> Detections:
        """Boxes moved by ``dx``, ``dy`` pixels (e.g. from a crop's pixels to the full image's)."""
        return self._with_boxes(self.boxes + np.array([dx, dy, dx, dy], dtype=np.float32))

    def clip(self, width: int, height: int) -> Detections:
        """Boxes clipped to a ``width`` × ``height`` pixel image: x to [0, width], y to [0, height]."""
        b = self.boxes.copy()
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, width)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, height)
        return self._with_boxes(b)

    def pad(
        self, fraction: float | Sequence[float] | np.ndarray, by_width: float | Sequence[float] | np.ndarray = 0.0
    ) -> Detections:
        """Grow each box by ``fraction`` of its width/height on every side (0.18 → 1.36× wide), and by ``by_width``
        of its width more above and below; not clipped.

        Args:
            fraction: one fraction for every box, or N fractions (one per box).
            by_width: one fraction for every box, or N (0: none).
        """
        frac = np.broadcast_to(np.asarray(fraction, dtype=np.float32), (len(self),))
        extra = np.broadcast_to(np.asarray(by_width, dtype=np.float32), (len(self),))
        b = self.boxes
        bw = b[:, 2] - b[:, 0]
        w = bw * frac
        h = (b[:, 3] - b[:, 1]) * frac + bw * extra
        return self._with_boxes(np.stack([b[:, 0] - w, b[:, 1] - h, b[:, 2] + w, b[:, 3] + h], axis=1))

    def mirrored(self, width: int) -> Detections:
        """These boxes, found on a horizontally mirrored image ``width`` pixels wide, mapped back onto the
        original (:func:`~fpblur.core.boxes.mirror_boxes`); scores, labels and track ids unchanged."""
        return self._with_boxes(mirror_boxes(self.boxes, width))

    def drop_degenerate(self, min_size: float = 1.0) -> Detections:
        """The boxes at least ``min_size`` pixels wide and high."""
        wh = self.boxes[:, 2:] - self.boxes[:, :2]
        return self.filter((wh >= min_size).all(axis=1))

    def with_track_ids(self, ids: np.ndarray | Sequence[int] | None) -> Detections:
        """The same boxes with these N track ids (-1: no track; None: drop them).

        Raises:
            ValueError: ``ids`` does not have one entry per box.
        """
        return Detections(self.boxes, self.scores, self.labels, None if ids is None else np.asarray(ids))

    def _with_boxes(self, boxes: np.ndarray) -> Detections:
        return Detections(boxes.astype(np.float32), self.scores, self.labels, self.track_ids)

    @property
    def areas(self) -> np.ndarray:
        """N float32 box areas in square pixels (a negative width or height counts as 0)."""
        wh = (self.boxes[:, 2:] - self.boxes[:, :2]).clip(min=0)
        return wh[:, 0] * wh[:, 1]

    def to_records(self, regions: Detections | None = None) -> list[dict]:
        """JSON-ready list of dicts, one per box, in order.

        Args:
            regions: the areas actually anonymized for these boxes (same order, e.g. the padded boxes of
                :meth:`fpblur.redact.anonymizer.Anonymizer.regions`), recorded as ``region``.

        Returns:
            ``{"box": [x1, y1, x2, y2], "score": s, "label": "face"}``, plus ``"track_id"`` (int) when
            :attr:`track_ids` is set and ``"region"`` (``[x1, y1, x2, y2]``) when ``regions`` is given.  Boxes and
            regions are in pixels rounded to 2 decimals; scores are rounded to 4 decimals.

        Raises:
            IndexError: ``regions`` has fewer boxes than this.
        """
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
