"""What the interactive front ends share: settings → cached ``Anonymizer``, and running one image or video.

The notebook widgets (:mod:`fpblur.ui.widgets`) and the Tk app (:mod:`fpblur.ui.app`) are thin layers over this
module; nothing here imports a GUI toolkit, so it is tested like any other code.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from fpblur.redact.modes import MODES
from fpblur.redact.anonymizer import Anonymizer, default_pad
from fpblur.core.detections import Detections
from fpblur.config.spec import DEFAULT_CONF, DEFAULT_IOU, DetectorSpec
from fpblur.detect.factory import build_detector
from fpblur.core.files import IMAGE_EXTS, VIDEO_EXTS, InputError, same_file
from fpblur.media.images import read_image, write_image
from fpblur.models.registry import weights_for

TARGETS = ("face", "plate")
WEIGHT_EXTS = (".pt", ".onnx")
AUTO_IMGSZ = 0  # imgsz 0 = the default profile's sizes (as the CLI); custom YOLO weights run at 640


class Cancelled(Exception):
    """The user pressed Cancel; partial outputs have been removed."""


def media_kind(path: str | Path) -> str:
    """``"image"`` or ``"video"`` from the file extension; :class:`InputError` for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTS:
        return "image"
    if suffix in VIDEO_EXTS:
        return "video"
    known = ", ".join(e.lstrip(".") for e in IMAGE_EXTS + VIDEO_EXTS)
    raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of {known}")


def resolve_weights(target: str, value: str | None) -> str | None:
    """Map what a user typed in a weights field to ``DetectorSpec.weights``.

    Empty, ``default`` or the registry default's name → ``None`` (the default detector); another registry
    name for the same target → its file; a registry name for the other target is an error
    (:func:`fpblur.models.registry.weights_for`); anything else must be an existing ``.pt``/``.onnx`` file.
    """
    weights = weights_for(target, value)
    if weights is not None and Path(weights).suffix.lower() not in WEIGHT_EXTS:
        raise InputError(f"{value}: {target} weights must be a .pt or .onnx file")
    return weights


@dataclass(frozen=True)
class TargetSettings:
    """Per-target knobs of the front ends.  ``conf``/``iou``/``pad`` ``None`` = the default profile's."""

    weights: str | None = None
    conf: float | None = None
    iou: float | None = None
    imgsz: int = AUTO_IMGSZ
    pad: float | None = None

    def check(self, target: str) -> None:
        for name, value, lo, hi in (("conf", self.conf, 0.0, 1.0), ("iou", self.iou, 0.0, 1.0), ("pad", self.pad, 0.0, 2.0)):
            if value is not None and not lo <= float(value) <= hi:
                raise InputError(f"{target} {name} must be between {lo:g} and {hi:g} (got {value:g})")
        if int(self.imgsz) < 0 or int(self.imgsz) % 32:
            raise InputError(f"{target} imgsz must be 0 (auto) or a positive multiple of 32 (got {self.imgsz})")

    def spec(self, target: str) -> DetectorSpec:
        imgsz = int(self.imgsz) or None
        spec = DetectorSpec(target=target, weights=resolve_weights(target, self.weights), conf=self.conf,
                            iou=self.iou, imgsz=imgsz)
        # CenterFace has no input size: a non-zero imgsz caps the long side of its passes instead
        return replace(spec, max_side=imgsz) if spec.uses_centerface else spec


def default_target_settings(target: str) -> TargetSettings:
    return TargetSettings(conf=DEFAULT_CONF[target], iou=DEFAULT_IOU[target], imgsz=AUTO_IMGSZ, pad=default_pad(target))


@dataclass(frozen=True)
class Settings:
    """Everything a front end lets the user choose."""

    targets: tuple[str, ...] = TARGETS
    mode: str = "blur"
    per_target: dict[str, TargetSettings] = field(
        default_factory=lambda: {t: default_target_settings(t) for t in TARGETS}, hash=False
    )

    def check(self) -> None:
        if not self.targets:
            raise InputError("select at least one target (face or plate)")
        if self.mode not in MODES:
            raise InputError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)}")
        for t in self.targets:
            self.target(t).check(t)

    def target(self, name: str) -> TargetSettings:
        return self.per_target.get(name) or default_target_settings(name)

    def specs(self) -> dict[str, DetectorSpec]:
        return {t: self.target(t).spec(t) for t in self.targets}

    def pads(self) -> dict[str, float]:
        """Padding per selected target; ``None`` = the default profile's (:func:`fpblur.redact.anonymizer.default_pad`)."""
        pads = {t: self.target(t).pad for t in self.targets}
        return {t: default_pad(t) if pad is None else float(pad) for t, pad in pads.items()}


class AnonymizerCache:
    """Builds an :class:`Anonymizer` for some settings, reusing loaded detectors.

    Detectors (the expensive part: they load models) are kept per :class:`DetectorSpec`, so changing the
    mode or padding costs nothing and changing one target's knobs reloads only that target's model.  The
    cache holds at most ``max_per_target`` detectors per target (least recently used dropped).
    """

    def __init__(self, build: Callable[[DetectorSpec], object] = build_detector, max_per_target: int = 3) -> None:
        self._build = build
        self._max = max_per_target
        self._detectors: OrderedDict[DetectorSpec, object] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0  # how many detectors were built (tests and status lines read it)

    def detector(self, spec: DetectorSpec):
        with self._lock:
            if spec in self._detectors:
                self._detectors.move_to_end(spec)
                return self._detectors[spec]
        det = self._build(spec)  # outside the lock: slow, and the UI may ask for another one meanwhile
        with self._lock:
            self._detectors[spec] = det
            self.builds += 1
            same = [s for s in self._detectors if s.target == spec.target]
            for old in same[: max(0, len(same) - self._max)]:
                del self._detectors[old]
        return det

    def get(self, settings: Settings) -> Anonymizer:
        settings.check()
        specs = settings.specs()
        detectors = {t: self.detector(specs[t]) for t in settings.targets}
        return Anonymizer(settings.targets, settings.mode, settings.pads(), specs, detectors=detectors)


