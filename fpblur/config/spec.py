"""What to detect and with which model: :class:`DetectorSpec`, resolved against a named profile.

Every field left ``None`` takes its value from the spec's named profile (:mod:`fpblur.config.profiles`; ``default``
unless ``profile="fast"``), so ``DetectorSpec("face")`` is exactly what ``fpblur image`` runs by default.  The entry
points never pass bare specs around: :func:`fpblur.config.settings.resolve_config` fills every field the profile
decides (:func:`~fpblur.config.settings.resolve_detector`), so a resolved spec never looks at a profile again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fpblur.config.profiles import DEFAULT_PROFILE, get_profile
from fpblur.core.detections import LABELS
from fpblur.models.registry import DEFAULTS


@dataclass(frozen=True)
class DetectorSpec:
    """What to detect and with which model; fields left None take the profile's values.

    Attributes:
        target: ``"face"`` or ``"plate"``.
        weights: a YOLO weights file (``.pt``/``.onnx``); None: the registry default for ``target``
            (CenterFace for faces, the YOLOv8n plate model for plates).
        conf: score threshold in [0, 1].
        iou: NMS IoU.
        imgsz: YOLO inference size(s) in pixels; several are run and merged (None: the profile's YOLO sizes, for
            the default plate model and for weights given as a file alike).
        device: Ultralytics device for ``.pt`` weights (``"cpu"``, ``"0"``, ``"0,1"``).
        half: fp16 inference (CUDA only).
        scales: CenterFace passes (floats, :class:`~fpblur.detect.centerface.ScalePass` or their text form).
        max_side: caps the long side of every CenterFace pass, in pixels.
        rotations: CenterFace also searches copies turned by these angles (degrees clockwise: 90, 180, 270; ``()``
            none; None: the profile's :attr:`~fpblur.config.profiles.FaceSettings.rotations`).
        class_map: ``{class id or class name: label}`` for custom YOLO weights.
        threads: ONNX Runtime intra-op threads of the ONNX backends (None: ONNX Runtime's choice, one per core);
            a Ray worker sets the CPUs it reserved.
        profile: the profile that fills unset fields (:data:`~fpblur.config.profiles.PROFILES`).

    Raises:
        ValueError: an unknown ``target`` or ``profile``.
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
    rotations: tuple[int, ...] | None = None
    class_map: dict | None = field(default=None, hash=False)
    threads: int | None = None
    profile: str = DEFAULT_PROFILE

    def __post_init__(self) -> None:
        if self.target not in LABELS:
            raise ValueError(f"unknown target {self.target!r}; expected one of {', '.join(LABELS)}")
        get_profile(self.profile)  # fail early on an unknown profile name

    @property
    def uses_centerface(self) -> bool:
        """Whether this spec runs CenterFace (no weights given, and ``target``'s default model is CenterFace)."""
        return self.weights is None and DEFAULTS[self.target] == "centerface"

    @property
    def effective_conf(self) -> float:
        """The score threshold: :attr:`conf`, else the profile's for ``target``."""
        return get_profile(self.profile).conf(self.target) if self.conf is None else float(self.conf)

    @property
    def effective_iou(self) -> float:
        """The NMS IoU: :attr:`iou`, else the profile's for ``target``."""
        return get_profile(self.profile).iou(self.target) if self.iou is None else float(self.iou)

    @property
    def effective_imgsz(self) -> tuple[int, ...]:
        """YOLO inference sizes in pixels: the given one(s), else the profile's YOLO sizes (``plate.imgsz``:
        640 + 480 merged by default, 480 for ``fast``) for any YOLO weights — the default plate model, the same
        model given as a file (``.pt`` or its ``.onnx``), or a user's face or plate weights."""
        if self.imgsz:
            return tuple(int(s) for s in self.imgsz) if isinstance(self.imgsz, (tuple, list)) else (int(self.imgsz),)
        return get_profile(self.profile).plate.imgsz

    @property
    def model_name(self) -> str:
        """The weights file's name, or the registry name of ``target``'s default model."""
        return Path(self.weights).name if self.weights else DEFAULTS[self.target]
