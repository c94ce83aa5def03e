"""``Anonymizer``: detectors + padding + an anonymization mode, the object every front end uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from fpblur.redact.modes import MODES, anonymize
from fpblur.core.detections import Detections
from fpblur.detect.base import check_image
from fpblur.config.spec import DetectorSpec
from fpblur.detect.factory import build_detector

DEFAULT_PAD = 0.18  # for labels the default profile does not name


def default_pad(label: str) -> float:
    """The padding the default profile gives ``label`` (faces 0.22, plates 0.25): one source for every front end."""
    from fpblur.config.profiles import get_profile

    return float(get_profile("default").pad.get(label, DEFAULT_PAD))


def regions_for(dets: Detections, pad: float | dict[str, float] | None, width: int, height: int) -> Detections:
    """The areas the anonymizer covers: each box grown by ``pad`` (per label if a dict; None = the default
    profile's padding), clipped."""
    if pad is None or isinstance(pad, dict):
        pad = pad or {}
        fracs = np.array([pad.get(str(lab), default_pad(str(lab))) for lab in dets.labels], dtype=np.float32)
    else:
        fracs = float(pad)
    return dets.pad(fracs).clip(width, height)


@dataclass
class AnonymizerConfig:
    targets: tuple[str, ...] = ("face", "plate")
    mode: str = "blur"
    pad: float | dict[str, float] | None = None
    specs: dict[str, DetectorSpec] = field(default_factory=dict)

    def spec(self, target: str) -> DetectorSpec:
        return self.specs.get(target) or DetectorSpec(target)


class Anonymizer:
    """Detect faces and/or plates and anonymize them.

    >>> anon = Anonymizer(targets=("face",), mode="pixelate")
    >>> out, dets = anon.anonymize_image(image_bgr)

    Detector objects can be passed directly (``detectors={"face": my_detector}``) — anything callable as
    ``detector(image_bgr) -> Detections`` works.
    """

    def __init__(
        self,
        targets: Sequence[str] = ("face", "plate"),
        mode: str = "blur",
        pad: float | dict[str, float] | None = None,
        specs: dict[str, DetectorSpec] | None = None,
        detectors: dict | None = None,
        **mode_options,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        targets = tuple(targets)
        if not targets:
            raise ValueError("at least one target (face, plate) is needed")
        self.config = AnonymizerConfig(targets, mode, pad, dict(specs or {}))
        self.mode_options = mode_options
        self.detectors = dict(detectors or {})
        for t in targets:
            if t not in self.detectors:
                self.detectors[t] = build_detector(self.config.spec(t))

    @property
    def targets(self) -> tuple[str, ...]:
        return self.config.targets

    @property
    def mode(self) -> str:
        return self.config.mode

    def with_mode(self, mode: str) -> "Anonymizer":
        """Same detectors, another mode (cheap: models are shared)."""
        return Anonymizer(self.targets, mode, self.config.pad, self.config.specs, self.detectors, **self.mode_options)

    def detect(self, image_bgr: np.ndarray) -> Detections:
        image = check_image(image_bgr)
        return Detections.concat(self.detectors[t](image) for t in self.targets)

    def regions(self, dets: Detections, shape: tuple[int, ...]) -> Detections:
        return regions_for(dets, self.config.pad, shape[1], shape[0])

    def apply(self, image: np.ndarray, dets: Detections, regions: Detections | None = None) -> np.ndarray:
        """Anonymize ``image`` (any channels/depth) at ``dets`` with this anonymizer's mode and padding
        (``regions``: the padded areas when the caller already has them from :meth:`regions`)."""
        if regions is None:
            regions = self.regions(dets, image.shape)
        return anonymize(image, regions, self.mode, detections=dets, **self.mode_options)

    def anonymize_image(self, image: np.ndarray) -> tuple[np.ndarray, Detections]:
        """Detect and anonymize; returns ``(new_image, detections)``.  The input array is not modified."""
        dets = self.detect(image)
        return self.apply(image, dets), dets


__all__ = ["Anonymizer", "AnonymizerConfig", "regions_for", "default_pad", "DEFAULT_PAD"]
