"""Frame-to-frame tracking of detections, so that anonymization does not flicker or pop in.

:class:`Tracker` matches each frame's detections to tracks (IoU, Hungarian assignment through scipy's
``linear_sum_assignment``, per label) and decides what to anonymize:

* **Hysteresis and evidence** — a detection scoring at least ``conf`` starts a track, anonymized from that
  frame on.  A track is *confirmed* by one detection at ``confirm_conf`` (conf + 0.3) or by a second one at
  conf + ``evidence_margin`` on a frame the full detectors ran on; detections between ``conf_low`` and ``conf``
  keep confirmed tracks alive, while an unconfirmed one ends ``hold`` frames after its last detection at
  ``conf`` (false positives on car grilles and buildings flicker around the threshold).
* **Matching** — IoU with the track's predicted box; small, fast objects whose boxes no longer overlap
  still match when their centres are within ``max_distance`` box diagonals and their sizes are similar, and so
  does a detection of similar size anywhere in the track's search window (:meth:`Tracker.windows`: where the
  object can be after a sudden turn or start).  A second box of a tracked object (half a face, another pass's
  box) starts no track but is anonymized with it.
* **Smoothing** — a track's box is an exponential moving average of its detections.  The region
  anonymized on a frame with a detection is the union of the smoothed box and the detection itself, so
  smoothing can never uncover part of a face.  A box shrinks at most ``max_shrink`` per frame, and not at
  all while its detection touches the picture's border (a face leaving the picture is detected smaller
  than it is).
* **Hold and motion uncertainty** — a track that loses its detection stays anonymized for ``hold`` frames at
  its last box, moved by its velocity (``velocity=True``, measured on the raw detections so it follows turns)
  and grown by ``grow`` per missed frame (up to ``max_grow``), and at its last detection moved by the velocity
  and grown by :meth:`Tracker.margin`: the speed's error, a plausible acceleration (``accel`` box heights per
  frame²) over the frames since, and the camera motion's residual.
* **Search windows** — :meth:`Tracker.windows` says where each object can be on the next frame, so that the
  video runner can re-check carried boxes with a detector on crops (:mod:`fpblur.track.recheck`).
* Track ids are small integers, stable for the life of a track, reported in ``Detections.track_ids``.

``Tracker.update(detections) -> Detections`` (the frame's regions, with track ids) is the whole per-frame
interface; afterwards :attr:`Tracker.started` holds the tracks born on that frame, :attr:`Tracker.bridges`
the tracks matched again after a gap and :attr:`Tracker.confirmed` the tracks confirmed on it.

:class:`Lookahead` delays frames by ``K`` so that when a track starts at frame ``t`` the frames
``t-K … t-1`` are anonymized at its first box too (no pop-in before the first detection), and when a track is
matched again after frames without a detection, those frames also get the box interpolated between the two
detections (:class:`Bridge`).  It hands each frame back with its final regions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np
from scipy.optimize import linear_sum_assignment

from fpblur.config.settings import TrackerConfig
from fpblur.core.boxes import intersection_over_first, iou_matrix, transform_boxes
from fpblur.core.detections import Detections

MAX_REACH = 1.5  # the centre-distance gate grows with √(frames since the last match), up to this factor


def hold_frames(seconds: float, fps: float) -> int:
    """Frames in ``seconds`` of a video at ``fps`` frames per second (0 fps: 25 assumed).

    Returns:
        ``round(seconds × fps)``, at least 1 when ``seconds`` > 0; 0 when ``seconds`` <= 0.
    """
    if seconds <= 0:
        return 0
    return max(1, int(round(seconds * (fps or 25.0))))


def grow_box(box: np.ndarray, fraction: float) -> np.ndarray:
    """``box`` (``[x1, y1, x2, y2]``) grown by ``fraction`` of its width/height on every side."""
    w, h = box[2] - box[0], box[3] - box[1]
    return box + np.array([-w, -h, w, h]) * fraction


@dataclass
class Track:
    """One tracked object (mutable; owned by :class:`Tracker`).

    Attributes:
        id: its track id (small, unique per video).
        label: ``"face"`` or ``"plate"``.
        box: smoothed ``[x1, y1, x2, y2]`` at the last matched detection, float64 frame pixels.
        score: score of the last matched detection.
        velocity: motion of the object per frame, pixels (x1, y1, x2, y2), from its raw detections (lightly
            smoothed).
        misses: frames since the last matched detection.
        hits: detections matched so far.
        age: frames since the track started.
        region: the area anonymized at the last match (smoothed box ∪ raw detection).
        det: the last matched raw detection (moved with the camera since), float64 pixels.
        drift: camera-motion uncertainty gathered since the last match, pixels (:meth:`Tracker.update`).
        confirmed: whether the track has shown enough evidence to outlive ``hold`` (:class:`TrackerConfig`).
        strong: detections that count as evidence matched so far (counting the first; see
            :meth:`TrackerConfig.evidence_threshold`).
        start: the frame it started on.
        first: its first detected box, float64 pixels (what the look-ahead back-fills before it).
        last_strong: the last frame it was matched by a detection at the start threshold (an unconfirmed track
            ends ``hold`` frames after it).
    """

    id: int
    label: str
    box: np.ndarray  # smoothed box at the last matched detection (float64)
    score: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4))
    misses: int = 0  # frames since the last matched detection
    hits: int = 1
    age: int = 1
    region: np.ndarray | None = None  # area anonymized at the last match (smoothed box ∪ raw detection)
    det: np.ndarray | None = None  # last raw detection, moved with the camera
    drift: float = 0.0  # camera-motion uncertainty since the last match, pixels
    confirmed: bool = True
    strong: int = 1
    start: int = 0
    last_strong: int = 0
    first: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.first is None:
            self.first = self.box.copy()
        if self.region is None:
            self.region = self.box.copy()
        if self.det is None:
            self.det = self.box.copy()

    def predicted(self, steps: int, use_velocity: bool) -> np.ndarray:
        """Box (``[x1, y1, x2, y2]``, float64 pixels) expected ``steps`` frames after the last detection: moved by
        the velocity when ``use_velocity``, else the last box (a copy)."""
        return self.box + self.velocity * steps if use_velocity else self.box.copy()

    @property
    def speed(self) -> float:
        """How fast the object's centre moves, pixels per frame."""
        v = self.velocity
        return float(np.hypot((v[0] + v[2]) / 2, (v[1] + v[3]) / 2))

    @property
    def height(self) -> float:
        """The height of its last raw detection, pixels (at least 1)."""
        assert self.det is not None  # set by __post_init__
        return max(1.0, float(self.det[3] - self.det[1]))


