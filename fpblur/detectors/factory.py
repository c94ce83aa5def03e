"""Build a detector from a small declarative spec (what the CLI, the widgets and the app pass around).

Every field left ``None`` takes its value from the spec's named profile (:mod:`fpblur.profiles`; ``default``
unless ``profile="fast"``), so ``DetectorSpec("face")`` is exactly what ``fpblur image`` runs by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fpblur.models import DEFAULTS, model_path
from fpblur.profiles import DEFAULT_PROFILE, get_profile

DEFAULT_CONF = {t: get_profile().conf(t) for t in ("face", "plate")}
DEFAULT_IOU = {t: get_profile().iou(t) for t in ("face", "plate")}
CUSTOM_IMGSZ = 640  # inference size of user-supplied YOLO weights when none is given


@dataclass(frozen=True)
class DetectorSpec:
    """What to detect and with which model.  ``weights=None`` selects the registry default for ``target``.

    ``scales`` (CenterFace passes: floats or :class:`~fpblur.detectors.centerface.ScalePass` / their text form)
    and ``max_side`` apply to CenterFace; ``imgsz`` (one size or several, merged) to YOLO models.
    """

    target: str
    weights: str | None = None
    conf: float | None = None
    iou: float | None = None
    imgsz: int | tuple[int, ...] | None = None
    device: str | None = None
    half: bool = False
    scales: tuple | None = None
    max_side: int | None = None
    class_map: dict | None = field(default=None, hash=False)
    profile: str = DEFAULT_PROFILE

    def __post_init__(self) -> None:
        if self.target not in DEFAULT_CONF:
            raise ValueError(f"unknown target {self.target!r}; expected one of {', '.join(DEFAULT_CONF)}")
        get_profile(self.profile)  # fail early on an unknown profile name

    @property
    def uses_centerface(self) -> bool:
        return self.weights is None and DEFAULTS[self.target] == "centerface"

    @property
    def effective_conf(self) -> float:
        return get_profile(self.profile).conf(self.target) if self.conf is None else float(self.conf)

    @property
    def effective_iou(self) -> float:
        return get_profile(self.profile).iou(self.target) if self.iou is None else float(self.iou)

    @property
    def effective_imgsz(self) -> tuple[int, ...]:
        """YOLO inference sizes: the given one(s), else the profile's for the default plate model, else 640."""
        if self.imgsz:
            return tuple(int(s) for s in self.imgsz) if isinstance(self.imgsz, (tuple, list)) else (int(self.imgsz),)
        if self.weights is None and self.target == "plate":
            return get_profile(self.profile).plate.imgsz
        return (CUSTOM_IMGSZ,)

    @property
    def model_name(self) -> str:
        return Path(self.weights).name if self.weights else DEFAULTS[self.target]


def build_detector(spec: DetectorSpec):
    """Instantiate the backend a spec describes (CenterFace for the default face model, YOLO otherwise)."""
    profile = get_profile(spec.profile)
    if spec.uses_centerface:
        from fpblur.detectors.centerface import CenterFaceDetector

        face = profile.face
        return CenterFaceDetector(
            model_path("centerface"),
            conf=spec.effective_conf,
            iou=spec.effective_iou,
            scales=spec.scales if spec.scales else face.passes,
            max_side=spec.max_side if spec.max_side else face.max_side,
            min_net=face.min_net,
            vote_iou=face.vote_iou,
            small_penalty=face.small_penalty,
            precision=face.precision,
        )
    weights = Path(spec.weights or model_path(DEFAULTS[spec.target]))
    sizes = spec.effective_imgsz
    common = dict(label=spec.target, conf=spec.effective_conf, iou=spec.effective_iou, imgsz=sizes[0],
                  class_map=spec.class_map)
    if spec.weights is None and spec.target == "plate" and profile.plate.onnx:
        from fpblur.detectors.onnx_plate import plate_weights

        weights = plate_weights(weights, spec.device)
    if spec.weights is None and weights.suffix.lower() == ".onnx":
        # the default plate model's cached export: ONNX Runtime directly (no PyTorch import, faster per call)
        from fpblur.detectors.onnx_yolo import OnnxYoloDetector

        first = OnnxYoloDetector(weights, **common)
    else:
        from fpblur.detectors.yolo import YoloDetector

        first = YoloDetector(weights, device=spec.device, half=spec.half, **common)
    if len(sizes) == 1:
        return first
    from fpblur.detectors.ensemble import MultiDetector

    # one loaded model run at several inference sizes, merged by NMS (+ voting)
    members = [first] + [first.with_imgsz(size) for size in sizes[1:]]
    return MultiDetector(members, iou=spec.effective_iou, vote_iou=profile.plate.vote_iou)