@dataclass
class ImageResult:
    original: np.ndarray
    output: np.ndarray
    detections: Detections
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        return {t: self.detections.count(t) for t in TARGETS}


@dataclass
class VideoResult:
    path: Path
    counts: dict[str, int]
    frames: int
    seconds: float
    first_frame: np.ndarray | None = None  # anonymized, for previews


def counts_text(counts: dict[str, int]) -> str:
    def n(label: str) -> str:
        k = counts.get(label, 0)
        return f"{k} {label}{'' if k == 1 else 's'}"

    return ", ".join(n(t) for t in TARGETS)


def anonymize_pixels(anonymizer: Anonymizer, pixels: np.ndarray) -> ImageResult:
    start = time.perf_counter()
    out, dets = anonymizer.anonymize_image(pixels)
    return ImageResult(pixels, out, dets, time.perf_counter() - start)


def anonymize_image_file(anonymizer: Anonymizer, src: str | Path, dst: str | Path | None = None) -> ImageResult:
    """Read (EXIF orientation applied), anonymize and optionally write (atomically, no metadata)."""
    if dst is not None and same_file(Path(dst), Path(src)):
        raise InputError(f"{src}: output path equals the input; refusing to overwrite an input")
    result = anonymize_pixels(anonymizer, read_image(src).pixels)
    if dst is not None:
        write_image(dst, result.output)
    return result


def default_output(src: str | Path, folder: str | Path | None = None) -> Path:
    """``photo.jpg`` → ``photo_anon.jpg`` beside it (or in ``folder``).

    Videos keep ``.mp4``/``.m4v``/``.mov``/``.mkv``; other video types (``.avi``, ``.webm``, ``.ts``…) become
    ``.mp4``, the containers the H.264 writer supports (as ``fpblur video`` does).
    """
    from fpblur.media.video_io import CONTAINERS

    src = Path(src)
    suffix = src.suffix
    if suffix.lower() in VIDEO_EXTS and suffix.lower() not in CONTAINERS:
        suffix = ".mp4"
    return (Path(folder) if folder else src.parent) / f"{src.stem}_anon{suffix}"


def display_rgb(pixels: np.ndarray, max_side: int | None = None) -> np.ndarray:
    """8-bit RGB copy of any image fpblur handles (gray/BGRA/16-bit), shrunk to ``max_side`` if given."""
    from fpblur.detect.base import check_image

    bgr = check_image(pixels)
    h, w = bgr.shape[:2]
    if max_side and max(h, w) > max_side:
        f = max_side / max(h, w)
        bgr = cv2.resize(bgr, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def preview_jpeg(pixels: np.ndarray, max_side: int = 720, quality: int = 85) -> bytes:
    """A small JPEG of ``pixels`` for on-screen previews."""
    rgb = display_rgb(pixels, max_side)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR array
        raise RuntimeError("could not encode a preview")
    return buf.tobytes()


def probe_video(path: str | Path) -> tuple[np.ndarray, int]:
    """First upright frame of a video and its announced frame count (0 if unknown): one open, one decode."""
    from fpblur.media.video_io import Frame, VideoError, VideoReader

    try:
        with VideoReader(path) as reader:
            frame = next(item for item in reader if isinstance(item, Frame))
            return frame.image, reader.info.expected_frames
    except VideoError as exc:
        raise InputError(str(exc)) from None


def video_preview_frame(path: str | Path) -> np.ndarray:
    return probe_video(path)[0]


def anonymize_video_file(
    anonymizer: Anonymizer,
    src: str | Path,
    dst: str | Path,
    progress: Callable[[int, int | None], None] | None = None,
    cancel: threading.Event | None = None,
    settings=None,
    expected_frames: int | None = None,
) -> VideoResult:
    """Run the streaming video pipeline (:mod:`fpblur.run.video`) with progress callbacks and cancellation.

    ``progress(done, total)`` is called from the calling thread after every output frame; setting ``cancel``
    stops the pipeline, deletes the partial output and raises :class:`Cancelled`.  Counts are tracks started
    per label (one face seen for 100 frames counts once).  ``expected_frames`` (from :func:`probe_video`; 0 =
    unknown) saves opening the input once more just to learn the total for ``progress``.
    """
    from fpblur.media.video_io import VideoError
    from fpblur.run.video import VideoSettings, anonymize_video

    src, dst = Path(src), Path(dst)
    if same_file(dst, src):
        raise InputError(f"{src}: output path equals the input; refusing to overwrite an input")
    total = (probe_video(src)[1] if expected_frames is None else expected_frames) or None
    done = 0

    def on_frame(_record: dict) -> None:
        nonlocal done
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        done += 1
        if progress is not None:
            progress(done, total)

    settings = settings or VideoSettings(progress=False)
    try:
        report = anonymize_video(src, dst, anonymizer, settings, on_frame=on_frame)
    except (Cancelled, VideoError) as exc:
        if cancel is not None and cancel.is_set():
            raise Cancelled() from None
        if isinstance(exc, Cancelled):
            raise
        raise InputError(str(exc)) from None
    counts = {t: int(report.tracks.get(t, 0)) for t in TARGETS}
    return VideoResult(dst, counts, report.frames, report.seconds, probe_video(dst)[0])