@dataclass(frozen=True)
class Bridge:
    """A track matched again after ``gap`` frames without a detection (missed, or frames the video schedule
    ran no detector on): its region at the last match and its region now, to interpolate over the gap.

    Attributes:
        gap: frames without a detection between the two matches.
        start, end: the track's region (``[x1, y1, x2, y2]``, pixels) at the last match and at the re-match.
        score, label, track_id: the track's score at the re-match, label and id.
    """

    gap: int
    start: np.ndarray
    end: np.ndarray
    score: float
    label: str
    track_id: int

    def box(self, back: int) -> np.ndarray:
        """Linearly interpolated box ``back`` frames (1 … gap) before the re-match."""
        f = back / (self.gap + 1)
        return self.end + (self.start - self.end) * f


@dataclass(frozen=True)
class Backfill:
    """A new track's first velocity (its second detection, ``since`` frames after its first): where its object was
    on the frames before its first detection, assuming it moved at that velocity, for :class:`Lookahead` to
    back-fill.  A fast object first detected late (it became detectable, or only a cheap pass ran) was not near
    its first box before: the static back-fill misses it.

    Attributes:
        since: frames from the track's first detection to the one that gave its velocity (at least 1).
        first: its first detected box ``[x1, y1, x2, y2]``, pixels.
        velocity: pixels per frame of ``x1, y1, x2, y2``.
        margin: pixels per side per frame back: the velocity's error (``speed_margin`` × its speed).
        score, label, track_id: the track's score, label and id.
        frame: the picture's ``(width, height)`` in pixels (None: unknown): boxes are clipped to it (before the
            anonymizer pads the region by a share of its size), so that a box mostly outside the picture does not
            inflate its frames' regions.
        max_margin: the most the margin grows, pixels per side (the tracker's ``max_margin`` object heights, as
            for carried boxes).
    """

    since: int
    first: np.ndarray
    velocity: np.ndarray
    margin: float
    score: float
    label: str
    track_id: int
    frame: tuple[int, int] | None = None
    max_margin: float = float("inf")

    def box(self, back: int) -> np.ndarray:
        """The box ``back`` frames (>= 1) before the first detection: the first box moved back by the velocity of
        its centre, grown by the margin.  Its size is the first box's: a change of size between two detections
        (an object coming in through the picture's border, a zoom) extrapolated backwards would shrink or invert
        the box, and the object was not larger before, only elsewhere."""
        m = min(self.margin * back, self.max_margin)
        shift = (self.velocity[:2] + self.velocity[2:]) / 2 * back
        box = self.first - np.concatenate([shift, shift]) + np.array([-m, -m, m, m])
        if self.frame is not None:
            box = np.clip(box, 0.0, np.array([*self.frame, *self.frame], np.float64))
        return box

    def inside(self, back: int) -> bool:
        """Whether :meth:`box` ``back`` frames before the first detection has any area (in the picture)."""
        b = self.box(back)
        return bool(b[2] > b[0] and b[3] > b[1])


@dataclass(frozen=True)
class SearchWindow:
    """Where a track's object can be on the next frame, for a cheap re-check by a detector (:meth:`Tracker.windows`).

    Attributes:
        box: ``[x1, y1, x2, y2]`` frame pixels (float64, clipped to the frame when its size is known).
        label: the track's label.  track_id: its id.
        height: the object's expected height in pixels (sets the scale a detector should look at).
        urgency: how far the object may have moved from where it is carried, in object heights: windows are
            searched most urgent first.
        carried: where the track carries its box on that frame (``[x1, y1, x2, y2]``, unclipped; None: unknown):
            of two detections in the window, the one nearer to it is this object's.
    """

    box: np.ndarray
    label: str
    track_id: int
    height: float
    urgency: float
    carried: np.ndarray | None = None


def _no_tracks() -> Detections:
    return Detections(track_ids=np.zeros((0,), np.int64))


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([np.minimum(a[:2], b[:2]), np.maximum(a[2:], b[2:])])


