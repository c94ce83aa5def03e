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

from fpblur.detections import Detections
from fpblur.files import atomic_output
from fpblur.track import Lookahead, Tracker, TrackerConfig, hold_frames
from fpblur.video.io import DEFAULT_CRF, DEFAULT_PRESET, AudioPacket, Frame, VideoError, VideoReader, VideoWriter

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

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def split(self) -> str:
        parts = [f"{k} {v:.1f}s" for k, v in self.timings.items()]
        return ", ".join(parts)

    def summary(self) -> str:
        tracks = ", ".join(f"{n} {label} tracks" for label, n in self.tracks.items())
        return (f"{self.src}: {self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps), "
                f"{tracks or 'no tracks'}; busy: {self.split()}")


def _accepts_conf(detector) -> bool:
    fn = getattr(detector, "detect", detector)
    try:
        return "conf" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


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
        cfg = TrackerConfig(conf=dict(self.conf), conf_low=settings.conf_low,
                            hold=span_frames(settings.hold, fps), **settings.tracker)
        self.tracker_config = cfg
        self.detect_kwargs = {t: {"conf": cfg.keep_threshold(t)} if _accepts_conf(anonymizer.detectors[t]) else {}
                              for t in anonymizer.targets}
        self.lookahead = span_frames(settings.lookahead, fps)
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

    def _detect_batch(self, frames: list[Frame]) -> None:
        per_frame: list[list[Detections]] = [[] for _ in frames]
        images = [f.image for f in frames]
        for target in self.anonymizer.targets:
            det = self.anonymizer.detectors[target]
            kw = self.detect_kwargs[target]
            t0 = time.perf_counter()
            if hasattr(det, "predict") and len(images) > 1:
                results = det.predict(images, **kw)
            else:
                call = getattr(det, "detect", det)
                results = [call(im, **kw) for im in images]
            self.timings[f"detect {target}"] += time.perf_counter() - t0
            for slot, res in zip(per_frame, results):
                slot.append(res)
        for frame, parts in zip(frames, per_frame):
            self._put(self.q_detected, (frame, Detections.concat(parts)))

    def _detect(self) -> None:
        batch: list[Frame] = []
        limit = max(1, self.settings.batch)
        while True:
            item = self._get(self.q_decoded)
            if isinstance(item, Frame):
                batch.append(item)
                if len(batch) >= limit or self.q_decoded.empty():
                    self._detect_batch(batch)
                    batch = []
                continue
            if batch:
                self._detect_batch(batch)
                batch = []
            self._put(self.q_detected, item)
            if item is _END:
                return

    def _emit(self, delayed, progress) -> None:
        t0 = time.perf_counter()
        frame, raw = delayed.payload
        dets = delayed.regions()
        if len(dets):
            image = self.anonymizer.apply(frame.image, dets)
            self.frames_with_regions += 1
        else:
            image = frame.image
        if self.on_frame is not None:
            regions = self.anonymizer.regions(dets, image.shape)
            tb = self.reader.info.time_base
            self.on_frame({
                "frame": frame.index,
                "pts": frame.pts,
                "time": round(float(frame.pts * tb), 6),
                "detections": raw.to_records(),
                "anonymized": dets.to_records(regions),
            })
        self.timings["track+anonymize"] += time.perf_counter() - t0
        self._put(self.q_encode, (frame, image))
        progress.update(1)

    def _track(self, progress) -> None:
        tracker = Tracker(self.tracker_config)
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
            frame, dets = item
            step = tracker.update(dets, self.width, self.height)
            for label in map(str, step.started.labels):
                self.tracks[label] = self.tracks.get(label, 0) + 1
            ready = delay.push((frame, step.detections), step)
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
        frames_with_regions=run.frames_with_regions,
    )


__all__ = ["VideoSettings", "VideoReport", "anonymize_video", "parse_span", "span_frames", "VideoError"]
