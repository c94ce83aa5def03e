"""Build a detector from a small declarative spec (what the CLI, the widgets and the app pass around)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fpblur.models import DEFAULTS, model_path

DEFAULT_CONF = {"face": 0.2, "plate": 0.25}
DEFAULT_IOU = {"face": 0.3, "plate": 0.45}


@dataclass(frozen=True)
class DetectorSpec:
    """What to detect and with which model.  ``weights=None`` selects the registry default for ``target``."""

    target: str
    weights: str | None = None
    conf: float | None = None
    iou: float | None = None
    imgsz: int = 640
    device: str | None = None
    half: bool = False
    scales: tuple[float, ...] = (1.0,)
    max_side: int | None = None
    class_map: dict | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.target not in DEFAULT_CONF:
            raise ValueError(f"unknown target {self.target!r}; expected one of {', '.join(DEFAULT_CONF)}")

    @property
    def effective_conf(self) -> float:
        return DEFAULT_CONF[self.target] if self.conf is None else float(self.conf)

    @property
    def effective_iou(self) -> float:
        return DEFAULT_IOU[self.target] if self.iou is None else float(self.iou)

    @property
    def model_name(self) -> str:
        return Path(self.weights).name if self.weights else DEFAULTS[self.target]


def build_detector(spec: DetectorSpec):
    """Instantiate the backend a spec describes (CenterFace for the default face model, YOLO otherwise)."""
    if spec.weights is None and DEFAULTS[spec.target] == "centerface":
        from fpblur.detectors.centerface import CenterFaceDetector

        return CenterFaceDetector(
            model_path("centerface"),
            conf=spec.effective_conf,
            iou=spec.effective_iou,
            scales=spec.scales,
            max_side=spec.max_side,
        )
    from fpblur.detectors.yolo import YoloDetector

    weights = spec.weights or model_path(DEFAULTS[spec.target])
    return YoloDetector(
        weights,
        label=spec.target,
        conf=spec.effective_conf,
        iou=spec.effective_iou,
        imgsz=spec.imgsz,
        device=spec.device,
        half=spec.half,
        class_map=spec.class_map,
    )