class Tracker:
    """Stateful per-video tracker.  Call :meth:`update` once per frame, in order.

    Attributes:
        started: after :meth:`update`, the first boxes of the tracks born on that frame (with track ids; what
            :class:`Lookahead` back-fills into earlier frames).
        backfills: after :meth:`update`, the tracks whose velocity that frame measured first (their second
            detection): where they were before their first detection (:class:`Backfill`).
        bridges: after :meth:`update`, the tracks matched again on that frame after frames without a detection.
        confirmed: after :meth:`update`, the tracks confirmed on that frame (labels and ids, as :class:`Detections`).
        ended_unconfirmed: tracks ended so far without having been confirmed, per label.
        tracks: the live tracks.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.tracks: list[Track] = []
        self.next_id = 0
        self.frame = -1
        self.started: Detections = _no_tracks()
        self.bridges: list[Bridge] = []
        self.backfills: list[Backfill] = []
        self.confirmed: Detections = _no_tracks()
        self.ended_unconfirmed: dict[str, int] = {}

    def max_relative_speed(self) -> float:
        """How fast the fastest live track moves: its centre velocity in box heights per frame (0.0 with no
        track).  The video runner uses it to detect more often while objects move fast (see
        :attr:`fpblur.config.settings.VideoSettings.fast_motion`)."""
        return max((t.speed / t.height for t in self.tracks), default=0.0)

    # -- motion uncertainty ------------------------------------------------------------------------
    def margin(self, t: Track, steps: int, speed: float | None = None) -> float:
        """How far (pixels, per side) ``t``'s object may be from its extrapolated box ``steps`` frames after its
        last detection: speed × ``speed_margin`` × steps + ``accel`` × height × steps² / 2 + camera drift, capped
        at ``max_margin`` heights.  0 without the motion model (``velocity=False``).

        Args:
            t: the track.  steps: frames since its last detection.
            speed: pixels per frame to assume instead of the track's own speed.
        """
        cfg = self.config
        if not cfg.velocity or steps <= 0:
            return 0.0
        v = t.speed if speed is None else speed
        m = cfg.speed_margin * v * steps + 0.5 * cfg.accel * t.height * steps * steps + t.drift
        return float(min(m, cfg.max_margin * t.height))

    def carried(self, t: Track, steps: int, speed: float | None = None) -> np.ndarray:
        """Where to anonymize ``t`` ``steps`` frames after its last detection (float64 ``[x1, y1, x2, y2]``).

        The held box (the smoothed box moved by the velocity, grown by ``grow`` per frame up to ``max_grow``);
        with the motion model, also the last raw detection moved by the velocity and grown by :meth:`margin` (an
        error in the velocity, a turn, braking or speeding up at a plausible acceleration; ``speed``: see there).
        """
        cfg = self.config
        held = grow_box(t.predicted(steps, cfg.velocity), min(cfg.grow * steps, cfg.max_grow))
        if not cfg.velocity:
            return held
        assert t.det is not None  # set by Track.__post_init__
        m = self.margin(t, steps, speed)
        return _union(held, t.det + t.velocity * steps + np.array([-m, -m, m, m]))

    def windows(
        self, motion: np.ndarray | None = None, width: int | None = None, height: int | None = None
    ) -> list[SearchWindow]:
        """Where each live track's object can be on the next frame (before :meth:`update` of that frame).

        Args:
            motion: the camera's 2×3 transform from the previous frame to the next one (None: none/unknown).
            width, height: the frame size in pixels (windows are clipped to it).

        Returns:
            One :class:`SearchWindow` per track: its carried box for the next frame grown per side by ``search`` ×
            the object's height plus how far it could have got at its speed or after a sudden start or turn at
            ``jump`` box heights per frame (the matching gate of :meth:`update` too).  Windows of tracks seen once
            (no speed yet) are urgent.
        """
        out = []
        for t in self.tracks:
            box, carried = self._window(t, motion, with_carried=True)
            if width is not None and height is not None:
                box = np.clip(box, 0, [width, height, width, height])
                if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                    continue
            speed = self._window_speed(t) if t.hits == 1 else t.speed  # seen once: speed unknown
            urgency = (self.margin(t, t.misses + 1, speed) + speed) / t.height
            size = max(t.height, float(t.box[3] - t.box[1]))  # a partial detection is smaller than its object
            out.append(SearchWindow(box, t.label, t.id, size, float(urgency), carried))
        return out

    def _window_speed(self, t: Track) -> float:
        """How fast a search window allows the object to have moved, pixels per frame: its own speed, or a sudden
        start or turn at ``jump`` box heights per frame when that is more."""
        return max(t.speed, self.config.jump * t.height) if self.config.velocity else t.speed

    def _window(self, t: Track, motion: np.ndarray | None = None, with_carried: bool = False):
        """``t``'s search window on the next frame (and, ``with_carried``, its carried box there too)."""
        saved = (t.box, t.det, t.region)
        if motion is not None:
            moved = transform_boxes(np.array([t.box, t.det, t.region]), motion)
            t.box, t.det, t.region = moved[0], moved[1], moved[2]
        try:
            # beyond the carried box: a margin for the detector, and room for a turn back at full speed
            reach = self.config.search * t.height + self._window_speed(t) * (t.misses + 1)
            carried = self.carried(t, t.misses + 1)
            window = carried + np.array([-reach, -reach, reach, reach])
            return (window, carried) if with_carried else window
        finally:
            t.box, t.det, t.region = saved

    # -- per frame ---------------------------------------------------------------------------------
    def update(
        self,
        dets: Detections,
        width: int | None = None,
        height: int | None = None,
        motion: np.ndarray | None = None,
        drift: float = 0.0,
        evidence: bool = True,
    ) -> Detections:
        """Match one frame's detections to the tracks and say what to anonymize on it.

        Args:
            dets: the frame's detections (boxes in its pixels); those under their label's keep threshold
                (:meth:`TrackerConfig.keep`) are ignored.
            width, height: the frame's size in pixels (enables the border rules and drops tracks that left the
                picture); None: unknown.
            motion: the camera's 2×3 transform from the previous frame to this one
                (:class:`fpblur.track.motion.CameraMotion`); every track's box is moved by it first, so held
                boxes follow the picture and velocities only describe the objects' own motion.
            drift: how uncertain that camera motion is, in pixels (its residual, or how far the picture moved
                when no motion could be fitted): added to the uncertainty of every box carried on this frame.
            evidence: whether detections at the start threshold on this frame count towards confirming a track
                (the video runner: frames the full detectors ran on; cheaper passes only keep tracks alive, though
                one detection at ``confirm_conf`` confirms from any pass).

        Returns:
            The regions to anonymize on this frame, one per live track (matched, started or held): N×4 boxes
            ``x1, y1, x2, y2`` in frame pixels, the track's latest score, its label and ``track_ids``.  The tracks
            born on this frame are also in :attr:`started`, re-matched ones in :attr:`bridges`, newly confirmed
            ones in :attr:`confirmed`.
        """
        cfg = self.config
        self.frame += 1
        for t in [t for t in self.tracks if not t.confirmed and self.frame - t.last_strong > cfg.hold]:
            # no second detection, no high score: weaker detections do not keep a likely false positive alive
            self.ended_unconfirmed[t.label] = self.ended_unconfirmed.get(t.label, 0) + 1
            self.tracks.remove(t)
        if motion is not None and self.tracks:
            moved = transform_boxes(np.array([b for t in self.tracks for b in (t.box, t.det, t.region)]), motion)
            for k, t in enumerate(self.tracks):
                t.box, t.det, t.region = moved[3 * k], moved[3 * k + 1], moved[3 * k + 2]
        dets = cfg.keep(dets)
        active_boxes: list[np.ndarray] = []
        active_meta: list[tuple[float, str, int]] = []
        started: list[Track] = []
        confirmed: list[Track] = []
        bridges: list[Bridge] = []
        backfills: list[Backfill] = []
        matched_tracks: set[int] = set()
        cover: dict[int, list[np.ndarray]] = {}  # track id → detections of its object that it did not match
        for label in sorted(set(map(str, dets.labels)) | {t.label for t in self.tracks}):
            tracks = [t for t in self.tracks if t.label == label]
            idx = np.flatnonzero(dets.labels == label)
            boxes = dets.boxes[idx].astype(np.float64)
            scores = dets.scores[idx]
            pairs = self._match(tracks, boxes, width, height)
            used = set()
            for ti, di in pairs:
                t = tracks[ti]
                assert t.region is not None  # set by Track.__post_init__
                gap, last_region = t.misses, t.region.copy()
                was = t.confirmed
                # the first velocity back-fills the frames before the first detection, unless the picture's border
                # cut that detection: the object was coming in through the border (its earlier frames showed less of
                # it, at the border: the static back-fill), and the cut box's motion is not the object's
                first_velocity = t.hits == 1 and cfg.velocity
                assert t.first is not None  # set by Track.__post_init__
                first_velocity &= width is None or height is None or not touches_border(t.first, width, height)
                carried = self.carried(t, t.misses + 1)
                # (a detection the picture's border cuts is small because its object is leaving: the border
                # rules keep the box's size, and the object is not elsewhere)
                partial = is_fragment(boxes[di], t.box, PARTIAL) and not (
                    width is not None and height is not None and touches_border(boxes[di], width, height)
                )
                self._correct(t, boxes[di], float(scores[di]), width, height, evidence)
                # (from a detection at the start threshold, or one overlapping the first box: a weak match far away
                # may be clutter, and the velocity to it would back-fill boxes across the picture)
                first_velocity &= bool(scores[di] >= cfg.start_threshold(label)) or _overlaps(t.first, boxes[di])
                if first_velocity and self.frame > t.start:
                    backfills.append(
                        Backfill(
                            self.frame - t.start,
                            t.first.copy(),
                            t.velocity.copy(),
                            cfg.speed_margin * t.speed,
                            t.score,
                            label,
                            t.id,
                            None if width is None or height is None else (width, height),
                            cfg.max_margin * t.height,
                        )
                    )
                if t.confirmed and not was:
                    confirmed.append(t)
                matched_tracks.add(t.id)
                used.add(di)
                # Union with the raw detection: smoothing must never uncover part of the object.
                region = _union(t.box, boxes[di])
                if partial:
                    # a detection much smaller than the object (a piece of it, or the detector seeing less of it)
                    # says it is still there, not where the rest of it is: that lies where the motion model allows
                    # (the box carried to this frame)
                    region = _union(region, carried)
                t.region = region
                active_boxes.append(region)
                active_meta.append((t.score, label, t.id))
                if gap:
                    bridges.append(Bridge(gap, last_region, region, t.score, label, t.id))
            all_boxes = np.array([t.predicted(t.misses + 1, cfg.velocity) for t in tracks]).reshape(-1, 4)
            all_ids = [t.id for t in tracks]
            for di in range(len(boxes)):
                if di in used:
                    continue
                overlap = iou_matrix(boxes[di : di + 1], all_boxes)[0] if len(all_boxes) else np.zeros(0)
                if len(overlap) and overlap.max() < cfg.duplicate_iou:
                    # a box lying inside a tracked one is part of that object too (half a face)
                    inside = intersection_over_first(boxes[di : di + 1], all_boxes)[0]
                    overlap = np.where(inside >= 0.9, np.maximum(overlap, cfg.duplicate_iou), overlap)
                if len(overlap) and overlap.max() >= cfg.duplicate_iou:
                    # a second box of an object already tracked (a partial view, another pass): no new track,
                    # but what was detected is anonymized with that track
                    cover.setdefault(all_ids[int(overlap.argmax())], []).append(boxes[di])
                    continue
                if scores[di] < cfg.start_threshold(label):
                    if len(all_boxes):
                        # too weak to start a track, but on a tracked object (a window match it could not be, as
                        # another track's object claims it: :func:`_claimed_by_other`): anonymized with that track
                        claim = _claims(all_boxes, boxes[di : di + 1])[:, 0]
                        if claim.any():
                            near = iou_matrix(boxes[di : di + 1], all_boxes)[0] + claim
                            cover.setdefault(all_ids[int(near.argmax())], []).append(boxes[di])
                    continue
                sure = bool(scores[di] >= cfg.confirm_threshold(label)) or cfg.confirm_hits <= 1
                t = Track(
                    self.next_id,
                    label,
                    boxes[di].copy(),
                    float(scores[di]),
                    confirmed=sure,
                    start=self.frame,
                    last_strong=self.frame,
                )
                self.next_id += 1
                self.tracks.append(t)
                matched_tracks.add(t.id)
                started.append(t)
                if sure:
                    confirmed.append(t)
                active_boxes.append(t.box.copy())
                active_meta.append((t.score, label, t.id))
                all_boxes = np.vstack([all_boxes, t.box[None]])
                all_ids.append(t.id)
        survivors = []
        for t in self.tracks:
            t.age += 1
            if t.id in matched_tracks:
                survivors.append(t)
                continue
            t.misses += 1
            t.drift += drift
            if t.misses > cfg.hold:
                continue
            box = grow_box(t.predicted(t.misses, cfg.velocity), min(cfg.grow * t.misses, cfg.max_grow))
            if width is not None and height is not None and _outside(box, width, height):
                continue  # moved out of the picture: nothing left to hide
            survivors.append(t)
            active_boxes.append(self.carried(t, t.misses))
            active_meta.append((t.score, t.label, t.id))
        self.tracks = survivors
        for k, (_, _, tid) in enumerate(active_meta):
            for extra in cover.get(tid, ()):
                active_boxes[k] = _union(active_boxes[k], extra)
        self.started = _detections([t.box for t in started], [(t.score, t.label, t.id) for t in started])
        self.confirmed = _detections([t.box for t in confirmed], [(t.score, t.label, t.id) for t in confirmed])
        self.bridges = bridges
        self.backfills = backfills
        return _detections(active_boxes, active_meta)

    def _match(
        self, tracks: list[Track], boxes: np.ndarray, width: int | None = None, height: int | None = None
    ) -> list[tuple[int, int]]:
        if not tracks or not len(boxes):
            return []
        cfg = self.config
        predicted = np.array([t.predicted(t.misses + 1, cfg.velocity) for t in tracks])
        # An object can move further the more frames passed since its last detection (missed frames, or
        # frames the video schedule ran no detector on): the centre-distance gate grows with them.
        # The growth is capped: a gate that is too wide joins different objects (and a bridge between them
        # would span the picture).
        reach = cfg.max_distance * np.minimum(np.sqrt([t.misses + 1.0 for t in tracks]), MAX_REACH)
        sim = match_similarity(predicted, boxes, cfg.iou, reach)
        if cfg.velocity:
            # ... and a detection of similar size inside the track's search window (where the motion model says
            # the object can be: a fast object that turned or stopped) matches weakly, nearer ones preferred
            win = np.array([self._window(t) for t in tracks])
            centres = (boxes[:, :2] + boxes[:, 2:]) / 2
            inside = (
                (centres[None, :, 0] >= win[:, None, 0])
                & (centres[None, :, 0] <= win[:, None, 2])
                & (centres[None, :, 1] >= win[:, None, 1])
                & (centres[None, :, 1] <= win[:, None, 3])
            )
            heights = np.array([t.height for t in tracks])
            ratio = (boxes[None, :, 3] - boxes[None, :, 1]) / heights[:, None]
            inside &= (ratio > 0.5) & (ratio < 2.0)
            # ... of similar width too: a plate-high piece of clutter next to a plate is not the plate (unless the
            # picture's border cuts the detection: then its width says nothing)
            widths = np.array([max(float(t.box[2] - t.box[0]), 1.0) for t in tracks])
            wratio = (boxes[None, :, 2] - boxes[None, :, 0]) / widths[:, None]
            cut = np.zeros(len(boxes), bool)
            if width is not None and height is not None:
                cut = np.array([touches_border(b, width, height) for b in boxes], bool)
            inside &= ((wratio > 0.5) & (wratio < 2.0)) | cut[None, :]
            # ... unless the detection lies on another track's object (another crop's or pass's box of that face):
            # a weak window match must not hand a neighbour's detection to a track that lost its own (it would
            # confirm a false track, or pull the track's box onto the neighbour)
            inside &= ~_claimed_by_other(predicted, boxes)
            span = np.maximum(win[:, 2:] - win[:, :2], 1e-6).max(axis=1)
            dist = np.linalg.norm(((win[:, None, :2] + win[:, None, 2:]) / 2) - centres[None], axis=2) / span[:, None]
            gate = np.where(inside, 1e-7 * (1.0 - dist).clip(0) + 1e-9, 0.0)
            sim = np.where(sim > 0, sim, gate)
        rows, cols = linear_sum_assignment(-sim)
        return [(int(r), int(c)) for r, c in zip(rows, cols) if sim[r, c] > 0]

    def _correct(
        self, t: Track, box: np.ndarray, score: float, width: int | None, height: int | None, evidence: bool = True
    ) -> None:
        cfg = self.config
        steps = t.misses + 1
        prediction = t.predicted(steps, cfg.velocity)
        # A detector sees only part of an object leaving the picture (or partly hidden) and reports a
        # smaller box; the object did not shrink.  Limit how fast a track's box may shrink, and do not let
        # it shrink at all while its detection touches the picture's border.
        at_border = width is not None and height is not None and touches_border(box, width, height)
        if not at_border and is_fragment(box, t.box):
            # a piece of the object (half a plate, part of a face): it says the object is still there, not where
            # its centre went; keep the predicted box, grown to include the piece, and the velocity as it was
            t.box = _union(prediction, box)
            t.det = t.box.copy()
        else:
            new_box = cfg.smooth * box + (1.0 - cfg.smooth) * prediction
            new_box = limit_shrink(new_box, t.box, 0.0 if at_border else cfg.max_shrink)
            assert t.det is not None  # set by Track.__post_init__
            v = (box - t.det) / steps  # from the raw detections: smoothing would make it lag behind a turn
            if at_border and width is not None and height is not None:
                # a side clipped by the border does not move with its object: use the opposite side's motion
                v = border_velocity(v, box, width, height)
            # the centre moves as the raw detections do; the size changes as the (shrink-limited) box does, since
            # a partly hidden object is detected smaller than it is
            centre = (v[:2] + v[2:]) / 2
            half = ((new_box[2:] - new_box[:2]) - (t.box[2:] - t.box[:2])) / (2 * steps)
            v = np.concatenate([centre - half, centre + half])
            a = 1.0 if t.hits == 1 else cfg.velocity_smooth  # the first estimate is taken as it is
            t.velocity = a * v + (1.0 - a) * t.velocity
            t.box = new_box
            t.det = box.copy()
        t.score = score
        t.misses = 0
        t.drift = 0.0
        t.hits += 1
        if score >= cfg.start_threshold(t.label):
            t.last_strong = self.frame
        if evidence and score >= cfg.evidence_threshold(t.label):
            t.strong += 1
        if t.strong >= cfg.confirm_hits or score >= cfg.confirm_threshold(t.label):
            t.confirmed = True


