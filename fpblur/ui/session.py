"""What the interactive front ends share: settings → cached ``Anonymizer``, and running one image or video.

The notebook widgets (:mod:`fpblur.ui.widgets`) and the Tk app (:mod:`fpblur.ui.app`) are thin layers over this
module; nothing here imports a GUI toolkit, so it is tested like any other code.  A front end's form becomes a
:class:`Settings` (:func:`settings_from_form`), and :meth:`Settings.config` resolves it through
:func:`fpblur.config.settings.resolve_config`, the resolver the command line and the Python API call, so the same
choices give the same :class:`~fpblur.config.settings.RunConfig` everywhere.  The forms' initial values are the
resolved default configuration's (:func:`default_target_settings`).
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fpblur.config.profiles import DEFAULT_PROFILE
from fpblur.config.settings import DEFAULT_MODE, MODES, RunConfig, default_config, resolve_config
from fpblur.config.spec import DetectorSpec
from fpblur.core.detections import Detections
from fpblur.core.files import IMAGE_EXTS, VIDEO_EXTS, InputError, same_file
from fpblur.detect.base import check_image
from fpblur.detect.factory import build_detector
from fpblur.media.images import read_image, write_image
from fpblur.media.video_io import CONTAINERS, Frame, VideoError, VideoReader
from fpblur.models.registry import weights_for
from fpblur.redact.anonymizer import Anonymizer
from fpblur.run.video import Cancelled as Cancelled  # re-exported: the one cancellation type (no output left)
from fpblur.run.video import anonymize_video

TARGETS = ("face", "plate")
WEIGHT_EXTS = (".pt", ".onnx")
AUTO_IMGSZ = 0  # imgsz 0 = the profile's sizes (as the CLI); custom YOLO weights run at 640
FORM_FIELDS = ("conf", "iou", "imgsz", "pad")  # the per-target numbers a front end's form holds


def media_kind(path: str | Path) -> str:
    """``"image"`` or ``"video"`` from the file extension of ``path`` (any case).

    Raises:
        InputError: an extension that is neither in ``IMAGE_EXTS`` nor in ``VIDEO_EXTS``.
    """
    suffix = Path(path).suffix.lower()
    if suffix in IMAGE_EXTS:
        return "image"
    if suffix in VIDEO_EXTS:
        return "video"
    known = ", ".join(e.lstrip(".") for e in IMAGE_EXTS + VIDEO_EXTS)
    raise InputError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of {known}")


def resolve_weights(target: str, value: str | None) -> str | None:
    """Map what a user typed in a weights field to ``DetectorSpec.weights``.

    Args:
        target: ``"face"`` or ``"plate"``.
        value: the field's text.  Empty, ``default`` or the registry default's name → None (the default
            detector); another registry name for the same target → its file; anything else is a path.

    Returns:
        The weights path, or None for the default detector.

    Raises:
        InputError: a registry name for the other target (:func:`fpblur.models.registry.weights_for`), a path
            that is not an existing file, or a file that is not ``.pt``/``.onnx``.
        fpblur.models.registry.ModelNotFound: a registry name whose file is not installed.
    """
    weights = weights_for(target, value)
    if weights is not None and Path(weights).suffix.lower() not in WEIGHT_EXTS:
        raise InputError(f"{value}: {target} weights must be a .pt or .onnx file")
    return weights


@dataclass(frozen=True)
class TargetSettings:
    """Per-target knobs of the front ends.  ``conf``/``iou``/``pad`` ``None`` = the profile's."""

    weights: str | None = None
    conf: float | None = None
    iou: float | None = None
    imgsz: int = AUTO_IMGSZ
    pad: float | None = None

    def check(self, target: str) -> None:
        """Check the knobs' ranges for ``target`` (named in the message).

        Raises:
            InputError: ``conf`` or ``iou`` outside [0, 1], ``pad`` outside [0, 2] (fraction of the box size per
                side), or ``imgsz`` (pixels) negative or not a multiple of 32.
        """
        for name, value, lo, hi in (
            ("conf", self.conf, 0.0, 1.0),
            ("iou", self.iou, 0.0, 1.0),
            ("pad", self.pad, 0.0, 2.0),
        ):
            if value is not None and not lo <= float(value) <= hi:
                raise InputError(f"{target} {name} must be between {lo:g} and {hi:g} (got {value:g})")
        if int(self.imgsz) < 0 or int(self.imgsz) % 32:
            raise InputError(f"{target} imgsz must be 0 (auto) or a positive multiple of 32 (got {self.imgsz})")

    def overrides(self, target: str) -> dict[str, Any]:
        """The :class:`DetectorSpec` fields these knobs set for ``target`` (``None``: the profile's), for the
        resolver.

        CenterFace has no input size: a non-zero ``imgsz`` caps the long side of its passes (``max_side``, pixels)
        instead; for YOLO weights it is the inference size.

        Raises:
            InputError: bad weights (see :func:`resolve_weights`).
        """
        weights = resolve_weights(target, self.weights)
        imgsz = int(self.imgsz) or None
        centerface = DetectorSpec(target, weights=weights).uses_centerface
        return {"weights": weights, "conf": self.conf, "iou": self.iou, "max_side" if centerface else "imgsz": imgsz}

    def spec(self, target: str, profile: str | None = None) -> DetectorSpec:
        """The resolved detector spec of ``target`` under ``profile`` (None: the default profile).

        Raises:
            InputError: knobs the resolver refuses (see :meth:`Settings.config`).
        """
        return Settings(targets=(target,), per_target={target: self}, profile=profile).config().spec(target)


