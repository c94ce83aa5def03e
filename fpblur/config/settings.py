"""One configuration, resolved once: every default in one place, a profile chosen by name, overrides applied once.

:func:`resolve_config` is the only place where a profile's values and a user's choices meet.  The command line
(:mod:`fpblur.cli.common`), the Python API (:class:`fpblur.redact.anonymizer.Anonymizer`), the notebooks, the
desktop app and the widget demo (:mod:`fpblur.ui.session`) all call it, so the same choices made through any of
them give an equal :class:`RunConfig` (``tests/test_config.py`` checks this).

What it resolves:

* **detectors** — one :class:`~fpblur.config.spec.DetectorSpec` per target with every field the profile decides
  filled in (score threshold, NMS IoU, YOLO inference sizes or CenterFace passes), so a detector built from it
  never looks at a profile again;
* **redaction** — the mode, the padding per label (the chosen profile's, not always the default one's) and the
  mode's options;
* **video** — the frame schedule (full / light passes, from the same profile as the detectors), hold, look-ahead,
  keep-alive threshold, tracker parameters and the encoder's settings;
* **images** — the pixel limit and whether metadata is kept.

Overrides use ``None`` for "not set": only values a user actually chose win over the profile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

import numpy as np

from fpblur.config.profiles import (
    DEFAULT_PAD,
    DEFAULT_PROFILE,
    PROFILES,
    FullFramePasses,
    LightPasses,
    Profile,
    VideoPlan,
    get_profile,
)
from fpblur.config.spec import DetectorSpec
from fpblur.core.detections import LABELS, Detections

MODES = ("blur", "pixelate", "solid", "ellipse", "boxes")
DEFAULT_MODE = "blur"
DEFAULT_MAX_PIXELS = 100_000_000  # 100 MP; larger images are refused
DEFAULT_CRF = 20  # x264 quality (lower is better, bigger)
DEFAULT_PRESET = "veryfast"
SPANS = ("hold", "lookahead", "full_every", "light_every")  # VideoSettings fields in frames or seconds ("0.5s")
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


TRACK_CONF = {label: get_profile().conf(label) for label in LABELS}  # a track starts at the detector's own threshold
LOW_FRACTION = 0.5  # default conf_low = conf × this
CONFIRM_MARGIN = 0.3  # default confirm_conf = conf + this: one detection this sure confirms a track at once


@dataclass
class TrackerConfig:
    """Tracker parameters (:class:`fpblur.track.tracker.Tracker`).

    ``conf``/``conf_low`` are per label (a float applies to every label); the video runner fills ``conf`` from
    the resolved detector thresholds and ``hold`` from :class:`VideoSettings`, and :attr:`VideoSettings.tracker`
    overrides any other field.  Distances and sizes are fractions of a box's size; ``hold`` is in frames.  The
    comment beside each field says what it does.
    """

    conf: dict[str, float] | float = field(default_factory=lambda: dict(TRACK_CONF))
    conf_low: dict[str, float] | float | None = None  # default: conf × 0.5
    iou: float = 0.2  # minimum IoU between a track's predicted box and a detection to match
    max_distance: float = 1.0  # ... or centre distance (in track-box diagonals) for similar-sized boxes
    hold: int = 15  # frames a track stays anonymized without a detection
    smooth: float = 0.6  # EMA weight of a new detection (1.0 = no smoothing)
    velocity: bool = True  # extrapolate held boxes with the track's velocity
    velocity_smooth: float = 0.5
    max_shrink: float = 0.1  # a matched track's box shrinks at most this fraction per frame (0 at the border)
    grow: float = 0.03  # held boxes grow by this fraction of their size per side and missed frame
    max_grow: float = 0.3
    duplicate_iou: float = 0.5  # an unmatched detection overlapping a track this much starts no new track
    # Motion uncertainty of a carried box (velocity=True): the last detection moved by the velocity, grown per
    # side by speed_margin × speed × frames + accel × height × frames² / 2 + the camera-motion residual
    speed_margin: float = 0.25  # × the track's speed (pixels per frame) per frame carried: its estimate's error
    accel: float = 0.25  # plausible acceleration, in box heights per frame² (a head turning back at speed)
    max_margin: float = 3.0  # the uncertainty grows to at most this many box heights per side
    # Search window (re-checks on crops, and the matching gate): the carried box grown per side by search box
    # heights + how far the object gets in the frames since at its speed, or jump box heights per frame if more
    search: float = 0.5
    jump: float = 1.0  # a sudden start or turn, box heights per frame
    # Evidence: a track is confirmed by one detection scoring confirm_conf, or by confirm_hits detections at
    # conf + evidence_margin on frames the full detectors ran on; until then it is anonymized like any other
    # track, but only detections at conf keep it alive (it ends `hold` frames after the last one)
    confirm_conf: dict[str, float] | float | None = None  # default: conf + CONFIRM_MARGIN (0.3)
    confirm_hits: int = 2  # detections (the first included) that confirm a track
    evidence_margin: float = 0.1  # a confirming detection scores at least conf + this

    def evidence_threshold(self, label: str) -> float:
        """The score at which a detection of ``label`` on a full frame counts towards confirming a track:
        :meth:`start_threshold` + ``evidence_margin``, at most :meth:`confirm_threshold`."""
        return min(self.start_threshold(label) + self.evidence_margin, self.confirm_threshold(label))

    def confirm_threshold(self, label: str) -> float:
        """The score at which one detection of ``label`` confirms a track at once: ``confirm_conf`` for that label
        (never below :meth:`start_threshold`), else :meth:`start_threshold` + :data:`CONFIRM_MARGIN` (at most 1)."""
        start = self.start_threshold(label)
        high = self.confirm_conf
        if high is None:
            return min(1.0, start + CONFIRM_MARGIN)
        value = float(high.get(label, min(1.0, start + CONFIRM_MARGIN))) if isinstance(high, dict) else float(high)
        return max(value, start)

    def start_threshold(self, label: str) -> float:
        """The score at which a detection of ``label`` starts a track: ``conf`` for that label (the default
        profile's threshold for a label ``conf`` omits; the highest one for a label no profile knows)."""
        if isinstance(self.conf, dict):
            return float(self.conf.get(label, TRACK_CONF.get(label, max(TRACK_CONF.values()))))
        return float(self.conf)

    def keep_threshold(self, label: str) -> float:
        """The score at which a detection of ``label`` keeps an existing track alive: ``conf_low`` for that label
        (never above :meth:`start_threshold`), else :meth:`start_threshold` × :data:`LOW_FRACTION` (0.5)."""
        low = self.conf_low
        if low is None:
            return self.start_threshold(label) * LOW_FRACTION
        value = (
            float(low.get(label, self.start_threshold(label) * LOW_FRACTION)) if isinstance(low, dict) else float(low)
        )
        return min(value, self.start_threshold(label))

    def keep(self, dets: Detections) -> Detections:
        """The detections scoring at least their label's :meth:`keep_threshold` (what the tracker uses)."""
        if not len(dets):
            return dets
        return dets.filter(
            np.array([s >= self.keep_threshold(str(lab)) for s, lab in zip(dets.scores, dets.labels)], dtype=bool)
        )


@dataclass(frozen=True)
class RedactSettings:
    """How detected regions are changed.

    Attributes:
        mode: one of :data:`MODES`.
        pad: fraction of each box's width/height added on every side, per label (``{"face": 0.22, ...}``).
        pad_by_width: fraction of each box's width added above and below on top of ``pad``, per label (the
            default profile's plates: 0.1; :class:`~fpblur.config.profiles.Profile`).
        blur_strength: Gaussian sigma as a fraction of the region's longer side (``blur``/``ellipse``).
        pixel_blocks: mosaic cells along the region's longer side (``pixelate``).
        color: BGR fill of ``solid`` (0-255; scaled for 16-bit images).
    """

    mode: str = DEFAULT_MODE
    pad: Mapping[str, float] = field(default_factory=dict)
    pad_by_width: Mapping[str, float] = field(default_factory=dict)
    blur_strength: float = 0.25
    pixel_blocks: int = 8
    color: tuple[int, int, int] = (0, 0, 0)

    def pad_for(self, label: str) -> float:
        """Padding fraction for ``label`` (:data:`DEFAULT_PAD` for a label the profile does not name)."""
        return float(self.pad.get(label, DEFAULT_PAD))

    def pad_by_width_for(self, label: str) -> float:
        """Fraction of the box width added above and below for ``label`` (0 for a label not named)."""
        return float(self.pad_by_width.get(label, 0.0))

    @property
    def mode_options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`fpblur.redact.modes.anonymize` besides the mode."""
        return {"blur_strength": self.blur_strength, "pixel_blocks": self.pixel_blocks, "color": self.color}


@dataclass(frozen=True)
class RecheckSettings:
    """How carried boxes are re-checked on crops.

    Attributes:
        target_height: per label, the object's height on the network input, pixels (CenterFace finds faces
            best at 30–100 px; the plate model was trained on 640 px photos with plates 10–60 px tall).
        min_scale, max_scale: the crop's resize factor stays in this range.
        min_side: a crop's network input is at least this many pixels on each side.
        min_urgency: windows of tracks that cannot have moved this many object heights from their carried box
            are not searched on this frame (a still face is re-checked every other frame).
        budget: crop pixels on the network input per frame and label, as a fraction of what the label's light
            pass over the whole frame runs on (:func:`fpblur.track.recheck.light_pixels`); beyond it a frame with no
            detector runs the light pass, and crops only search what that missed.
        rotated: a face crop that misses any of its tracks' faces upright is searched again turned by the face
            detector's rotations (``--face-rotations``; none, or full frames without rotated passes: not searched):
            a face on its side that only the full frames' rotated passes find scores too low upright to be kept
            between them.  What a turned crop finds keeps tracks alive but starts none.

    It belongs to the video path's tracking stage (:mod:`fpblur.track.recheck` uses it); it lives with the
    settings so that :func:`resolve_config` refuses a bad ``recheck`` before a run starts.

    Raises:
        ValueError: a value of the wrong kind (``rotated`` not a bool, a negative budget, a non-positive scale).
    """

    target_height: Mapping[str, float] = field(default_factory=lambda: {"face": 48.0, "plate": 28.0})
    min_scale: float = 0.1
    max_scale: float = 2.5
    min_side: int = 64
    min_urgency: float = 0.1
    budget: float = 0.6
    rotated: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.rotated, bool):
            raise ValueError(f"recheck rotated must be true or false, got {self.rotated!r}")
        if not (self.budget >= 0 and 0 < self.min_scale <= self.max_scale):
            raise ValueError(
                f"recheck budget must be >= 0 and scales positive with min_scale <= max_scale, got budget {self.budget!r}, "
                f"min_scale {self.min_scale!r}, max_scale {self.max_scale!r}"
            )


@dataclass(frozen=True)
class VideoSettings:
    """The video path's knobs (``fpblur video`` options).

    Spans (``hold``, ``lookahead``, ``full_every``, ``light_every``) are whole frames (``15``) or seconds with an
    ``s`` suffix (``"0.5s"``).

    Attributes:
        hold: keep anonymizing a track this long after its detection is lost.
        lookahead: delay output this long and anonymize a new track's box before its first detection (0: off).
        conf_low: score that keeps an existing track alive (``None``: half of each target's threshold).
        full_every: run the full detectors on every N-th frame (1: every frame).
        light_every: light passes this often between full frames (0: none).
        light: what a light frame runs (CenterFace passes, plate-model sizes).
        full: what a full frame changes from the image profile (:class:`FullFramePasses`: upscaled passes capped
            at 2560 px, no crowd flip).
        camera_motion: move held boxes with the estimated camera motion.
        recheck: on frames without the full detectors, search a crop around every carried box so that objects
            that turn, stop or speed up are found again (:mod:`fpblur.track.recheck`; part of the light passes:
            none with ``light_every`` 0): True, False (off), or a mapping of
            :class:`RecheckSettings` fields.
        fast_motion: while a track moves faster than this many box heights per frame (and for two full-frame
            intervals after), frames that would run no detector run the light passes instead, so boxes carried
            through speed and direction changes are re-found (0: off, the default: the crop re-checks find them
            at a fraction of the cost; no effect with ``light_every`` 0).
        crf: x264 quality.  preset: x264 speed preset.
        batch: frames per detector call.  queue_size: frames per pipeline queue.
        progress: show a progress bar (``None``: when writing to a terminal).
        tracker: overrides of :class:`TrackerConfig` fields.
    """

    hold: str | int = "0.5s"
    lookahead: str | int = "0.5s"
    conf_low: float | None = None
    full_every: str | int = VideoPlan.full_every  # the default profile's plan (one place: config.profiles)
    light_every: str | int = VideoPlan.light_every
    light: LightPasses = field(default_factory=LightPasses)
    full: FullFramePasses = field(default_factory=FullFramePasses)
    camera_motion: bool = True
    recheck: Mapping[str, Any] | bool = True
    fast_motion: float = 0.0
    crf: float = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    batch: int = 4
    queue_size: int = 8
    progress: bool | None = None
    tracker: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageSettings:
    """Still-image knobs: refuse images over ``max_pixels`` (before decoding); keep EXIF/ICC when ``keep_metadata``."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    keep_metadata: bool = False


@dataclass(frozen=True)
class RunConfig:
    """Everything one run uses, fully resolved (see :func:`resolve_config`)."""

    profile: str
    targets: tuple[str, ...]
    detectors: Mapping[str, DetectorSpec]
    redact: RedactSettings
    video: VideoSettings
    image: ImageSettings

    @property
    def mode(self) -> str:
        """The anonymization mode (``config.redact.mode``)."""
        return self.redact.mode

    def spec(self, target: str) -> DetectorSpec:
        """The resolved detector spec of ``target``.

        Raises:
            KeyError: ``target`` is not in :attr:`targets`.
        """
        return self.detectors[target]

    def with_threads(self, threads: int | None) -> RunConfig:
        """The same configuration with every detector's ONNX Runtime intra-op threads set to ``threads`` (None:
        ONNX Runtime's choice).  Detections do not depend on it; a Ray worker gives its reserved CPUs."""
        return replace(self, detectors={t: replace(s, threads=threads) for t, s in self.detectors.items()})

    def with_mode(self, mode: str) -> RunConfig:
        """The same configuration with another anonymization mode.

        Raises:
            ValueError: ``mode`` is not one of :data:`MODES`.
        """
        return replace(self, redact=replace(self.redact, mode=check_mode(mode)))


Overrides = Mapping[str, Any] | None


_Passes = TypeVar("_Passes", FullFramePasses, LightPasses)


def frame_passes(value: Any, base: _Passes) -> _Passes:
    """What full or light video frames run (``VideoSettings.full`` / ``.light``): ``value`` itself when it is of
    ``base``'s type, ``base`` when it is None, else ``value`` is a mapping (JSON, YAML, the CLI) of fields that
    replace ``base``'s (lists become tuples).

    Raises:
        ValueError: an unknown field, or ``value`` neither a mapping nor of ``base``'s type (one line).
    """
    kind = type(base)
    what = "full-frame" if kind is FullFramePasses else "light-frame"
    if value is None:
        return base
    if isinstance(value, Mapping):
        _check_keys(kind, dict(value), f"video {what}")
        changes: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
        return replace(base, **changes)
    if not isinstance(value, kind):
        raise ValueError(f"video {what} settings must be a mapping of {kind.__name__} fields, got {value!r}")
    return value


def _set(values: Overrides, what: str = "settings") -> dict[str, Any]:
    """The overrides a user actually set (``None`` values dropped).

    Raises:
        ValueError: ``values`` is neither None nor a mapping (one line naming ``what``).
    """
    if values is not None and not isinstance(values, Mapping):
        raise ValueError(f"{what} must be a mapping of setting names to values, got {values!r}")
    return {k: v for k, v in (values or {}).items() if v is not None}


def _check_keys(kind: type, values: Mapping[str, Any], what: str) -> None:
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"unknown {what} setting(s): {', '.join(unknown)}; expected some of {', '.join(sorted(known))}"
        )