#: A detection narrower or lower than this share of its track's box is a piece of the object (:func:`is_fragment`).
FRAGMENT = 0.6
#: A detection narrower or lower than this share of its track's box may not show all of the object: the frame's
#: region also covers the box carried to it (where the motion model says the object is).
PARTIAL = 0.75


#: A detection overlapping another track's predicted box this much (IoU), or lying this much inside it, belongs to
#: that track's object as far as search-window matches go (:func:`_claimed_by_other`).
CLAIM_IOU = 0.2
CLAIM_INSIDE = 0.5


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether boxes ``a`` and ``b`` (``[x1, y1, x2, y2]``) share any area."""
    return bool(min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]))


def _claims(predicted: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """T×D bools: detection ``d`` lies on track ``t``'s object (IoU ≥ :data:`CLAIM_IOU` with its predicted box, or
    ≥ :data:`CLAIM_INSIDE` of the detection inside it)."""
    return (iou_matrix(predicted, boxes) >= CLAIM_IOU) | (intersection_over_first(boxes, predicted).T >= CLAIM_INSIDE)


def _claimed_by_other(predicted: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """T×D bools: detection ``d`` lies on the object of a track other than ``t`` (:func:`_claims`)."""
    on = _claims(predicted, boxes)
    count = on.sum(axis=0)
    return (count[None, :] - on.astype(int)) > 0


def is_fragment(det: np.ndarray, track_box: np.ndarray, share: float = FRAGMENT) -> bool:
    """Whether ``det`` (``[x1, y1, x2, y2]``) is a piece of the object tracked at ``track_box``: its width or
    height is under ``share`` of the track's.  A detector that sees half a plate or the lower part of a face
    reports such a box; an object does not shrink that much from one detection to the next."""
    dw, dh = det[2] - det[0], det[3] - det[1]
    tw, th = track_box[2] - track_box[0], track_box[3] - track_box[1]
    return bool(dw < share * tw or dh < share * th)


def touches_border(box: np.ndarray, width: int, height: int, margin: float = 2.0) -> bool:
    """Whether ``box`` (``[x1, y1, x2, y2]``) lies within ``margin`` pixels of an edge of a ``width`` ×
    ``height`` frame (or beyond it)."""
    return bool(box[0] <= margin or box[1] <= margin or box[2] >= width - margin or box[3] >= height - margin)


def border_velocity(v: np.ndarray, det: np.ndarray, width: int, height: int, margin: float = 2.0) -> np.ndarray:
    """A track's velocity with the sides that the picture's border clips replaced.

    Args:
        v: velocity of ``[x1, y1, x2, y2]`` in pixels per frame.
        det: the detection ``[x1, y1, x2, y2]`` in pixels.
        width, height: the frame size in pixels.
        margin: a side within this many pixels of the border counts as clipped.

    Returns:
        A copy of ``v`` where each clipped side takes the opposite side's velocity (0 for both when both are
        clipped: no information).
    """
    v = v.copy()
    clipped = [det[0] <= margin, det[1] <= margin, det[2] >= width - margin, det[3] >= height - margin]
    for a, b in ((0, 2), (1, 3)):
        if clipped[a] and clipped[b]:
            v[a] = v[b] = 0.0
        elif clipped[a]:
            v[a] = v[b]
        elif clipped[b]:
            v[b] = v[a]
    return v


def limit_shrink(box: np.ndarray, previous: np.ndarray, max_shrink: float) -> np.ndarray:
    """Grow ``box`` about its centre so that its width/height are at least ``(1 - max_shrink)`` × the
    previous box's.

    Args:
        box: the new ``[x1, y1, x2, y2]``.
        previous: the box before, same units.
        max_shrink: the fraction of its width/height a box may lose (0: none).

    Returns:
        ``box`` itself when it is large enough, else the grown box.
    """
    size = box[2:] - box[:2]
    floor = (previous[2:] - previous[:2]) * (1.0 - max_shrink)
    if np.all(size >= floor):
        return box
    half = np.maximum(size, floor) / 2
    center = (box[:2] + box[2:]) / 2
    return np.concatenate([center - half, center + half])


def match_similarity(
    tracks: np.ndarray, dets: np.ndarray, min_iou: float, max_distance: float | np.ndarray
) -> np.ndarray:
    """Track × detection affinity for the assignment (higher is better; 0: may not match).

    The IoU where it reaches ``min_iou``; otherwise a tiny positive value (about 0.001 at most, larger for closer
    centres) when the centres are within ``max_distance`` × the track box's diagonal and the areas are within a
    factor 2 (small fast objects — a plate passing a dashcam — may not overlap from one frame to the next), or
    when the detection lies at least 90 % inside the track's box and has at least a tenth of its area (only part
    of the object is visible); else 0.

    Args:
        tracks: T×4 predicted track boxes ``[x1, y1, x2, y2]`` in pixels.
        dets: D×4 detection boxes.
        min_iou: the IoU from which overlap alone decides.
        max_distance: the centre-distance gate in track-box diagonals: one value, or T values (one per track).

    Returns:
        T×D float64 affinities.
    """
    iou = iou_matrix(tracks, dets)
    ct = (tracks[:, :2] + tracks[:, 2:]) / 2
    cd = (dets[:, :2] + dets[:, 2:]) / 2
    diag = np.hypot(*(tracks[:, 2:] - tracks[:, :2]).T).clip(min=1e-6)
    dist = np.linalg.norm(ct[:, None] - cd[None], axis=2) / diag[:, None]
    area_t = np.prod((tracks[:, 2:] - tracks[:, :2]).clip(min=1e-6), axis=1)
    area_d = np.prod((dets[:, 2:] - dets[:, :2]).clip(min=1e-6), axis=1)
    ratio = area_d[None, :] / area_t[:, None]
    reach = np.broadcast_to(np.asarray(max_distance, dtype=np.float64), (len(tracks),))[:, None]
    near = (dist <= reach) & (ratio > 0.5) & (ratio < 2.0)
    # ... or a detection lying inside the track's box: the visible part of a partly hidden/leaving object
    near |= (intersection_over_first(dets, tracks).T >= 0.9) & (ratio >= 0.1)
    fallback = np.where(near, 1e-3 * (1.0 - dist / np.maximum(reach, 1e-6)).clip(0) + 1e-6, 0.0)
    return np.where(iou >= min_iou, iou, fallback)


def _outside(box: np.ndarray, width: int, height: int) -> bool:
    return box[2] <= 0 or box[3] <= 0 or box[0] >= width or box[1] >= height


def _detections(boxes: list[np.ndarray], meta: list[tuple[float, str, int]]) -> Detections:
    if not boxes:
        return _no_tracks()
    scores, labels, ids = zip(*meta)
    return Detections(np.array(boxes, dtype=np.float32), np.array(scores), np.array(labels), np.array(ids))


T = TypeVar("T")


def _track_box(box: np.ndarray, score: float, label: str, track_id: int, pad: float) -> Detections:
    """One track's box as :class:`Detections`, padded by ``pad`` of its size per side (a back-filled box)."""
    return Detections(
        box[None].astype(np.float32), np.array([score], np.float32), np.array([label]), np.array([track_id], np.int64)
    ).pad(pad)