def default_target_settings(target: str, profile: str | None = None) -> TargetSettings:
    """A form's initial values for ``target``: the resolved configuration of ``profile`` (None: the default one)
    without user choices; ``imgsz`` is :data:`AUTO_IMGSZ` (the profile's sizes).
    """
    config = default_config(profile)
    spec = config.spec(target)
    return TargetSettings(conf=spec.conf, iou=spec.iou, imgsz=AUTO_IMGSZ, pad=config.redact.pad[target])


@dataclass(frozen=True)
class Settings:
    """Everything a front end lets the user choose; :meth:`config` resolves it.

    ``per_target``: a target missing there (or a ``None`` knob) takes the profile's values.  ``video``:
    :class:`~fpblur.config.settings.VideoSettings` fields to override (the front ends set ``progress``).
    """

    targets: tuple[str, ...] = TARGETS
    mode: str = DEFAULT_MODE
    per_target: dict[str, TargetSettings] = field(default_factory=dict, hash=False)
    profile: str | None = None
    video: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def check(self) -> None:
        """Resolve the settings once, for its errors only.

        Raises:
            InputError: anything the resolver would refuse (see :meth:`config`).
        """
        self.config()

    def target(self, name: str) -> TargetSettings:
        """The knobs of target ``name`` (all ``None``: the profile's values when the form has none)."""
        return self.per_target.get(name) or TargetSettings()

    def config(self) -> RunConfig:
        """The resolved configuration (:func:`fpblur.config.settings.resolve_config`).

        Returns:
            The :class:`~fpblur.config.settings.RunConfig` the command line would run with the same choices.

        Raises:
            InputError: no target selected, an unknown mode or profile, a value out of range, missing or unusable
                weights (one line).
        """
        if not self.targets:
            raise InputError("select at least one target (face or plate)")
        if self.mode not in MODES:
            raise InputError(f"unknown mode {self.mode!r}; expected one of {', '.join(MODES)}")
        for t in self.targets:
            self.target(t).check(t)
        # every pad the form holds (a deselected target's too: its boxes can still come from a two-class model)
        pads = {t: ts.pad for t, ts in self.per_target.items() if ts is not None and ts.pad is not None}
        try:
            return resolve_config(
                self.profile,
                targets=self.targets,
                mode=self.mode,
                detectors={t: self.target(t).overrides(t) for t in self.targets},
                pad=pads,
                video=self.video,
            )
        except ValueError as exc:
            raise InputError(str(exc)) from None

    def specs(self) -> dict[str, DetectorSpec]:
        """The resolved detector spec of each selected target (``{target: DetectorSpec}``).

        Raises:
            InputError: see :meth:`config`.
        """
        return dict(self.config().detectors)

    def pads(self) -> dict[str, float]:
        """Padding of each selected target (fraction of the box size added on every side), resolved: the form's
        value, else the profile's.

        Raises:
            InputError: see :meth:`config`.
        """
        pads = self.config().redact.pad
        return {t: pads[t] for t in self.targets}


