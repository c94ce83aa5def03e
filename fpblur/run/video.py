"""Streaming video anonymization: decode → detect → track/anonymize → encode, in threads.

Stages are joined by bounded queues, so memory holds at most ``queue_size`` frames per queue plus the
look-ahead window, however long the video is.  Frames are detected in small batches (YOLO models take a
list; other detectors are called per frame).  Any failure in any stage stops all of them; the output is
written under a temporary name that is deleted, so an un-anonymized or partial video is never left behind.
"""

from __future__ import annotations

import inspect
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from fpblur.core.detections import Detections
from fpblur.core.files import atomic_output
from fpblur.track.tracker import Lookahead, Tracker, TrackerConfig, hold_frames
from fpblur.track.motion import CameraMotion
from fpblur.track.schedule import LightPasses, VideoSchedule, light_detector
from fpblur.media.video_io import DEFAULT_CRF, DEFAULT_PRESET, AudioPacket, Frame, VideoError, VideoReader, VideoWriter

_END = object()


def parse_span(value: str | int | float) -> tuple[float, str]:
    """``"15"`` → (15, "frames"); ``"0.5s"`` → (0.5, "s").  Negative values are refused."""
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
    number, unit = parse_span(value)
    return hold_frames(number, fps) if unit == "s" else int(number)


@dataclass
class VideoSettings:
    """Knobs of the video path (the CLI's ``--hold``, ``--conf-low``, ``--lookahead``, ``--crf``…)."""

    hold: str | int = "0.5s"  # frames, or seconds with an "s" suffix
    lookahead: str | int = "0.5s"
    conf_low: float | None = None  # default: half of each target's conf
    crf: float = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    batch: int = 4  # frames per detector call
    full_every: str | int | None = None  # frames or seconds between full-detector frames (None: the profile's)
    light_every: str | int | None = None  # light passes every this many frames/seconds between; 0 none
    camera_motion: bool = True  # move held boxes with the estimated camera motion (fpblur.track.motion)
    queue_size: int = 8
    progress: bool | None = None  # None: tqdm decides (shown on a terminal)
    tracker: dict = field(default_factory=dict)  # extra TrackerConfig fields


@dataclass
class VideoReport:
    src: Path
    dst: Path
    frames: int = 0
    audio_packets: int = 0
    width: int = 0
    height: int = 0
    rotation: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # busy seconds per stage
    tracks: dict[str, int] = field(default_factory=dict)  # tracks started per label
    frames_with_regions: int = 0
    schedule: str = ""  # what ran on which frames (VideoSchedule.describe)
    frame_kinds: dict[str, int] = field(default_factory=dict)  # frames per kind: full, light, none

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def split(self) -> str:
        parts = [f"{k} {v:.1f}s" for k, v in self.timings.items()]
        return ", ".join(parts)

    def summary(self) -> str:
        tracks = ", ".join(f"{n} {label} tracks" for label, n in self.tracks.items())
        kinds = ", ".join(f"{k} {n}" for k, n in self.frame_kinds.items() if n)
        return (f"{self.src}: {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), "
                f"{tracks or 'no tracks'}; detectors per frame: {kinds or '-'}; busy: {self.split()}")


def _accepts_conf(detector) -> bool:
    fn = getattr(detector, "detect", detector)
    try:
        return "conf" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def video_schedule(anonymizer, settings: VideoSettings, fps: float) -> tuple[VideoSchedule, LightPasses]:
    """The frame schedule and light passes for ``anonymizer``'s profile, with ``settings`` overriding."""
    from fpblur.config.profiles import get_profile

    plan = get_profile(anonymizer.config.spec(anonymizer.targets[0]).profile).video
    full = plan.full_every if settings.full_every is None else settings.full_every
    light = plan.light_every if settings.light_every is None else settings.light_every
    return VideoSchedule(max(1, span_frames(full, fps)), span_frames(light, fps)), plan.light


class _Stopped(Exception):
    """Raised inside a stage when another stage failed."""