@dataclass
class _Waiting(Generic[T]):
    """A frame waiting in the look-ahead buffer with the regions it will be anonymized at."""

    item: T
    active: Detections
    extra: list[Detections] = field(default_factory=list)

    def regions(self) -> Detections:
        """The frame's regions, one per track: boxes added for the same track (held, back-filled, interpolated)
        are merged into the box enclosing all of them."""
        return merge_by_track(Detections.concat([self.active, *self.extra])) if self.extra else self.active


def merge_by_track(dets: Detections) -> Detections:
    """Replace the boxes that share a track id (>= 0) by their enclosing box (highest score kept).

    Boxes without a track (id -1, or no ``track_ids``) are kept as they are; the result keeps the original order,
    each track at its first box's place.
    """
    if dets.track_ids is None or len(dets) < 2:
        return dets
    ids = dets.track_ids
    tracked = ids >= 0
    if len(np.unique(ids[tracked])) == int(tracked.sum()):
        return dets
    keep = [i for i in range(len(dets)) if not tracked[i]]
    boxes = dets.boxes.copy()
    scores = dets.scores.copy()
    for tid in np.unique(ids[tracked]):
        rows = np.flatnonzero(ids == tid)
        boxes[rows[0]] = np.concatenate([boxes[rows, :2].min(axis=0), boxes[rows, 2:].max(axis=0)])
        scores[rows[0]] = scores[rows].max()
        keep.append(int(rows[0]))
    keep.sort()
    return Detections(boxes[keep], scores[keep], dets.labels[keep], ids[keep])