def snippet_arguments(settings: Settings) -> dict[str, Any]:
    """The keywords of ``Anonymizer(**kwargs)`` (:class:`fpblur.redact.anonymizer.Anonymizer`) that resolve to
    ``settings.config()``: ``profile``, ``targets``, ``mode``, ``specs`` (per selected target, the detector
    settings the form sets) and ``pad`` (per target, every padding the form holds).

    Raises:
        InputError: see :meth:`Settings.config`.
    """
    settings.check()
    specs = {}
    for t in settings.targets:
        specs[t] = {k: v for k, v in settings.target(t).overrides(t).items() if v is not None}
    pads = {t: ts.pad for t, ts in settings.per_target.items() if ts is not None and ts.pad is not None}
    kwargs: dict[str, Any] = {
        "profile": settings.profile or DEFAULT_PROFILE,
        "targets": tuple(settings.targets),
        "mode": settings.mode,
        "specs": specs,
    }
    if pads:
        kwargs["pad"] = pads
    if settings.video:
        kwargs["video"] = dict(settings.video)
    return kwargs


def code_snippet(settings: Settings, src: str | Path, dst: str | Path, *, sample: bool = False) -> str:
    """Python code that does what a front end does with ``settings``: anonymize ``src`` into ``dst`` through the
    public API (``Anonymizer(...)``, :func:`fpblur.run.video.anonymize_video` for a video).

    Args:
        settings: the front end's choices; the code's ``Anonymizer(...).config`` equals ``settings.config()``.
        src: the input as the code should name it (a file name, or a sample's name when ``sample``).
        dst: the output file the code writes.
        sample: ``src`` is one of fpblur's samples (the code finds it with
            :func:`fpblur.models.samples.sample_folder`).

    Returns:
        The code (one ``Anonymizer`` keyword per line).

    Raises:
        InputError: the settings are refused (see :meth:`Settings.config`), or ``src`` is neither an image nor a
            video.
    """
    kind = media_kind(src)
    kwargs = snippet_arguments(settings)
    imports = ["from fpblur import Anonymizer"]
    source = _py(str(src))
    if sample:
        imports.append("from fpblur.models.samples import sample_folder")
        source = f"sample_folder() / {_py(Path(src).name)}"
    if kind == "image":
        imports.append("from fpblur.media.images import read_image, write_image")
        run = [
            f"image = read_image({source}).pixels  # upright (EXIF orientation applied)",
            "out, detections = anonymizer.anonymize_image(image)",
            f"write_image({_py(str(dst))}, out)  # no metadata kept",
            'print(detections.count("face"), "faces,", detections.count("plate"), "plates")',
        ]
    else:
        imports.append("from fpblur.run.video import anonymize_video")
        run = [
            f"report = anonymize_video({source}, {_py(str(dst))}, anonymizer, anonymizer.config.video)",
            "print(report.summary())",
        ]
    args = "".join(f"    {k}={_py(v)},\n" for k, v in kwargs.items())
    return "\n".join(sorted(imports)) + "\n\n" + f"anonymizer = Anonymizer(\n{args})\n" + "\n".join(run) + "\n"


def _py(value: Any) -> str:
    """``value`` as Python source (strings double-quoted; dicts, tuples, lists, numbers, bools, None)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_py(k)}: {_py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(_py(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_py(v) for v in value) + "]"
    if isinstance(value, (bool, int, float)) or value is None:
        return repr(value)
    raise TypeError(f"cannot write {type(value).__name__} as Python source")


def settings_from_form(
    use: Mapping[str, bool],
    values: Mapping[str, Mapping[str, Any]],
    mode: str,
    profile: str | None = None,
    weights: Mapping[str, str] | None = None,
) -> Settings:
    """A front end's form → checked :class:`Settings` (the desktop app and the widget demo both call this).

    Args:
        use: per target, whether it is selected.
        values: per target, :data:`FORM_FIELDS` as numbers or as the text of an entry field (``imgsz`` a whole
            number of pixels).
        mode: the anonymization mode.
        profile: the profile name (None or empty: the default one).
        weights: per target, what the user typed as weights (``""``: the default model).

    Returns:
        The settings, already checked with :meth:`Settings.check`.

    Raises:
        InputError: a field is not a number, or :meth:`Settings.config` refuses the choices.
    """
    per = {}
    for t in TARGETS:
        raw = values[t]
        per[t] = TargetSettings(
            weights=((weights or {}).get(t) or "").strip() or None,
            conf=_form_number(t, "conf", raw["conf"]),
            iou=_form_number(t, "iou", raw["iou"]),
            imgsz=_form_number(t, "imgsz", raw["imgsz"], int),
            pad=_form_number(t, "pad", raw["pad"]),
        )
    settings = Settings(targets=tuple(t for t in TARGETS if use[t]), mode=mode, per_target=per, profile=profile or None)
    settings.check()
    return settings


def _form_number(target: str, name: str, raw: Any, kind: type = float) -> Any:
    if not isinstance(raw, str):
        return kind(raw)
    text = raw.strip()
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise InputError(f"{target} {name} must be {what} (got {text!r})") from None


def form_defaults(profile: str | None = None) -> dict[str, TargetSettings]:
    """Per target, a form's initial values under ``profile`` (what choosing a profile resets the form to)."""
    return {t: default_target_settings(t, profile) for t in TARGETS}


