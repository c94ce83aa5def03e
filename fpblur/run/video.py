"""Streaming video anonymization: decode → detect → track/anonymize → encode, in threads.

Stages are joined by bounded queues, so memory holds at most ``queue_size`` frames per queue plus the
look-ahead window, however long the video is.  Every queue carries one record type, :class:`StreamItem`: a
:class:`FrameRecord` (the decoded frame, which detectors ran on it, its detections, tracks, regions and
anonymized pixels, filled in stage by stage), an audio packet, or the end of the stream (:data:`END`).
Frames are detected in small batches through :meth:`fpblur.redact.anonymizer.Anonymizer.detect_batch`, the
method images go through too.  Any failure in any stage stops all of them; the output is written under a
temporary name that is deleted, so an un-anonymized or partial video is never left behind.  Setting the
``cancel`` event of :func:`anonymize_video` stops it the same way and raises :class:`Cancelled`.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fpblur.config.profiles import FullFramePasses
from fpblur.config.settings import RecheckSettings, TrackerConfig, VideoSettings, resolve_recheck, resolve_tracker
from fpblur.core.boxes import nms, touching_inner_edges
from fpblur.core.detections import Detections
from fpblur.core.files import atomic_output
from fpblur.detect.rotations import rotate_image, unrotate_boxes
from fpblur.media.video_io import AudioPacket, Frame, VideoError, VideoReader, VideoWriter
from fpblur.redact.anonymizer import Anonymizer
from fpblur.track.motion import CameraMotion
from fpblur.track.recheck import (
    CropPlan,
    found_windows,
    keep_alive_only,
    light_pixels,
    on_tracked,
    plan_crops,
    within_budget,
)
from fpblur.track.schedule import FrameKind, LightPasses, VideoSchedule
from fpblur.track.tracker import Lookahead, SearchWindow, Tracker, hold_frames


def parse_span(value: str | int | float) -> tuple[float, str]:
    """Read a span of video: whole frames (``"15"``, ``15``, ``"15f"``) or seconds (``"0.5s"``).

    Returns:
        ``(number, unit)``: ``(15.0, "frames")`` or ``(0.5, "s")``.

    Raises:
        ValueError: a negative value, a fractional number of frames, or text that is not a number.
    """
    text = str(value).strip().lower()
    unit = "frames"
    if text.endswith("s"):
        text, unit = text[:-1].strip(), "s"
    elif text.endswith("f"):
        text = text[:-1].strip()
    number = float(text)
    if number < 0 or (unit == "frames" and number != int(number)):
        raise ValueError(f"expected a whole number of frames or seconds like 0.5s, got {value!r}")
    return number, unit


def span_frames(value: str | int | float, fps: float) -> int:
    """A span (:func:`parse_span`) in frames of a video at ``fps`` frames per second (seconds: rounded, at least 1
    when positive; see :func:`~fpblur.track.tracker.hold_frames`).

    Raises:
        ValueError: a span :func:`parse_span` refuses.
    """
    number, unit = parse_span(value)
    return hold_frames(number, fps) if unit == "s" else int(number)


@dataclass
class VideoReport:
    """What :func:`anonymize_video` did to one video.

    Attributes:
        src, dst: input and output paths.
        frames: frames written (= decoded).  audio_packets: audio packets copied.
        width, height: the decoded (upright) frame size in pixels.  rotation: the display rotation applied, in
            degrees.
        seconds: wall-clock time.
        timings: busy seconds per stage: ``decode``, ``detect <target>`` (each target's detector), ``track+anonymize``,
            ``encode`` (threads overlap, so they add up to more than ``seconds``).
        tracks: confirmed tracks per label (a second detection or one high score: see
            :class:`~fpblur.config.settings.TrackerConfig`).
        unconfirmed: per label, tracks that ended without being confirmed (anonymized while they lived: at most
            ``hold`` frames, plus the look-ahead before them); likely false positives.
        frames_with_regions: frames where something was anonymized.
        schedule: what ran on which frames (:meth:`~fpblur.track.schedule.VideoSchedule.describe`).
        frame_kinds: frames per kind: ``full``, ``light``, ``none``, and ``crop`` when carried boxes were
            re-checked on crops of a frame that ran no whole-frame detector.
        crops: crops searched to re-check carried boxes.
    """

    src: Path
    dst: Path
    frames: int = 0
    audio_packets: int = 0
    width: int = 0
    height: int = 0
    rotation: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # busy seconds per stage
    tracks: dict[str, int] = field(default_factory=dict)  # confirmed tracks per label
    unconfirmed: dict[str, int] = field(default_factory=dict)  # tracks ended without confirmation, per label
    frames_with_regions: int = 0
    schedule: str = ""  # what ran on which frames (VideoSchedule.describe)
    frame_kinds: dict[str, int] = field(default_factory=dict)  # frames per kind: full, light, (crop,) none
    crops: int = 0  # crops searched to re-check carried boxes

    @property
    def fps(self) -> float:
        """Frames per second of wall-clock time (0.0 before any time has passed)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def split(self) -> str:
        """Busy seconds per stage as one line: ``"decode 0.4s, detect face 3.1s, …"``."""
        parts = [f"{k} {v:.1f}s" for k, v in self.timings.items()]
        return ", ".join(parts)

    def summary(self) -> str:
        """One line: input, frames, time and speed, tracks per label, frames per detector kind, busy seconds."""
        tracks = ", ".join(f"{n} {label} tracks" for label, n in self.tracks.items())
        dropped = sum(self.unconfirmed.values())
        if dropped:
            tracks += f" (+{dropped} unconfirmed)"
        kinds = ", ".join(f"{k} {n}" for k, n in self.frame_kinds.items() if n)
        return (
            f"{self.src}: {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), "
            f"{tracks or 'no tracks'}; detectors per frame: {kinds or '-'}; busy: {self.split()}"
        )


def video_schedule(settings: VideoSettings, fps: float) -> tuple[VideoSchedule, LightPasses]:
    """The frame schedule at ``fps`` frames per second and what light frames run, from resolved ``settings``.

    ``full_every`` 0 or 1 both mean the full detectors on every frame.
    """
    full = VideoSchedule(max(1, span_frames(settings.full_every, fps)), span_frames(settings.light_every, fps))
    return full, settings.light


def _nms_per_label(dets: Detections, iou: float) -> Detections:
    """``dets`` without the boxes that overlap a higher-scoring box of their label by more than ``iou``."""
    if len(dets) < 2:
        return dets
    keep = [
        int(i)
        for label in dict.fromkeys(dets.labels.tolist())
        for i in np.flatnonzero(dets.labels == label)[
            nms(dets.boxes[dets.labels == label], dets.scores[dets.labels == label], iou)
        ]
    ]
    return dets[sorted(keep)]


class _Stopped(Exception):
    """Raised inside a stage when another stage failed."""


class Cancelled(Exception):
    """:func:`anonymize_video` was cancelled through its ``cancel`` event; the partial output has been deleted."""


@dataclass(eq=False)
class FrameRecord:
    """One decoded frame on its way through the stages; each stage fills in its part.

    Attributes:
        frame: the decoded frame (upright H×W×3 uint8 BGR pixels, index, pts).
        kind: which detectors ran on it: ``"full"``, ``"light"``, ``"crop"`` (only re-checks of carried boxes on
            crops around them) or ``"none"`` (detect stage; ``"crop"``: track stage).
        crops: crops the track stage searched for carried boxes (re-checks).
        detections: what the detectors found (detect stage), then only those at or above the keep-alive
            threshold (track stage; what the log's ``detections`` shows).  Boxes in frame pixels.
        tracks: the tracker's boxes to anonymize (held, back-filled and interpolated boxes merged per track;
            with track ids) once the frame leaves the look-ahead (track stage).
        regions: ``tracks`` padded and clipped: the areas actually changed (track stage).
        output: the anonymized pixels the encoder writes (track stage).
    """

    frame: Frame
    kind: FrameKind = "none"
    crops: int = 0
    detections: Detections = field(default_factory=Detections)
    tracks: Detections = field(default_factory=Detections)
    regions: Detections = field(default_factory=Detections)
    output: np.ndarray | None = None

    def log(self, time_base: Fraction) -> dict:
        """The JSON-ready ``--log`` record of this frame (``video`` is added by the caller)."""
        return {
            "frame": self.frame.index,
            "pts": self.frame.pts,
            "time": round(float(self.frame.pts * time_base), 6),
            "pass": self.kind,
            "crops": self.crops,
            "detections": self.detections.to_records(),
            "anonymized": self.tracks.to_records(self.regions),
        }


@dataclass(frozen=True, eq=False)
class StreamItem:
    """What the stage queues carry: a frame record, an audio packet (copied unchanged), or neither: the end of
    the stream (:data:`END`)."""

    frame: FrameRecord | None = None
    audio: AudioPacket | None = None

    @classmethod
    def decoded(cls, item: Frame | AudioPacket) -> StreamItem:
        """Wrap what :class:`~fpblur.media.video_io.VideoReader` yields."""
        return cls(audio=item) if isinstance(item, AudioPacket) else cls(frame=FrameRecord(item))


END = StreamItem()


class _Run:
    """One video going through the threaded stages."""

    def __init__(
        self,
        reader: VideoReader,
        writer: VideoWriter,
        anonymizer: Anonymizer,
        settings: VideoSettings,
        on_frame: Callable[[dict], None] | None,
        desc: str,
        cancel: threading.Event | None,
    ) -> None:
        self.reader, self.writer, self.anonymizer, self.settings = reader, writer, anonymizer, settings
        self.on_frame = on_frame
        self.desc = desc
        self.cancel = cancel
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        size = max(2, settings.queue_size)
        self.q_decoded: queue.Queue[StreamItem] = queue.Queue(size)
        self.q_detected: queue.Queue[StreamItem] = queue.Queue(size)
        self.q_encode: queue.Queue[StreamItem] = queue.Queue(size)
        self.timings: dict[str, float] = {"decode": 0.0}
        for t in anonymizer.targets:
            self.timings[f"detect {t}"] = 0.0
        self.timings["track+anonymize"] = 0.0
        self.timings["encode"] = 0.0
        info = reader.info
        self.width, self.height = info.width, info.height
        fps = info.fps or 25.0
        # A track starts at the detector's own threshold (what `fpblur image` uses); the detector is then
        # run at the lower keep-alive threshold so that weaker detections can extend tracks.
        self.conf = {t: float(anonymizer.detectors[t].conf) for t in anonymizer.targets}
        self.schedule, self.light = video_schedule(settings, fps)
        self.plain = settings.full.plain()  # full frames between deep ones
        self.fast_until = -1  # track stage: frames up to this index run no-detector frames as light (fast motion)
        # A track found on a full frame must survive, and be back-filled, until the next full frame that runs
        # the passes which found it (the deep passes run on every ``full.deep_every``-th full frame).
        reach = self.schedule.full_every * (settings.full.deep_every if self.schedule.full_every > 1 else 1)
        cfg = TrackerConfig(
            conf=dict(self.conf),
            conf_low=settings.conf_low,
            hold=max(span_frames(settings.hold, fps), reach),
            **resolve_tracker(settings.tracker),  # checked again: VideoSettings can be made without resolve_config
        )
        self.tracker_config = cfg
        self.keep_conf = {t: cfg.keep_threshold(t) for t in anonymizer.targets}
        # what a box that may only keep tracks alive (a piece at a crop's edge, a turned crop's find) must score
        # under: the start threshold; none when the keep-alive threshold is not below it (``--conf-low`` at or above
        # ``--face-conf``: no score both keeps and starts nothing, and dropping such boxes would lose faces)
        self.alive_below = {
            t: cfg.start_threshold(t) if cfg.keep_threshold(t) < cfg.start_threshold(t) else float("inf")
            for t in anonymizer.targets
        }
        self.lookahead = max(span_frames(settings.lookahead, fps), reach - 1)
        self.frame_kinds: dict[str, int] = {"full": 0, "light": 0, "none": 0}
        # Carried boxes are re-checked on crops on frames without the full detectors (part of the light passes).
        options = resolve_recheck(settings.recheck)  # (the same check as resolve_config's, for settings made directly)
        on = options is not False and self.schedule.light_every > 0 and self.schedule.full_every > 1
        self.recheck = RecheckSettings(**(options if isinstance(options, dict) else {})) if on else None
        # a face on its side, found by the full frames' rotated passes, is re-checked on crops turned the same ways
        rotated = (
            self.recheck is not None
            and self.recheck.rotated
            and settings.full.rotations
            and "face" in anonymizer.targets
        )
        self.crop_rotations: tuple[int, ...] = anonymizer.detectors["face"].rotations if rotated else ()
        # track stage: per track, the turn its face crop was last found at, or None once searched turned in vain
        self.turns: dict[int, int | None] = {}
        self.crops = 0
        self.unconfirmed: dict[str, int] = {}
        self.frames_out = 0
        self.audio_out = 0
        self.frames_with_regions = 0
        self.tracks: dict[str, int] = {t: 0 for t in anonymizer.targets}

    # -- queue helpers that give up when cancelled or when another stage failed -----------------
    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def _check(self) -> None:
        if self._cancelled():
            raise Cancelled(f"{self.reader.path}: cancelled")
        if self.stop.is_set():
            raise _Stopped

    def _put(self, q: queue.Queue[StreamItem], item: StreamItem) -> None:
        while True:
            self._check()
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _get(self, q: queue.Queue[StreamItem]) -> StreamItem:
        while True:
            self._check()
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue

    def _guard(self, fn: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except _Stopped:
                pass
            except BaseException as exc:  # reported by the main thread
                self.errors.append(exc)
                self.stop.set()

        return run

    # -- stages ---------------------------------------------------------------------------------
    def _decode(self) -> None:
        items = iter(self.reader)
        while True:
            t0 = time.perf_counter()
            decoded = next(items, None)
            self.timings["decode"] += time.perf_counter() - t0
            if decoded is None:
                self._put(self.q_decoded, END)
                return
            self._put(self.q_decoded, StreamItem.decoded(decoded))

    def _detect_batch(self, records: list[FrameRecord], last: bool = False) -> None:
        # The last frame has no later detection to interpolate towards: it always gets the full detectors.
        kinds: list[FrameKind] = [
            ("full" if last and i == len(records) - 1 else self.schedule.kind(r.frame.index))
            for i, r in enumerate(records)
        ]
        deep = [
            k == "full" and self._deep(r, last and i == len(records) - 1)
            for i, (r, k) in enumerate(zip(records, kinds))
        ]
        groups: list[tuple[list[int], LightPasses | None, FullFramePasses | None]] = [
            ([i for i, up in enumerate(deep) if up], None, self.settings.full),
            ([i for i, k in enumerate(kinds) if k == "full" and not deep[i]], None, self.plain),
            ([i for i, k in enumerate(kinds) if k == "light"], self.light, None),
        ]
        for slots, light, passes in groups:
            if not slots:
                continue
            found = self.anonymizer.detect_batch(
                [records[i].frame.image for i in slots],
                light=light,
                full=passes,
                conf=self.keep_conf,
                timings=self.timings,
            )
            for i, dets in zip(slots, found):
                records[i].detections = dets
        for record, kind in zip(records, kinds):
            record.kind = kind
            self._put(self.q_detected, StreamItem(frame=record))

    def _deep(self, record: FrameRecord, last: bool) -> bool:
        """Whether full frame ``record`` runs the deep passes (every ``full.deep_every``-th full frame, and the
        last frame of the video; :class:`~fpblur.config.profiles.FullFramePasses`)."""
        if last or self.schedule.full_every == 1:
            return True
        return (record.frame.index // self.schedule.full_every) % self.settings.full.deep_every == 0

    def _detect(self) -> None:
        batch: list[FrameRecord] = []
        held: FrameRecord | None = None  # the newest frame waits until we know whether it is the last one
        limit = max(1, self.settings.batch)
        while True:
            item = self._get(self.q_decoded)
            if item.frame is not None:
                if held is not None:
                    batch.append(held)
                held = item.frame
                if batch and (len(batch) >= limit or self.q_decoded.empty()):
                    self._detect_batch(batch)
                    batch = []
            elif item.audio is not None:
                # Audio packets overtake waiting frames (the look-ahead delays frames anyway); the muxer interleaves.
                self._put(self.q_detected, item)
            else:  # end of stream
                if held is not None:
                    batch.append(held)
                if batch:
                    self._detect_batch(batch, last=True)
                self._put(self.q_detected, END)
                return

    def _fast_motion_pass(self, record: FrameRecord) -> float:
        """Motion-adaptive (``VideoSettings.fast_motion``): while tracks move fast, a frame that ran no detector
        runs the light passes here (unless light passes are off: ``--light-every 0``).  Decided in the track
        stage from the frames it has already tracked, so what runs does not depend on how far ahead the detect
        thread is.

        Returns:
            The seconds spent detecting (booked under ``detect <label>``).
        """
        if record.kind != "none" or self.fast_until < record.frame.index or self.schedule.light_every <= 0:
            return 0.0
        t0 = time.perf_counter()
        found = self.anonymizer.detect_batch(
            [record.frame.image], light=self.light, conf=self.keep_conf, timings=self.timings
        )[0]
        record.detections = self.tracker_config.keep(Detections.concat([record.detections, found]))
        record.kind = "light"
        return time.perf_counter() - t0

    def _recheck(self, record: FrameRecord, tracker: Tracker, motion: np.ndarray | None) -> float:
        """Search crops around the carried boxes of ``record``'s frame (one without the full detectors) and add
        what is found to its detections.  A frame that ran no detector and has more to search than the budget
        allows runs the light passes instead (for the labels over budget).

        Returns:
            The seconds spent detecting (booked under ``detect <label>``).
        """
        assert self.recheck is not None
        settings = self.recheck
        image = record.frame.image
        if self.turns:  # forget tracks that ended; one detected again may be searched turned again
            live = {t.id: t for t in tracker.tracks}
            self.turns = {i: a for i, a in self.turns.items() if i in live and (a is not None or live[i].misses)}
        every = [w for w in tracker.windows(motion, self.width, self.height) if w.label in self.anonymizer.targets]
        # a detection answers one window (a still track's too), then the urgent unanswered ones are searched
        answered = found_windows(every, record.detections)
        windows = [w for w, hit in zip(every, answered) if not hit and w.urgency >= settings.min_urgency]
        if not windows:
            return 0.0
        # where every live track is carried on this frame, per label (a crop's edge may cut through one of them)
        tracked = {
            label: np.array([w.carried for w in every if w.label == label and w.carried is not None]).reshape(-1, 4)
            for label in {w.label for w in windows}
        }
        t0 = time.perf_counter()
        found: list[Detections] = [record.detections]
        for label in dict.fromkeys(w.label for w in windows):
            budget = settings.budget * light_pixels(label, self.width, self.height, self.light)
            plans = plan_crops([w for w in windows if w.label == label], self.width, self.height, settings)
            taken, left = within_budget(plans, budget)
            if left and record.kind == "none":
                # too much to search on crops: one light pass over the whole frame, then crops for what it missed
                whole = self.anonymizer.detect_batch(
                    [image], light=self.light, conf=self.keep_conf, timings=self.timings, targets=(label,)
                )[0]
                found.append(whole)
                record.kind = "light"
                mine = [w for w in windows if w.label == label]
                mine = [w for w, hit in zip(mine, found_windows(mine, whole)) if not hit]
                taken, _ = within_budget(plan_crops(mine, self.width, self.height, settings), budget)
            by_id = {w.track_id: w for w in windows}
            # network pixels left for turned searches (as for upright crops, the first one always runs)
            spare, turned = budget - sum(p.cost for p in taken), False
            for plan in taken:
                if plan.label == "face" and self.crop_rotations:
                    mine = [by_id[i] for i in plan.track_ids if i in by_id]
                    dets, n = self._search_turnable(
                        image, plan, mine, spare if turned else float("inf"), tracked[label]
                    )
                    spare -= (n - 1) * plan.cost
                    turned = turned or n > 1
                else:
                    dets, n = self._search(image, plan, tracked[label]), 1
                record.crops += n
                found.append(dets)
        merged = Detections.concat(found)
        record.detections = _nms_per_label(merged, 0.5)
        if record.kind == "none":
            record.kind = "crop"
        return time.perf_counter() - t0

    def _search(self, image: np.ndarray, plan: CropPlan, tracked: np.ndarray, angle: int = 0) -> Detections:
        """``plan``'s crop searched upright, or turned clockwise by ``angle`` (boxes in frame pixels either way).

        Upright: a box at an edge the crop cut through the picture, lying on a tracked object (``tracked``: N×4
        carried boxes), is a piece of that object: its score is kept under the start threshold (it keeps tracks
        alive, starts none); one on no tracked object may be a face only the crop found and starts a track as usual.
        Turned (:attr:`RecheckSettings.rotated`, faces only): searched at the face detector's own threshold, and
        everything found keeps tracks alive only: a turned crop's clutter must not start or confirm a track."""
        x0, y0, x1, y1 = plan.box
        crop = image[y0:y1, x0:x1]
        passes = replace(
            self.light, face_passes=(f"{plan.scale:.4g}",), plate_imgsz=() if angle else (plan.input_side(),)
        )
        dets = self.anonymizer.detect_batch(
            [rotate_image(crop, angle) if angle else crop],
            light=passes,
            conf=self.conf if angle else self.keep_conf,
            timings=self.timings,
            targets=(plan.label,),
        )[0]
        self.crops += 1
        if angle:
            boxes = unrotate_boxes(dets.boxes, angle, x1 - x0, y1 - y0)
            return keep_alive_only(Detections(boxes, dets.scores, dets.labels).shift(x0, y0), self.alive_below)
        dets = dets.shift(x0, y0)
        piece = touching_inner_edges(dets.boxes, plan.box, self.width, self.height) & on_tracked(dets.boxes, tracked)
        return keep_alive_only(dets, self.alive_below, piece)

    def _search_turnable(
        self, image: np.ndarray, plan: CropPlan, windows: list[SearchWindow], spare: float, tracked: np.ndarray
    ) -> tuple[Detections, int]:
        """Search a face crop upright and, for the tracks that finds nothing of, turned (``RecheckSettings.rotated``).

        A track found on a turned crop is searched that way first on the next frames (:attr:`turns`); a track that
        neither way finds is not searched turned again until it is detected again (clutter and faces that left
        would otherwise pay for two more crops on every frame).  A first turned search runs only while the frame's
        crop budget has ``spare`` network pixels for it (the frame's first always runs; crowds of small faces that
        only the full frames' ×2 pass finds would otherwise double the crops of large frames).  ``tracked``: the
        carried boxes of the label's live tracks (:meth:`_search`).

        Returns:
            The detections (frame pixels) and the number of crops searched.
        """
        answered = [False] * len(windows)
        parts: list[Detections] = []

        def search(angle: int) -> None:
            dets = self._search(image, plan, tracked, angle)
            parts.append(dets)
            for k, hit in enumerate(found_windows(windows, dets)):
                if hit and not answered[k]:
                    answered[k] = True
                    if angle:
                        self.turns[windows[k].track_id] = angle
                    else:
                        self.turns.pop(windows[k].track_id, None)

        remembered = list(dict.fromkeys(a for w in windows if isinstance(a := self.turns.get(w.track_id), int)))
        for angle in remembered:
            search(angle)
        if not all(answered):
            search(0)
        # absent: never tried turned; an angle: found so before; None: tried both ways since its last detection
        left = [k for k, w in enumerate(windows) if not answered[k] and self.turns.get(w.track_id, 0) is not None]
        turns = [a for a in self.crop_rotations if a not in remembered]
        if left and len(turns) * plan.cost <= spare:
            for angle in turns:
                search(angle)
            for k in left:
                if not answered[k]:
                    self.turns[windows[k].track_id] = None
        return Detections.concat(parts), len(parts)

    def _emit(self, record: FrameRecord, tracks: Detections, progress) -> None:
        t0 = time.perf_counter()
        image = record.frame.image
        record.tracks = tracks
        record.regions = self.anonymizer.regions(tracks, image.shape)
        if len(tracks):
            record.output = self.anonymizer.apply(image, tracks, record.regions)
            self.frames_with_regions += 1
        else:
            record.output = image
        if self.on_frame is not None:
            self.on_frame(record.log(self.reader.info.time_base))
        self.timings["track+anonymize"] += time.perf_counter() - t0
        self._put(self.q_encode, StreamItem(frame=record))
        progress.update(1)

    def _track(self, progress) -> None:
        tracker = Tracker(self.tracker_config)
        # Held boxes follow the camera between detector frames (not needed when every frame is detected fully).
        camera = CameraMotion() if self.settings.camera_motion and self.schedule.full_every > 1 else None
        delay: Lookahead[FrameRecord] = Lookahead(
            self.lookahead, self.tracker_config.grow, self.tracker_config.max_grow
        )
        while True:
            item = self._get(self.q_detected)
            if item.audio is not None:
                self._put(self.q_encode, item)
                continue
            if item.frame is None:  # end of stream
                for t in tracker.tracks:
                    if not t.confirmed:
                        self.unconfirmed[t.label] = self.unconfirmed.get(t.label, 0) + 1
                for record, tracks in delay.flush():
                    self._emit(record, tracks, progress)
                self._put(self.q_encode, END)
                return
            t0 = time.perf_counter()
            record = item.frame
            motion = camera.step(record.frame.image, estimate=bool(tracker.tracks)) if camera is not None else None
            drift = camera.residual if camera is not None else 0.0
            record.detections = self.tracker_config.keep(record.detections)
            spent = self._fast_motion_pass(record)
            spent += (
                self._recheck(record, tracker, motion) if self.recheck is not None and record.kind != "full" else 0.0
            )
            self.frame_kinds[record.kind] = self.frame_kinds.get(record.kind, 0) + 1
            full = record.kind == "full" or self.schedule.full_every == 1
            active = tracker.update(record.detections, self.width, self.height, motion, drift, evidence=full)
            if self.settings.fast_motion and tracker.max_relative_speed() > self.settings.fast_motion:
                # stays on two full intervals (read by _fast_motion_pass on the next frames, in this thread)
                self.fast_until = record.frame.index + 2 * self.schedule.full_every
            for label in map(str, tracker.confirmed.labels):
                self.tracks[label] = self.tracks.get(label, 0) + 1
            self.unconfirmed = dict(tracker.ended_unconfirmed)
            ready = delay.push(record, active, tracker.started, tracker.bridges, tracker.backfills)
            self.timings["track+anonymize"] += time.perf_counter() - t0 - spent
            for done, tracks in ready:
                self._emit(done, tracks, progress)

    def _encode(self) -> None:
        while True:
            item = self._get(self.q_encode)
            t0 = time.perf_counter()
            if item.audio is not None:
                self.writer.write_audio(item.audio)
                self.audio_out += 1
            elif item.frame is not None:
                assert item.frame.output is not None  # set by the track stage before a frame is queued here
                self.writer.write(item.frame.frame, item.frame.output)
                self.frames_out += 1
            else:  # end of stream
                self.writer.finish()
                self.timings["encode"] += time.perf_counter() - t0
                return
            self.timings["encode"] += time.perf_counter() - t0

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._guard(fn), name=f"fpblur-{name}", daemon=True)
            for name, fn in (("decode", self._decode), ("detect", self._detect), ("encode", self._encode))
        ]
        total = self.reader.info.expected_frames or None
        with tqdm(
            total=total,
            desc=self.desc,
            unit="frame",
            disable=None if self.settings.progress is None else not self.settings.progress,
            dynamic_ncols=True,
            leave=False,
        ) as progress:
            for t in threads:
                t.start()
            try:
                self._guard(lambda: self._track(progress))()
            finally:
                if self.errors:
                    self.stop.set()
                for t in threads:
                    t.join()
        if self.errors:
            exc = self.errors[0]
            if self._cancelled():  # the user stopped it: whatever a stage raised on its way out, that is the answer
                if isinstance(exc, Cancelled):
                    raise exc
                raise Cancelled(f"{self.reader.path}: cancelled") from exc
            if isinstance(exc, (VideoError, KeyboardInterrupt)):
                raise exc
            text = str(exc).strip().splitlines()
            raise VideoError(f"{self.reader.path}: {type(exc).__name__}: {text[0] if text else ''}".rstrip(": "))
        if self.frames_out != self.reader.decoded:
            raise VideoError(f"{self.reader.path}: wrote {self.frames_out} of {self.reader.decoded} frames")


def anonymize_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    anonymizer: Anonymizer,
    settings: VideoSettings | None = None,
    on_frame: Callable[[dict], None] | None = None,
    desc: str | None = None,
    cancel: threading.Event | None = None,
) -> VideoReport:
    """Anonymize one video file into ``dst`` (written atomically; deleted on any failure or cancellation).

    Args:
        src: the input video.
        dst: the output path (``.mp4``/``.m4v``, ``.mov`` or ``.mkv``).
        anonymizer: its detectors (through :meth:`~fpblur.redact.anonymizer.Anonymizer.detect_batch`, as for
            images), padding and mode are used.
        settings: hold, look-ahead, frame schedule, encoder… (None: the defaults).
        on_frame: receives one JSON-ready dict per output frame, in order, from the calling thread (the
            ``--log`` records: ``frame``, ``pts``, ``time``, ``pass``, ``detections``, ``anonymized``).
        desc: progress-bar label (default: the input's name).
        cancel: set it (from any thread) to stop; checked between frames in every stage.

    Returns:
        A :class:`VideoReport` (frames, tracks per label, busy seconds per stage and target, schedule).

    Raises:
        Cancelled: ``cancel`` was set before the video was done; no output is left.
        VideoError: decoding, detection or encoding failed (one line naming the file); no output is left.
    """
    settings = settings if settings is not None else anonymizer.config.video  # the resolved configuration
    src, dst = Path(src), Path(dst)
    start = time.perf_counter()
    with VideoReader(src) as reader:
        with atomic_output(dst) as tmp:
            writer = VideoWriter(tmp, reader, crf=settings.crf, preset=settings.preset)
            run = _Run(reader, writer, anonymizer, settings, on_frame, desc or src.name, cancel)
            try:
                run.run()
            finally:
                writer.close()
        info = reader.info
    return VideoReport(
        src=src,
        dst=dst,
        frames=run.frames_out,
        audio_packets=run.audio_out,
        width=info.width,
        height=info.height,
        rotation=info.rotation,
        seconds=time.perf_counter() - start,
        timings={k: round(v, 3) for k, v in run.timings.items()},
        tracks=run.tracks,
        unconfirmed=run.unconfirmed,
        crops=run.crops,
        frames_with_regions=run.frames_with_regions,
        schedule=run.schedule.describe(),
        frame_kinds=dict(run.frame_kinds),
    )


__all__ = [
    "VideoSettings",
    "VideoReport",
    "anonymize_video",
    "parse_span",
    "span_frames",
    "VideoError",
    "Cancelled",
    "FrameRecord",
    "StreamItem",
    "END",
]
