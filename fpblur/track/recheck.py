"""Cheap re-checks of carried boxes: where to run a detector on crops between the frames the schedule detects.

Between full frames the tracker carries every box (:class:`fpblur.track.tracker.Tracker`).  A carried box is
only a prediction: an object that turns, stops or speeds up leaves it.  So on every frame without the full
detectors each track's :class:`~fpblur.track.tracker.SearchWindow` (where its object can be by now, given its
speed, a plausible acceleration and the camera's motion) is searched by the detector on a crop, scaled so the
object is about :attr:`RecheckSettings.target_height` pixels tall on the network's input.  A 90 px face in a
300 px window costs about a tenth of a light pass over a 640×360 frame, so a tracked face is detected on every
frame.

:func:`plan_crops` decides what to search: windows of objects already detected on this frame (by the light
passes) and of tracks that cannot have moved enough to matter (:attr:`RecheckSettings.min_urgency`) are skipped,
overlapping windows of one label are searched as one crop, and the most urgent crops are taken first until the
frame's budget (:attr:`RecheckSettings.budget`) is spent; the rest are carried and searched on a later frame.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from fpblur.config.profiles import LightPasses
from fpblur.config.settings import RecheckSettings  # a setting (resolve_config checks it); re-exported here
from fpblur.core.boxes import intersection_over_first
from fpblur.core.detections import Detections
from fpblur.track.tracker import CLAIM_INSIDE, SearchWindow


@dataclass(frozen=True)
class CropPlan:
    """One crop to search: ``box`` (``x0, y0, x1, y1`` whole frame pixels), ``label``, resize ``scale``, the
    ``track_ids`` whose windows it covers and their highest ``urgency``."""

    box: tuple[int, int, int, int]
    label: str
    scale: float
    track_ids: tuple[int, ...]
    urgency: float

    @property
    def cost(self) -> int:
        """Pixels on the network input (sides rounded up to multiples of 32)."""
        x0, y0, x1, y1 = self.box
        w = max(32, math.ceil((x1 - x0) * self.scale / 32) * 32)
        h = max(32, math.ceil((y1 - y0) * self.scale / 32) * 32)
        return w * h

    def input_side(self) -> int:
        """The crop's long side on the network input, rounded up to a multiple of 32 (a single-size backend's
        ``imgsz``)."""
        x0, y0, x1, y1 = self.box
        return max(64, math.ceil(max(x1 - x0, y1 - y0) * self.scale / 32) * 32)


def light_pixels(label: str, width: int, height: int, passes: LightPasses) -> float:
    """Pixels on the network input of ``label``'s light pass over a ``width`` × ``height`` frame: CenterFace's
    passes resize the frame (``0.75`` → 56 % of its pixels), the plate model letterboxes it to its size."""
    if label == "plate":
        side = max(passes.plate_imgsz, default=max(width, height))
        return float(side * side * min(width, height) / max(width, height))
    total = 0.0
    for p in passes.face_passes:
        text = str(p).split("@")[0].strip().lower()
        if text.endswith("px"):
            f = min(1.0, float(text[:-2]) / max(width, height))
        else:
            f = float(text.rstrip("x"))
        total += f * f * width * height
    return total or float(width * height)


def found_windows(windows: Sequence[SearchWindow], dets: Detections) -> list[bool]:
    """Which ``windows`` a detection of ``dets`` already answers, one detection per window.

    A detection can answer a window when it has the window's label, its centre lies inside the window and its
    height is 0.5–2× the object's.  Windows often overlap (two faces passing each other): one detection is one
    object, so each detection answers at most one window - the one whose carried box its centre is nearest to,
    in object heights (an optimal one-to-one assignment: scipy's ``linear_sum_assignment``).  A window left
    unanswered is searched on a crop, even when its object's neighbour was detected inside it.

    Returns:
        One bool per window, in order.
    """
    out = [False] * len(windows)
    if not len(dets) or not windows:
        return out
    b = dets.boxes.astype(np.float64)
    c = (b[:, :2] + b[:, 2:]) / 2
    h = b[:, 3] - b[:, 1]
    cost = np.full((len(windows), len(dets)), np.inf)
    for i, w in enumerate(windows):
        box = w.box
        ok = (dets.labels == w.label) & (c[:, 0] >= box[0]) & (c[:, 0] <= box[2]) & (c[:, 1] >= box[1])
        ok &= c[:, 1] <= box[3]
        ratio = h / max(w.height, 1.0)
        ok &= (ratio > 0.5) & (ratio < 2.0)
        carried = w.carried if w.carried is not None else box
        centre = (carried[:2] + carried[2:]) / 2
        dist = np.linalg.norm(c - centre, axis=1) / max(w.height, 1.0)
        cost[i, ok] = dist[ok]
    usable = np.isfinite(cost)
    if not usable.any():
        return out
    rows, cols = linear_sum_assignment(np.where(usable, cost, 1e9))
    for r, k in zip(rows, cols):
        if usable[r, k]:
            out[int(r)] = True
    return out


def keep_alive_only(dets: Detections, below: Mapping[str, float], where: np.ndarray | None = None) -> Detections:
    """``dets`` with the scores of the boxes ``where`` selects (all when None) lowered to just under their label's
    ``below`` threshold (the tracker's start threshold): such a box keeps a track alive but starts and confirms none.

    Args:
        dets: detections in frame pixels.
        below: per label, the score such boxes must stay under.
        where: N bools, or None for every box.
    """
    if not len(dets):
        return dets
    mask = np.ones(len(dets), bool) if where is None else np.asarray(where, bool)
    cap = np.array([np.nextafter(np.float32(below[str(lab)]), np.float32(0)) for lab in dets.labels], np.float32)
    scores = np.where(mask, np.minimum(dets.scores, cap), dets.scores).astype(dets.scores.dtype)
    return Detections(dets.boxes, scores, dets.labels)


def on_tracked(boxes: np.ndarray, tracked: np.ndarray, share: float = CLAIM_INSIDE) -> np.ndarray:
    """Which ``boxes`` (N×4) lie at least ``share`` inside one of the ``tracked`` boxes (M×4: where the live tracks
    are carried), i.e. show part of an object that is already tracked (as the tracker's claim rule says,
    :data:`~fpblur.track.tracker.CLAIM_INSIDE`).  A box at an edge a crop cut through the picture
    (:func:`fpblur.core.boxes.touching_inner_edges`) that lies on a tracked object is a piece of it: a sliver of a
    tracked face the crop's edge ran through scored 0.51 on the Voila demo's pan clip and started a false track.

    Returns:
        N bools (all False when ``tracked`` is empty).
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    t = np.asarray(tracked, np.float64).reshape(-1, 4)
    if not len(b) or not len(t):
        return np.zeros(len(b), bool)
    return intersection_over_first(b, t).max(axis=1) >= share


def crop_scale(label: str, height: float, settings: RecheckSettings) -> float:
    """The resize factor that shows an object ``height`` pixels tall at the label's target height."""
    target = float(settings.target_height.get(label, 40.0))
    return float(np.clip(target / max(height, 1.0), settings.min_scale, settings.max_scale))


def plan_crops(
    windows: Sequence[SearchWindow], width: int, height: int, settings: RecheckSettings | None = None
) -> list[CropPlan]:
    """Crops that search ``windows``, most urgent first.

    Windows of one label overlapping each other are searched as one crop (their enclosing box) when that
    costs less than searching them apart and their objects' scales are within a factor 2; each crop is grown
    to at least :attr:`RecheckSettings.min_side` network pixels and clipped to the ``width`` × ``height`` frame.

    Returns:
        The crops, most urgent first (no budget applied: see :func:`within_budget`).
    """
    s = settings or RecheckSettings()
    plans: list[CropPlan] = []
    for w in sorted(windows, key=lambda w: -w.urgency):
        box = w.box
        scale = crop_scale(w.label, w.height, s)
        plan = _plan(box, w.label, scale, (w.track_id,), w.urgency, width, height, s)
        for k, other in enumerate(plans):
            if other.label != plan.label or not _overlap(other.box, plan.box):
                continue
            if max(other.scale, plan.scale) > 2 * min(other.scale, plan.scale):
                continue
            merged_box = np.array(
                [
                    min(other.box[0], plan.box[0]),
                    min(other.box[1], plan.box[1]),
                    max(other.box[2], plan.box[2]),
                    max(other.box[3], plan.box[3]),
                ],
                np.float64,
            )
            merged = _plan(
                merged_box,
                plan.label,
                max(other.scale, plan.scale),
                other.track_ids + plan.track_ids,
                max(other.urgency, plan.urgency),
                width,
                height,
                s,
            )
            if merged.cost <= other.cost + plan.cost:
                plans[k] = merged
                break
        else:
            plans.append(plan)
    return sorted(plans, key=lambda p: -p.urgency)


def within_budget(plans: Sequence[CropPlan], pixels: float) -> tuple[list[CropPlan], list[CropPlan]]:
    """Split ``plans`` (most urgent first) into those that fit in ``pixels`` network pixels and the rest."""
    taken: list[CropPlan] = []
    left: list[CropPlan] = []
    spent = 0
    for p in plans:
        if spent + p.cost <= pixels or not taken and not spent:
            taken.append(p)
            spent += p.cost
        else:
            left.append(p)
    return taken, left


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _plan(
    box: np.ndarray,
    label: str,
    scale: float,
    ids: tuple[int, ...],
    urgency: float,
    width: int,
    height: int,
    s: RecheckSettings,
) -> CropPlan:
    x0, y0, x1, y1 = (float(v) for v in box)
    need = s.min_side / scale  # frame pixels for the network's minimum side
    if x1 - x0 < need:
        x0, x1 = (x0 + x1 - need) / 2, (x0 + x1 + need) / 2
    if y1 - y0 < need:
        y0, y1 = (y0 + y1 - need) / 2, (y0 + y1 + need) / 2
    ix0, iy0 = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
    ix1, iy1 = min(width, int(math.ceil(x1))), min(height, int(math.ceil(y1)))
    return CropPlan((ix0, iy0, max(ix1, ix0 + 1), max(iy1, iy0 + 1)), label, scale, ids, urgency)


__all__ = [
    "RecheckSettings",
    "CropPlan",
    "found_windows",
    "crop_scale",
    "on_tracked",
    "keep_alive_only",
    "light_pixels",
    "plan_crops",
    "within_budget",
]