class AnonymizerCache:
    """Builds an :class:`Anonymizer` for some settings, reusing loaded detectors (thread-safe).

    Detectors (the expensive part: they load models) are kept per :class:`DetectorSpec`, so changing the
    mode or padding costs nothing and changing one target's knobs reloads only that target's model.

    Args:
        build: makes a detector from a resolved spec (default: :func:`fpblur.detect.factory.build_detector`).
        max_per_target: detectors kept per target; the least recently used one is dropped beyond that.
    """

    def __init__(self, build: Callable[[DetectorSpec], object] = build_detector, max_per_target: int = 3) -> None:
        self._build = build
        self._max = max_per_target
        self._detectors: OrderedDict[DetectorSpec, object] = OrderedDict()
        self._lock = threading.Lock()
        self.builds = 0  # how many detectors were built (tests and status lines read it)

    def detector(self, spec: DetectorSpec):
        """The detector of ``spec``: the cached one, else a new one from ``build`` (built outside the lock, so a
        slow model load does not block other callers).

        Raises:
            Whatever ``build`` raises for weights that cannot be loaded.
        """
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

    def get(self, settings: Settings | RunConfig) -> Anonymizer:
        """The anonymizer of ``settings`` (resolved here) or of a resolved configuration; detectors are shared
        between calls whose resolved specs are equal.

        Raises:
            InputError: settings the resolver refuses (see :meth:`Settings.config`); whatever building a detector
                raises.
        """
        config = settings if isinstance(settings, RunConfig) else settings.config()
        detectors = {t: self.detector(config.spec(t)) for t in config.targets}
        return Anonymizer(config, detectors=detectors)


@dataclass
class ImageResult:
    """One anonymized image: ``original`` as decoded (upright; BGR, or gray/BGRA/16-bit as stored), ``output``
    the anonymized copy (same shape and dtype), its ``detections`` (boxes in pixels) and ``seconds`` taken.
    """

    original: np.ndarray
    output: np.ndarray
    detections: Detections
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        """Detections per target, ``{"face": n, "plate": n}``."""
        return {t: self.detections.count(t) for t in TARGETS}


@dataclass
class VideoResult:
    """One anonymized video: the output ``path``, ``counts`` (tracks started per target: one face seen for 100
    frames counts once), ``frames`` written, ``seconds`` taken and the anonymized first frame (BGR) for previews.
    """

    path: Path
    counts: dict[str, int]
    frames: int
    seconds: float
    first_frame: np.ndarray | None = None  # anonymized, for previews


def counts_text(counts: dict[str, int]) -> str:
    """``"2 faces, 1 plate"``: ``counts`` per target as text, every target listed (0 when absent)."""

    def n(label: str) -> str:
        k = counts.get(label, 0)
        return f"{k} {label}{'' if k == 1 else 's'}"

    return ", ".join(n(t) for t in TARGETS)


def anonymize_pixels(anonymizer: Anonymizer, pixels: np.ndarray) -> ImageResult:
    """Detect and anonymize ``pixels`` (an image array as decoded) with ``anonymizer``; the input is not modified.

    Returns:
        An :class:`ImageResult` with the wall time in seconds.
    """
    start = time.perf_counter()
    out, dets = anonymizer.anonymize_image(pixels)
    return ImageResult(pixels, out, dets, time.perf_counter() - start)


