"""What to detect and with which model: :class:`DetectorSpec`, resolved against a named profile.

Every field left ``None`` takes its value from the spec's named profile (:mod:`fpblur.config.profiles`; ``default``
unless ``profile="fast"``), so ``DetectorSpec("face")`` is exactly what ``fpblur image`` runs by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fpblur.config.profiles import DEFAULT_PROFILE, get_profile
from fpblur.models.registry import DEFAULTS

DEFAULT_CONF = {t: get_profile().conf(t) for t in ("face", "plate")}
DEFAULT_IOU = {t: get_profile().iou(t) for t in ("face", "plate")}
CUSTOM_IMGSZ = 640  # inference size of user-supplied YOLO weights when none is given


@dataclass(frozen=True)
class DetectorSpec:
    """What to detect and with which model.  ``weights=None`` selects the registry default for ``target``.

    ``scales`` (CenterFace passes: floats or :class:`~fpblur.detect.centerface.ScalePass` / their text form)
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
