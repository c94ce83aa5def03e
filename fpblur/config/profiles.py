"""Named detection profiles: what the default detectors run, and how much padding the anonymizer adds.

* ``default`` favours recall (a missed face is a privacy leak).  Faces: CenterFace twice, upscaled ×2 (long
  side capped at 4096 px) for faces under ~80 px and downscaled to a 640 px long side for larger ones (huge
  close-ups that full resolution misses), merged by NMS + box voting; boxes under 8 / 16 px need a raw score
  0.05 / 0.01 higher; face regions padded 0.22 per side.  Plates: the YOLOv8n plate model (ONNX) at 640 and
  480 px, merged, threshold 0.15, padded 0.25.  Faces cost about 4.3× one full-resolution CenterFace pass.
* ``fast`` favours speed: int8 CenterFace at full resolution (long side capped at 1920 px) plus the 640 px
  pass; plates at 480 px, threshold 0.2.  Faces cost about 0.8× one fp32 full-resolution pass (what
  ``deface`` runs) on CPUs with VNNI.

On video both run through a frame schedule (:class:`VideoPlan`, :mod:`fpblur.track.schedule`): the full
detectors every 0.3 s, light passes (faces ×0.75, plates 480 px) every other frame between, the tracker alone
on the rest.

``benchmarks/quality.py`` measures both (numbers in the README's "Quality and speed" section).  Anything a
user sets explicitly (``--face-conf``, ``--face-scales``, ``--imgsz``, ``--pad``…) wins over the profile.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING


if TYPE_CHECKING:  # pragma: no cover - config.spec imports this module
    from fpblur.config.spec import DetectorSpec


@dataclass(frozen=True)
class FaceSettings:
    """CenterFace settings (see :class:`fpblur.detect.centerface.CenterFaceDetector`).

    ``passes`` in :class:`~fpblur.detect.centerface.ScalePass` text form: ``"2@4096"`` = upscaled ×2 with
    the long side capped at 4096 px, ``"640px"`` = long side 640 px (never enlarged), ``"1"`` = full resolution.
    """

    conf: float = 0.2
    iou: float = 0.3
    passes: tuple[str, ...] = ("1",)
    max_side: int | None = None
    min_net: float = 40.0
    vote_iou: float | None = None
    small_penalty: tuple[tuple[float, float], ...] = ()
    precision: str = "fp32"  # or "int8": statically quantised graph, ~1.6x faster on VNNI CPUs


@dataclass(frozen=True)
class PlateSettings:
    """YOLO plate-model settings: one or more inference sizes (merged by NMS, + voting if ``vote_iou``).

    ``onnx``: run the default plate model as a cached ONNX export on CPU (:mod:`fpblur.detect.plate_model`).
    """

    conf: float = 0.25
    iou: float = 0.45
    imgsz: tuple[int, ...] = (640,)
    vote_iou: float | None = None
    onnx: bool = True


@dataclass(frozen=True)
class LightPasses:
    """What a light video frame runs (:mod:`fpblur.track.schedule`): CenterFace ``face_passes`` and the plate
    model's ``plate_imgsz`` sizes."""

    face_passes: tuple[str, ...] = ("0.75",)
    plate_imgsz: tuple[int, ...] = (480,)


@dataclass(frozen=True)
class VideoPlan:
    """How ``fpblur video`` spreads the profile over frames (:mod:`fpblur.track.schedule`): the full detectors
    every ``full_every`` and cheap ``light`` passes every ``light_every`` in between (frames, or seconds with an
    ``s`` suffix: 8 and 2 frames at 25 fps; at 12 fps light passes run on every frame), the tracker alone on
    the rest."""

    full_every: str = "0.3s"
    light_every: str = "0.08s"
    light: LightPasses = field(default_factory=LightPasses)


@dataclass(frozen=True)
class Profile:
    name: str
    summary: str
    face: FaceSettings = field(default_factory=FaceSettings)
    plate: PlateSettings = field(default_factory=PlateSettings)
    pad: dict = field(default_factory=lambda: {"face": 0.18, "plate": 0.18}, hash=False)
    video: VideoPlan = field(default_factory=VideoPlan)

    def conf(self, target: str) -> float:
        return self._settings(target).conf

    def iou(self, target: str) -> float:
        return self._settings(target).iou

    def _settings(self, target: str) -> FaceSettings | PlateSettings:
        if target == "face":
            return self.face
        if target == "plate":
            return self.plate
        raise ValueError(f"unknown target {target!r}; expected face or plate")

    def spec(self, target: str, **overrides) -> "DetectorSpec":
        """A :class:`DetectorSpec` for ``target`` under this profile; ``overrides`` (not None) win."""
        from fpblur.config.spec import DetectorSpec  # spec.py imports this module at its top

        fields = {k: v for k, v in overrides.items() if v is not None}
        return DetectorSpec(target, profile=self.name, **fields)

    def describe(self) -> str:
        f, p = self.face, self.plate
        passes = ",".join(str(x) for x in f.passes)
        cap = f" max side {f.max_side}" if f.max_side else ""
        pen = ", ".join(f"<{b:g}px -{v:g}" for b, v in f.small_penalty) or "none"
        return (f"{self.name}: faces CenterFace passes {passes}{cap}, conf {f.conf:g}, NMS {f.iou:g}, "
                f"vote {f.vote_iou}, small-box penalty {pen}, {f.precision}, pad {self.pad.get('face')}; "
                f"plates imgsz {','.join(map(str, p.imgsz))}, conf {p.conf:g}, {'ONNX' if p.onnx else 'PyTorch'}, "
                f"pad {self.pad.get('plate')}")


_DEFAULT = Profile(
    name="default",
    summary="recall first: CenterFace ×2 upscaled + 640 px passes, plates at 640+480 px",
    face=FaceSettings(
        conf=0.2,
        iou=0.3,
        passes=("2@4096", "640px"),
        min_net=40.0,
        vote_iou=0.5,
        small_penalty=((8.0, 0.05), (16.0, 0.01)),
    ),
    plate=PlateSettings(conf=0.15, iou=0.45, imgsz=(640, 480)),
    pad={"face": 0.22, "plate": 0.25},
)

# fast = default with a cheaper face pass set (int8, no upscaling) and one smaller plate size
_FAST = replace(
    _DEFAULT,
    name="fast",
    summary="speed first: int8 CenterFace at full resolution + 640 px pass, plates at 480 px",
    face=replace(_DEFAULT.face, passes=("1", "640px"), max_side=1920, precision="int8"),
    plate=replace(_DEFAULT.plate, conf=0.2, imgsz=(480,)),
    pad=dict(_DEFAULT.pad),
)

PROFILES: dict[str, Profile] = {p.name: p for p in (_DEFAULT, _FAST)}

DEFAULT_PROFILE = "default"


def get_profile(name: str | None = None) -> Profile:
    """The named profile (``None`` → ``default``); a one-line error lists the known names."""
    key = DEFAULT_PROFILE if name is None else str(name)
    if key not in PROFILES:
        raise ValueError(f"unknown profile {key!r}; expected one of {', '.join(PROFILES)}")
    return PROFILES[key]