def anonymize_image_file(anonymizer: Anonymizer, src: str | Path, dst: str | Path | None = None) -> ImageResult:
    """Read ``src`` (EXIF orientation applied), anonymize it and, when ``dst`` is given, write it (atomically,
    without metadata; the format follows ``dst``'s extension).

    Returns:
        The :class:`ImageResult`.

    Raises:
        InputError: ``dst`` is the input file, ``src`` cannot be read or decoded, or no encoder exists for
            ``dst``'s extension.
        OSError: ``dst`` cannot be written.
    """
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
    src = Path(src)
    suffix = src.suffix
    if suffix.lower() in VIDEO_EXTS and suffix.lower() not in CONTAINERS:
        suffix = ".mp4"
    return (Path(folder) if folder else src.parent) / f"{src.stem}_anon{suffix}"


def display_rgb(pixels: np.ndarray, max_side: int | None = None) -> np.ndarray:
    """8-bit RGB copy (H×W×3 uint8) of any image fpblur handles (gray/BGRA/16-bit), shrunk with area
    interpolation so that its long side is at most ``max_side`` pixels when given.
    """
    bgr = check_image(pixels)
    h, w = bgr.shape[:2]
    if max_side and max(h, w) > max_side:
        f = max_side / max(h, w)
        bgr = cv2.resize(bgr, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def preview_jpeg(pixels: np.ndarray, max_side: int = 720, quality: int = 85) -> bytes:
    """A JPEG (``quality`` 0–100) of ``pixels`` shrunk to at most ``max_side`` pixels, for on-screen previews."""
    rgb = display_rgb(pixels, max_side)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 BGR array
        raise RuntimeError("could not encode a preview")
    return buf.tobytes()


def probe_video(path: str | Path) -> tuple[np.ndarray, int]:
    """First upright frame of a video and its announced frame count, with one open and one decode.

    Returns:
        ``(frame, frames)``: the frame as a BGR H×W×3 uint8 array (rotation applied) and the container's frame
        count (0 if unknown).

    Raises:
        InputError: the file cannot be opened or decoded as a video.
    """
    try:
        with VideoReader(path) as reader:
            frame = next(item for item in reader if isinstance(item, Frame))
            return frame.image, reader.info.expected_frames
    except VideoError as exc:
        raise InputError(str(exc)) from None


def video_preview_frame(path: str | Path) -> np.ndarray:
    """First upright frame (BGR) of the video at ``path``; see :func:`probe_video` (raises ``InputError``)."""
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

    Args:
        anonymizer: the detectors and anonymization to use.
        src: the input video.
        dst: the output video (H.264; the container follows the extension); never the input.
        progress: ``progress(done, total)`` called from the calling thread after every output frame (``total``
            None when unknown).
        cancel: setting it stops the pipeline, deletes the partial output and raises
            :class:`~fpblur.run.video.Cancelled` (the pipeline's own, passed through unchanged).
        settings: video settings (default: the anonymizer's resolved ones, without a terminal progress bar).
        expected_frames: the frame count from :func:`probe_video` (0 = unknown), which saves opening the input
            once more just to learn ``total``.

    Returns:
        A :class:`VideoResult`; its counts are tracks started per label (one face seen for 100 frames counts once).

    Raises:
        InputError: ``dst`` is the input, or the video cannot be read or written.
        Cancelled: ``cancel`` was set.
    """
    src, dst = Path(src), Path(dst)
    if same_file(dst, src):
        raise InputError(f"{src}: output path equals the input; refusing to overwrite an input")
    total = (probe_video(src)[1] if expected_frames is None else expected_frames) or None
    done = 0

    def on_frame(_record: dict) -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    # the anonymizer's resolved video settings (its profile's frame schedule); no terminal progress bar
    settings = settings or replace(anonymizer.config.video, progress=False)
    try:
        report = anonymize_video(src, dst, anonymizer, settings, on_frame=on_frame, cancel=cancel)
    except VideoError as exc:
        raise InputError(str(exc)) from None
    counts = {t: int(report.tracks.get(t, 0)) for t in TARGETS}
    return VideoResult(dst, counts, report.frames, report.seconds, probe_video(dst)[0])