class _Run:
    """One video going through the threaded stages."""

    def __init__(self, reader: VideoReader, writer: VideoWriter, anonymizer, settings: VideoSettings,
                 on_frame: Callable[[dict], None] | None, desc: str) -> None:
        self.reader, self.writer, self.anonymizer, self.settings = reader, writer, anonymizer, settings
        self.on_frame = on_frame
        self.desc = desc
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        size = max(2, settings.queue_size)
        self.q_decoded: queue.Queue = queue.Queue(size)
        self.q_detected: queue.Queue = queue.Queue(size)
        self.q_encode: queue.Queue = queue.Queue(size)
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
        self.conf = {t: float(getattr(anonymizer.detectors[t], "conf", anonymizer.config.spec(t).effective_conf))
                     for t in anonymizer.targets}
        self.schedule, light = video_schedule(anonymizer, settings, fps)
        self.detectors = {"full": dict(anonymizer.detectors),
                          "light": {t: light_detector(d, light) for t, d in anonymizer.detectors.items()}}
        # A track found on a full frame must survive, and be back-filled, until the next full frame.
        reach = self.schedule.full_every
        cfg = TrackerConfig(conf=dict(self.conf), conf_low=settings.conf_low,
                            hold=max(span_frames(settings.hold, fps), reach), **settings.tracker)
        self.tracker_config = cfg
        self.detect_kwargs = {t: {"conf": cfg.keep_threshold(t)} if _accepts_conf(anonymizer.detectors[t]) else {}
                              for t in anonymizer.targets}
        self.lookahead = max(span_frames(settings.lookahead, fps), reach - 1)
        self.frame_kinds: dict[str, int] = {"full": 0, "light": 0, "none": 0}
        self.frames_out = 0
        self.audio_out = 0
        self.frames_with_regions = 0
        self.tracks: dict[str, int] = {t: 0 for t in anonymizer.targets}

    # -- queue helpers that give up when another stage failed -----------------------------------
    def _put(self, q: queue.Queue, item: Any) -> None:
        while True:
            if self.stop.is_set():
                raise _Stopped
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _get(self, q: queue.Queue) -> Any:
        while True:
            if self.stop.is_set():
                raise _Stopped
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
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                self.errors.append(exc)
                self.stop.set()

        return run

    # -- stages ---------------------------------------------------------------------------------
    def _decode(self) -> None:
        items = iter(self.reader)
        while True:
            t0 = time.perf_counter()
            item = next(items, _END)
            self.timings["decode"] += time.perf_counter() - t0
            self._put(self.q_decoded, item)
            if item is _END:
                return

    def _detect_batch(self, frames: list[Frame], last: bool = False) -> None:
        # The last frame has no later detection to interpolate towards: it always gets the full detectors.
        kinds = [("full" if last and i == len(frames) - 1 else self.schedule.kind(f.index))
                 for i, f in enumerate(frames)]
        per_frame: list[list[Detections]] = [[] for _ in frames]
        for kind in ("full", "light"):
            slots = [i for i, k in enumerate(kinds) if k == kind]
            if not slots:
                continue
            images = [frames[i].image for i in slots]
            for target in self.anonymizer.targets:
                det = self.detectors[kind][target]
                kw = self.detect_kwargs[target]
                t0 = time.perf_counter()
                if hasattr(det, "predict") and len(images) > 1:
                    results = det.predict(images, **kw)
                else:
                    call = getattr(det, "detect", det)
                    results = [call(im, **kw) for im in images]
                self.timings[f"detect {target}"] += time.perf_counter() - t0
                for i, res in zip(slots, results):
                    per_frame[i].append(res)
        for frame, kind, parts in zip(frames, kinds, per_frame):
            self.frame_kinds[kind] += 1
            self._put(self.q_detected, (frame, Detections.concat(parts), kind))

    def _detect(self) -> None:
        batch: list[Frame] = []
        held: Frame | None = None  # the newest frame waits until we know whether it is the last one
        limit = max(1, self.settings.batch)
        while True:
            item = self._get(self.q_decoded)
            if isinstance(item, Frame):
                if held is not None:
                    batch.append(held)
                held = item
                if batch and (len(batch) >= limit or self.q_decoded.empty()):
                    self._detect_batch(batch)
                    batch = []
                continue
            if item is _END:
                if held is not None:
                    batch.append(held)
                if batch:
                    self._detect_batch(batch, last=True)
                self._put(self.q_detected, item)
                return
            # Audio packets overtake waiting frames (the look-ahead delays frames anyway); the muxer interleaves.
            self._put(self.q_detected, item)

    def _emit(self, delayed, progress) -> None:
        t0 = time.perf_counter()
        frame, raw, kind = delayed.payload
        dets = delayed.regions()
        regions = self.anonymizer.regions(dets, frame.image.shape)
        if len(dets):
            image = self.anonymizer.apply(frame.image, dets, regions)
            self.frames_with_regions += 1
        else:
            image = frame.image
        if self.on_frame is not None:
            tb = self.reader.info.time_base
            self.on_frame({
                "frame": frame.index,
                "pts": frame.pts,
                "time": round(float(frame.pts * tb), 6),
                "pass": kind,
                "detections": raw.to_records(),
                "anonymized": dets.to_records(regions),
            })
        self.timings["track+anonymize"] += time.perf_counter() - t0
        self._put(self.q_encode, (frame, image))
        progress.update(1)

    def _track(self, progress) -> None:
        tracker = Tracker(self.tracker_config)
        # Held boxes follow the camera between detector frames (not needed when every frame is detected fully).
        camera = CameraMotion() if self.settings.camera_motion and self.schedule.full_every > 1 else None
        delay = Lookahead(self.lookahead, self.tracker_config.grow, self.tracker_config.max_grow)
        while True:
            item = self._get(self.q_detected)
            if isinstance(item, AudioPacket):
                self._put(self.q_encode, item)
                continue
            if item is _END:
                for d in delay.flush():
                    self._emit(d, progress)
                self._put(self.q_encode, _END)
                return
            t0 = time.perf_counter()
            frame, dets, kind = item
            motion = camera.step(frame.image, estimate=bool(tracker.tracks)) if camera is not None else None
            step = tracker.update(dets, self.width, self.height, motion)
            for label in map(str, step.started.labels):
                self.tracks[label] = self.tracks.get(label, 0) + 1
            ready = delay.push((frame, step.detections, kind), step)
            self.timings["track+anonymize"] += time.perf_counter() - t0
            for d in ready:
                self._emit(d, progress)

    def _encode(self) -> None:
        while True:
            item = self._get(self.q_encode)
            t0 = time.perf_counter()
            if item is _END:
                self.writer.finish()
                self.timings["encode"] += time.perf_counter() - t0
                return
            if isinstance(item, AudioPacket):
                self.writer.write_audio(item)
                self.audio_out += 1
            else:
                frame, image = item
                self.writer.write(frame, image)
                self.frames_out += 1
            self.timings["encode"] += time.perf_counter() - t0

    def run(self) -> None:
        from tqdm import tqdm

        threads = [threading.Thread(target=self._guard(fn), name=f"fpblur-{name}", daemon=True)
                   for name, fn in (("decode", self._decode), ("detect", self._detect), ("encode", self._encode))]
        total = self.reader.info.expected_frames or None
        with tqdm(total=total, desc=self.desc, unit="frame", disable=None if self.settings.progress is None
                  else not self.settings.progress, dynamic_ncols=True, leave=False) as progress:
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
            if isinstance(exc, (VideoError, KeyboardInterrupt)):
                raise exc
            text = str(exc).strip().splitlines()
            raise VideoError(f"{self.reader.path}: {type(exc).__name__}: {text[0] if text else ''}".rstrip(": "))
        if self.frames_out != self.reader.decoded:
            raise VideoError(f"{self.reader.path}: wrote {self.frames_out} of {self.reader.decoded} frames")