class Lookahead(Generic[T]):
    """Delay frames by ``k`` and back-fill the first box of every new track into the frames before it.

    A back-filled box is grown by ``grow`` per frame of distance (up to ``max_grow``), because the object
    was somewhere near, not exactly at, its first detected box.  Once the track's second detection gives its
    velocity (:class:`Backfill`), the frames before its first detection also get that box moved back along the
    velocity (a moving object first detected late was elsewhere before); the frame's region is the box enclosing
    both.  Frames are any item (``T``), handed back in
    order with their final regions.  A bridge's interpolated boxes (:class:`Bridge`) are grown the same way, by
    the distance to the nearer of its two detections.

    Args:
        k: the delay in frames (0: frames leave at once, nothing is back-filled).
        grow: growth per frame of distance, as a fraction of the box's width/height per side.
        max_grow: the most a back-filled box grows.
    """

    def __init__(self, k: int, grow: float = 0.03, max_grow: float = 0.3) -> None:
        self.k = max(0, int(k))
        self.grow = grow
        self.max_grow = max_grow
        self.buffer: deque[_Waiting[T]] = deque()

    def push(
        self,
        item: T,
        regions: Detections,
        started: Detections | None = None,
        bridges: Sequence[Bridge] = (),
        backfills: Sequence[Backfill] = (),
    ) -> list[tuple[T, Detections]]:
        """Add the next frame; return the frames that leave the buffer.

        Args:
            item: the frame (anything; handed back unchanged).
            regions: its regions from :meth:`Tracker.update`.
            started: :attr:`Tracker.started` of that update: back-filled into the buffered frames.
            bridges: :attr:`Tracker.bridges` of that update: the gap's frames get the interpolated box.
            backfills: :attr:`Tracker.backfills` of that update: the frames before each track's first detection get
                its box moved back along its velocity.

        Returns:
            ``(item, regions)`` of the frames older than ``k``, oldest first; regions one per track (with ids).
        """
        if started is not None and len(started):
            for distance, waiting in enumerate(reversed(self.buffer), start=1):
                frac = min(self.grow * distance, self.max_grow)
                waiting.extra.append(started.pad(frac))
        for bridge in bridges:
            # The frames of the gap get the box interpolated between the detections either side, on top of
            # the tracker's held (extrapolated) box: the union is what they are anonymized at.
            for back, waiting in zip(range(1, bridge.gap + 1), reversed(self.buffer)):
                frac = min(self.grow * min(back, bridge.gap + 1 - back), self.max_grow)
                waiting.extra.append(_track_box(bridge.box(back), bridge.score, bridge.label, bridge.track_id, frac))
        for fill in backfills:
            for back, waiting in enumerate(reversed(self.buffer), start=1):
                before = back - fill.since  # frames before the first detection
                if before < 1 or not fill.inside(before):
                    continue
                frac = min(self.grow * before, self.max_grow)
                waiting.extra.append(_track_box(fill.box(before), fill.score, fill.label, fill.track_id, frac))
        self.buffer.append(_Waiting(item, regions))
        out = []
        while len(self.buffer) > self.k:
            done = self.buffer.popleft()
            out.append((done.item, done.regions()))
        return out

    def flush(self) -> list[tuple[T, Detections]]:
        """Every buffered frame with its regions, oldest first (at the end of the video)."""
        out = [(waiting.item, waiting.regions()) for waiting in self.buffer]
        self.buffer.clear()
        return out


def track_sequence(
    frames: Iterable[Detections],
    config: TrackerConfig | None = None,
    lookahead: int = 0,
    width: int | None = None,
    height: int | None = None,
) -> list[Detections]:
    """Run tracker + look-ahead over a whole sequence of per-frame detections (tests, offline use).

    Args:
        frames: each frame's detections, in order (boxes in frame pixels).
        config: tracker parameters (None: :class:`~fpblur.config.settings.TrackerConfig` defaults).
        lookahead: the look-ahead delay in frames.
        width, height: the frame size in pixels (None: unknown; see :meth:`Tracker.update`).

    Returns:
        Every frame's regions (one box per track, with track ids), in order.
    """
    tracker = Tracker(config)
    delay: Lookahead[int] = Lookahead(lookahead, (config or TrackerConfig()).grow)
    out: list[Detections] = []
    for i, dets in enumerate(frames):
        active = tracker.update(dets, width, height)
        out.extend(regions for _, regions in delay.push(i, active, tracker.started, tracker.bridges, tracker.backfills))
    out.extend(regions for _, regions in delay.flush())
    return out