# the TrackerConfig fields that VideoSettings sets itself (the runner passes them): set there, not in ``tracker``
_TRACKER_FROM_VIDEO = {
    "conf": "the detector's conf (--face-conf, --plate-conf)",
    "conf_low": "conf_low (--conf-low)",
    "hold": "hold (--hold)",
}


def resolve_recheck(value: Any) -> dict[str, Any] | bool:
    """:attr:`VideoSettings.recheck` checked: ``True``/``False``, or a mapping of :class:`RecheckSettings` fields.

    Returns:
        ``value`` itself (a mapping as a plain dict).

    Raises:
        ValueError: neither a bool nor a mapping, an unknown field name, or a value :class:`RecheckSettings` refuses
            (one line).
    """
    if isinstance(value, bool):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"recheck must be true, false or a mapping of recheck settings, got {value!r}")
    options = dict(value)
    _check_keys(RecheckSettings, options, "recheck")
    try:
        RecheckSettings(**options)
    except TypeError as e:  # a comparison with a value of the wrong type (a string budget)
        raise ValueError(f"recheck settings {options!r}: {e}") from None
    return options


def resolve_tracker(value: Any) -> dict[str, Any]:
    """:attr:`VideoSettings.tracker` checked: a mapping of :class:`TrackerConfig` fields other than those the video
    settings set (``conf``, ``conf_low``, ``hold``).

    Raises:
        ValueError: not a mapping, an unknown field name, or one of the fields set elsewhere (one line naming
            where).
    """
    if not isinstance(value, Mapping):
        raise ValueError(f"tracker must be a mapping of tracker settings, got {value!r}")
    options = dict(value)
    elsewhere = [f"{k}: set {_TRACKER_FROM_VIDEO[k]}" for k in sorted(options) if k in _TRACKER_FROM_VIDEO]
    if elsewhere:
        raise ValueError(f"tracker settings set by the video settings, not here: {'; '.join(elsewhere)}")
    _check_keys(TrackerConfig, options, "tracker")
    return options