def anonymize_video(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    anonymizer,
    settings: VideoSettings | None = None,
    on_frame: Callable[[dict], None] | None = None,
    desc: str | None = None,
) -> VideoReport:
    """Anonymize one video file into ``dst`` (written atomically; deleted on any failure).

    ``anonymizer`` is an :class:`fpblur.Anonymizer` (its detectors, padding and mode are used);
    ``on_frame`` receives one JSON-ready dict per output frame (the ``--log`` records).
    """
    settings = settings or VideoSettings()
    src, dst = Path(src), Path(dst)
    start = time.perf_counter()
    with VideoReader(src) as reader:
        with atomic_output(dst) as tmp:
            writer = VideoWriter(tmp, reader, crf=settings.crf, preset=settings.preset)
            run = _Run(reader, writer, anonymizer, settings, on_frame, desc or src.name)
            try:
                run.run()
            finally:
                writer.close()
        info = reader.info
    return VideoReport(
        src=src, dst=dst, frames=run.frames_out, audio_packets=run.audio_out, width=info.width,
        height=info.height, rotation=info.rotation, seconds=time.perf_counter() - start,
        timings={k: round(v, 3) for k, v in run.timings.items()}, tracks=run.tracks,
        frames_with_regions=run.frames_with_regions, schedule=run.schedule.describe(),
        frame_kinds=dict(run.frame_kinds),
    )


__all__ = ["VideoSettings", "VideoReport", "anonymize_video", "parse_span", "span_frames", "VideoError"]