def check_mode(mode: str) -> str:
    """``mode`` itself, checked.

    Raises:
        ValueError: ``mode`` is not one of :data:`MODES` (one line listing them).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    return mode


def resolve_targets(targets: str | tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """What to find, as a tuple of known targets.

    Args:
        targets: comma-separated text (``"face,plate"``), a sequence (``("face",)``), or None (both).

    Returns:
        The targets in the order given, each once (None: :data:`~fpblur.core.detections.LABELS`).

    Raises:
        ValueError: an unknown target, or none at all.
    """
    if targets is None:
        return LABELS
    items = tuple(t.strip() for t in targets.split(",")) if isinstance(targets, str) else tuple(targets)
    items = tuple(t for t in items if t)
    bad = [t for t in items if t not in LABELS]
    if bad or not items:
        raise ValueError(f"targets must be face, plate or face,plate (got {','.join(map(str, items)) or 'none'})")
    return tuple(dict.fromkeys(items))


def resolve_detector(target: str, profile: Profile, override: DetectorSpec | Mapping[str, Any] | None) -> DetectorSpec:
    """``target``'s detector spec under ``profile`` with ``override``'s set fields winning.

    Fills ``conf`` and ``iou``, then what the backend uses: for the default CenterFace model ``scales`` (the
    profile's passes) and ``max_side``; for YOLO weights ``imgsz`` as a tuple (the profile's YOLO sizes, whether the
    weights are the default plate model or a file, unless ``imgsz`` is given).  Size fields the backend ignores are
    cleared (``imgsz`` for CenterFace; ``scales``, ``max_side`` for YOLO), so two choices that build the same
    detector give equal specs.

    Args:
        target: ``"face"`` or ``"plate"``.
        profile: the profile whose values fill unset fields.
        override: a :class:`DetectorSpec` (its non-None fields, and ``half`` when True) or a mapping of
            :class:`DetectorSpec` fields (None values ignored); its own ``target`` and ``profile`` are ignored.

    Returns:
        The resolved :class:`DetectorSpec` (``profile=profile.name``).

    Raises:
        ValueError: an unknown field, or ``conf``/``iou`` outside 0..1.
    """
    if isinstance(override, DetectorSpec):
        given = {f.name: getattr(override, f.name) for f in fields(DetectorSpec) if f.name not in ("target", "profile")}
        given = {k: v for k, v in given.items() if v is not None and not (k == "half" and v is False)}
    else:
        given = _set(override)
        _check_keys(DetectorSpec, given, f"{target} detector")
        given.pop("target", None)
        given.pop("profile", None)
    spec = DetectorSpec(target, profile=profile.name, **given)
    for name in ("conf", "iou"):
        value = getattr(spec, name)
        if value is not None and not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"{target} {name} must be between 0 and 1 (got {value:g})")
    filled: dict[str, Any] = {"conf": spec.effective_conf, "iou": spec.effective_iou}
    if spec.uses_centerface:
        filled["scales"] = tuple(spec.scales) if spec.scales else profile.face.passes
        filled["max_side"] = int(spec.max_side) if spec.max_side else profile.face.max_side
        filled["imgsz"] = None  # CenterFace runs at its passes' sizes
        rotations = profile.face.rotations if spec.rotations is None else spec.rotations
        if any(int(a) not in (90, 180, 270) for a in rotations):
            raise ValueError(f"face rotations must be 90, 180 or 270 degrees (got {', '.join(map(str, rotations))})")
        filled["rotations"] = tuple(dict.fromkeys(int(a) for a in rotations))
    else:
        filled["imgsz"] = spec.effective_imgsz
        filled.update(scales=None, max_side=None, rotations=None)
    return replace(spec, **filled)


def resolve_pad(profile: Profile, pad: float | Mapping[str, float] | None) -> dict[str, float]:
    """Padding per label, as fractions of a box's width/height added on every side.

    Args:
        profile: supplies the padding of labels ``pad`` does not set.
        pad: one fraction for every label, a mapping for some labels (None values ignored), or None (the
            profile's).

    Returns:
        ``{label: fraction}`` for every label of :data:`~fpblur.core.detections.LABELS` (and any extra label the
        mapping names).

    Raises:
        ValueError: a negative, NaN or infinite padding, or a value that is not a number (text of one is read).
    """
    return _per_label({label: float(profile.pad.get(label, DEFAULT_PAD)) for label in LABELS}, pad, "pad")


def resolve_pad_by_width(profile: Profile, pad_by_width: float | Mapping[str, float] | None) -> dict[str, float]:
    """Fraction of each box's width added above and below (on top of :func:`resolve_pad`), per label.

    Args:
        profile: supplies the value of labels ``pad_by_width`` does not set (its ``pad_by_width``, else 0).
        pad_by_width: one fraction for every label, a mapping for some labels (None values ignored), or None
            (the profile's).

    Returns:
        ``{label: fraction}`` for every label of :data:`~fpblur.core.detections.LABELS` (and any extra label the
        mapping names).

    Raises:
        ValueError: a negative, NaN or infinite fraction, or a value that is not a number (text of one is read).
    """
    base = {label: float(profile.pad_by_width.get(label, 0.0)) for label in LABELS}
    return _per_label(base, pad_by_width, "pad_by_width")


def _per_label(base: dict[str, float], value: float | Mapping[str, float] | None, what: str) -> dict[str, float]:
    """``base`` with ``value`` applied: None keeps it, a mapping replaces the labels it names, a number all."""
    if value is None:
        return base
    if isinstance(value, Mapping):
        given = {str(k): _non_negative(v, f"{k} {what}") for k, v in value.items() if v is not None}
        return {**base, **given}
    number = _non_negative(value, what)
    return {label: number for label in base}


def _non_negative(value: Any, what: str) -> float:
    """``value`` as a finite number >= 0 (a number, or text of one: paddings, ``fast_motion``); a one-line
    ValueError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, np.floating, np.integer)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not number >= 0 or not math.isfinite(number):
        raise ValueError(f"{what} must be 0 or more and finite (got {number:g})")
    return number


def resolve_config(
    profile: str | None = None,
    *,
    targets: str | tuple[str, ...] | list[str] | None = None,
    detectors: Mapping[str, DetectorSpec | Mapping[str, Any] | None] | None = None,
    mode: str | None = None,
    pad: float | Mapping[str, float] | None = None,
    redact: Overrides = None,
    video: Overrides = None,
    image: Overrides = None,
) -> RunConfig:
    """Apply a user's choices to the named profile, once.

    Args:
        profile: profile name (``None``: ``default``); see :data:`fpblur.config.profiles.PROFILES`.
        targets: what to find (``"face,plate"``, a sequence, or ``None`` for both).
        detectors: per target, a :class:`DetectorSpec` or a mapping of its fields; unset (``None``) fields take
            the profile's values.
        mode: anonymization mode (:data:`MODES`; ``None``: :data:`DEFAULT_MODE`).
        pad: padding fraction for every label, or per label (labels it omits: the profile's).  It leaves the
            profile's ``pad_by_width`` as it is (set that in ``redact``).
        redact: other :class:`RedactSettings` fields (``blur_strength``, ``pixel_blocks``, ``color``,
            ``pad_by_width``: a number for every label or a mapping, :func:`resolve_pad_by_width`).
        video: :class:`VideoSettings` fields; ``full_every``/``light_every``/``light``/``full`` default to the profile's
            video plan.
        image: :class:`ImageSettings` fields.

    Returns:
        The :class:`RunConfig` every runner and front end uses.

    Raises:
        ValueError: an unknown profile, target, mode or setting name, or a value out of range (one line).
    """
    prof = get_profile(profile if profile is not None else DEFAULT_PROFILE)
    chosen = resolve_targets(targets)
    per_target = dict(detectors or {})
    unknown = sorted(set(per_target) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown detector target(s): {', '.join(unknown)}; expected face or plate")
    specs = {t: resolve_detector(t, prof, per_target.get(t)) for t in chosen}

    redact_set = _set(redact, "redact")
    _check_keys(RedactSettings, redact_set, "redaction")
    redact_pad = redact_set.pop("pad", None)
    pad = redact_pad if pad is None else pad
    redact_mode = redact_set.pop("mode", DEFAULT_MODE)
    chosen_mode = check_mode(redact_mode if mode is None else mode)
    if "color" in redact_set:
        redact_set["color"] = tuple(int(c) for c in redact_set["color"])
    by_width = resolve_pad_by_width(prof, redact_set.pop("pad_by_width", None))
    redaction = RedactSettings(mode=chosen_mode, pad=resolve_pad(prof, pad), pad_by_width=by_width, **redact_set)

    video_set = _set(video, "video")
    _check_keys(VideoSettings, video_set, "video")
    for name in SPANS:  # 15 and "15" are the same span
        if isinstance(video_set.get(name), int) and not isinstance(video_set[name], bool):
            video_set[name] = str(video_set[name])
    plan = prof.video
    video_set.setdefault("full_every", plan.full_every)
    video_set.setdefault("light_every", plan.light_every)
    video_set["full"] = frame_passes(video_set.get("full"), plan.full)
    video_set["light"] = frame_passes(video_set.get("light"), plan.light)
    if video_set.get("preset", DEFAULT_PRESET) not in X264_PRESETS:
        raise ValueError(f"unknown x264 preset {video_set['preset']!r}; expected one of {', '.join(X264_PRESETS)}")
    if int(video_set.get("batch", 1)) < 1:
        raise ValueError(f"batch must be at least 1 frame (got {video_set['batch']})")
    if not 0.0 <= float(video_set.get("conf_low", 0.0)) <= 1.0:
        raise ValueError(f"conf_low must be between 0 and 1 (got {video_set['conf_low']:g})")
    if "fast_motion" in video_set:
        video_set["fast_motion"] = _non_negative(video_set["fast_motion"], "fast_motion")
    if "recheck" in video_set:
        video_set["recheck"] = resolve_recheck(video_set["recheck"])
    if "tracker" in video_set:
        video_set["tracker"] = resolve_tracker(video_set["tracker"])
    video_settings = VideoSettings(**video_set)

    image_set = _set(image, "image")
    _check_keys(ImageSettings, image_set, "image")
    if int(image_set.get("max_pixels", 1)) < 1:
        raise ValueError(f"max_pixels must be positive (got {image_set['max_pixels']})")
    return RunConfig(prof.name, chosen, specs, redaction, video_settings, ImageSettings(**image_set))


def default_config(profile: str | None = None) -> RunConfig:
    """The resolved configuration with no user choice (what front ends show as their initial values)."""
    return resolve_config(profile)


__all__ = [
    "MODES",
    "DEFAULT_MODE",
    "DEFAULT_PAD",
    "DEFAULT_PROFILE",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_CRF",
    "DEFAULT_PRESET",
    "X264_PRESETS",
    "SPANS",
    "PROFILES",
    "RedactSettings",
    "VideoSettings",
    "ImageSettings",
    "RunConfig",
    "check_mode",
    "default_config",
    "frame_passes",
    "resolve_config",
    "resolve_detector",
    "resolve_pad",
    "resolve_pad_by_width",
    "resolve_recheck",
    "resolve_tracker",
    "RecheckSettings",
    "resolve_targets",
]
