"""``Anonymizer``: detectors + padding + an anonymization mode, the object every front end uses.

Its settings are one :class:`~fpblur.config.settings.RunConfig`, resolved by
:func:`~fpblur.config.settings.resolve_config` (the resolver the command line, the notebooks and the front ends
call too): ``Anonymizer(config)``, or ``Anonymizer(profile="fast", targets=("face",), mode="pixelate", pad=0.3)``
which resolves the same keywords.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from fpblur.config.profiles import FullFramePasses, LightPasses, get_profile
from fpblur.config.settings import DEFAULT_PAD, RunConfig, resolve_config, resolve_pad, resolve_pad_by_width
from fpblur.core.detections import Detections
from fpblur.detect.base import Detector, SingleSizeDetector, as_detector, check_image
from fpblur.detect.factory import build_detector
from fpblur.redact.modes import anonymize

MODE_OPTIONS = ("blur_strength", "pixel_blocks", "color")  # Anonymizer keywords that are RedactSettings fields


def regions_for(
    dets: Detections | npt.ArrayLike,
    pad: float | Mapping[str, float] | None,
    width: int,
    height: int,
    pad_by_width: float | Mapping[str, float] | None = None,
) -> Detections:
    """The areas the anonymizer covers: each box grown by ``pad`` on every side and by ``pad_by_width`` of its
    width above and below (:meth:`~fpblur.core.detections.Detections.pad`), clipped.

    Args:
        dets: the detections (or an N×4 array of ``[x1, y1, x2, y2]`` boxes, padded as unlabelled regions),
            boxes in image pixels.
        pad: fraction of each box's width/height added on every side: one for every label; per label (a
            mapping, e.g. a resolved ``config.redact.pad``; labels it omits get the default profile's padding);
            or None (the default profile's padding).  An :class:`Anonymizer` passes its resolved
            configuration's padding, so its own profile's is used.
        width, height: the image size in pixels (boxes are clipped to it).
        pad_by_width: fraction of each box's width added above and below: one for every label, per label (a
            mapping, e.g. a resolved ``config.redact.pad_by_width``; labels it omits: 0), or None: the default
            profile's (plates 0.1) when ``pad`` is None or a mapping, none when ``pad`` is one number.

    Returns:
        The padded boxes, same order, scores, labels and track ids as ``dets``.

    Raises:
        ValueError: a negative padding in ``pad``'s or ``pad_by_width``'s mapping, or boxes that are not N×4.
        TypeError: boxes that are neither Detections nor numeric.
    """
    dets = Detections.coerce(dets)
    fracs: float | np.ndarray
    if pad is None or isinstance(pad, Mapping):
        pads = resolve_pad(get_profile(), pad)
        fracs = np.array([pads.get(str(lab), DEFAULT_PAD) for lab in dets.labels], dtype=np.float32)
        if pad_by_width is None:  # the profile's share, like its padding
            pad_by_width = {}
    else:
        fracs = float(pad)
    extra: float | np.ndarray = 0.0
    if pad_by_width is not None:
        by_width = resolve_pad_by_width(get_profile(), pad_by_width)
        extra = np.array([by_width.get(str(lab), 0.0) for lab in dets.labels], dtype=np.float32)
    return dets.pad(fracs, extra).clip(width, height)


def anonymizer_config(*, specs: Mapping[str, Any] | None = None, **choices: Any) -> RunConfig:
    """The :class:`RunConfig` of ``Anonymizer(**choices)``.

    Args:
        specs: per target, a :class:`~fpblur.config.spec.DetectorSpec` or a mapping of its fields
            (:func:`~fpblur.config.settings.resolve_config`'s ``detectors``).
        choices: :func:`~fpblur.config.settings.resolve_config`'s other keywords, plus ``blur_strength``,
            ``pixel_blocks`` and ``color`` (merged into ``redact``).

    Returns:
        The resolved configuration.

    Raises:
        ValueError: an unknown profile, target, mode or setting, or a value out of range.
        TypeError: a keyword :func:`~fpblur.config.settings.resolve_config` does not take.
    """
    redact = dict(choices.pop("redact", None) or {})
    for name in MODE_OPTIONS:
        if name in choices:
            redact[name] = choices.pop(name)
    return resolve_config(detectors=specs, redact=redact, **choices)


class Anonymizer:
    """Detect faces and/or plates and anonymize them.

    >>> anon = Anonymizer(targets=("face",), mode="pixelate")
    >>> out, dets = anon.anonymize_image(image_bgr)
    >>> Anonymizer(resolve_config("fast", pad=0.3)).config.redact.pad
    {'face': 0.3, 'plate': 0.3}

    Args:
        config: the resolved configuration (:func:`~fpblur.config.settings.resolve_config`); or None and
            ``choices`` instead.
        detectors: detector objects per target, used instead of building the configuration's (a
            :class:`~fpblur.detect.base.Detector`, or anything callable as ``detector(image_bgr) -> Detections``).
        choices: without ``config``: ``profile``, ``targets``, ``mode``, ``pad``, ``specs`` (per-target detector
            settings), ``redact``, ``video``, ``image``, ``blur_strength``, ``pixel_blocks``, ``color``
            (:func:`anonymizer_config`).

    Raises:
        ValueError: an unknown profile, target, mode or setting, or a value out of range (one line).
        TypeError: both ``config`` and ``choices``, or ``config`` is not a :class:`RunConfig`.
    """

    def __init__(
        self, config: RunConfig | None = None, *, detectors: Mapping[str, Any] | None = None, **choices: Any
    ) -> None:
        if config is None:
            config = anonymizer_config(**choices)
        elif choices:
            raise TypeError(f"Anonymizer takes a RunConfig or choices, not both (got {', '.join(sorted(choices))})")
        if not isinstance(config, RunConfig):
            raise TypeError(
                f"Anonymizer's config must be a RunConfig (fpblur.config.settings.resolve_config), "
                f"got {type(config).__name__}; pass targets=... as a keyword"
            )
        self.config: RunConfig = config
        self.detectors: dict[str, Detector] = {
            t: as_detector(d, t, config.spec(t).effective_conf if t in config.detectors else 0.0)
            for t, d in (detectors or {}).items()
        }
        for t in config.targets:
            if t not in self.detectors:
                self.detectors[t] = build_detector(config.spec(t))

    @property
    def targets(self) -> tuple[str, ...]:
        """What it finds, in detection order (``("face", "plate")``, ``("face",)``…)."""
        return self.config.targets

    @property
    def mode(self) -> str:
        """The anonymization mode (:data:`~fpblur.config.settings.MODES`)."""
        return self.config.mode

    @property
    def mode_options(self) -> dict[str, Any]:
        """The mode's options (``blur_strength``, ``pixel_blocks``, ``color``: ``config.redact``)."""
        return self.config.redact.mode_options

    def with_mode(self, mode: str) -> Anonymizer:
        """Same detectors, another mode (cheap: models are shared).

        Raises:
            ValueError: ``mode`` is not one of :data:`~fpblur.config.settings.MODES`.
        """
        return Anonymizer(self.config.with_mode(mode), detectors=self.detectors)

    def detect_batch(
        self,
        images: Sequence[np.ndarray],
        *,
        light: LightPasses | None = None,
        full: FullFramePasses | None = None,
        conf: Mapping[str, float] | None = None,
        timings: dict[str, float] | None = None,
        targets: Sequence[str] | None = None,
    ) -> list[Detections]:
        """Run every target's detector on a batch of images: what images and video frames both go through.

        Args:
            images: H×W, H×W×1, H×W×3 (BGR) or H×W×4 (BGRA) arrays, uint8 or uint16; validated once here.
            light: run each detector's cheaper variant for these passes
                (:meth:`~fpblur.detect.base.Detector.light`; the video schedule's light frames and its re-checks of
                carried boxes on crops); a single-size backend (YOLO) whose light variant does not run at
                ``light.plate_imgsz`` is run at its first size.  None: the full detectors (what ``fpblur image``
                runs).
            full: with ``light`` None, run each detector's full-video-frame variant
                (:meth:`~fpblur.detect.base.Detector.video_full`: bounded upscaling, no crowd flip); None: the
                detectors as images run them.
            conf: score threshold per target for this call (video runs the keep-alive threshold); a target
                missing here uses its detector's own threshold.
            timings: if given, ``"detect <target>"`` is increased by the seconds each target's detector took.
            targets: run only these of :attr:`targets` (None: all).

        Returns:
            One :class:`Detections` per image, in order: the targets' boxes concatenated (target order), N×4
            ``x1, y1, x2, y2`` in that image's pixels.

        Raises:
            ValueError: an image is not a 2-D or 3-D numpy array.
        """
        checked = [check_image(im) for im in images]
        per_image: list[list[Detections]] = [[] for _ in checked]
        if not checked:
            return []
        for target in self.targets if targets is None else [t for t in self.targets if t in targets]:
            detector = self.detectors[target]
            if light is not None:
                detector = detector.light(light)
                sizes = tuple(light.plate_imgsz)
                if isinstance(detector, SingleSizeDetector) and sizes and detector.imgsz not in sizes:
                    detector = detector.with_imgsz(sizes[0])
            elif full is not None:
                detector = detector.video_full(full)
            t0 = time.perf_counter()
            results = detector.predict(checked, None if conf is None else conf.get(target))
            if timings is not None:
                key = f"detect {target}"
                timings[key] = timings.get(key, 0.0) + time.perf_counter() - t0
            for parts, found in zip(per_image, results):
                parts.append(found)
        return [Detections.concat(parts) for parts in per_image]

    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Faces and/or plates in one image at the detectors' own thresholds: ``detect_batch([image])[0]``."""
        return self.detect_batch([image_bgr])[0]

    def regions(self, dets: Detections, shape: tuple[int, ...]) -> Detections:
        """The areas to anonymize: each box of ``dets`` grown by this anonymizer's padding for its label (and its
        ``pad_by_width``), clipped to an image of ``shape`` (``(height, width, ...)``); same order and fields as
        ``dets``."""
        redact = self.config.redact
        return regions_for(dets, redact.pad, shape[1], shape[0], redact.pad_by_width)

    def apply(
        self, image: np.ndarray, dets: Detections | npt.ArrayLike, regions: Detections | None = None
    ) -> np.ndarray:
        """Anonymize ``image`` at ``dets`` with this anonymizer's mode and padding.

        Args:
            image: H×W, H×W×3 (BGR) or H×W×4 (BGRA), uint8 or uint16; not modified.
            dets: the detections (or an N×4 array of ``[x1, y1, x2, y2]`` boxes), in ``image``'s pixels.
            regions: the padded areas, when the caller already has them from :meth:`regions`.

        Returns:
            The anonymized copy (:func:`~fpblur.redact.modes.anonymize`), same shape and dtype.

        Raises:
            TypeError, ValueError: boxes that are neither Detections nor an N×4 array.
        """
        dets = Detections.coerce(dets)
        if regions is None:
            regions = self.regions(dets, image.shape)
        return anonymize(image, regions, self.mode, detections=dets, **self.mode_options)

    def anonymize_image(self, image: np.ndarray) -> tuple[np.ndarray, Detections]:
        """Detect and anonymize one image.

        Args:
            image: H×W, H×W×3 (BGR) or H×W×4 (BGRA), uint8 or uint16; not modified.

        Returns:
            ``(new_image, detections)``: the anonymized copy (same shape and dtype) and what was found (boxes in
            its pixels, unpadded).

        Raises:
            ValueError: ``image`` is not a 2-D or 3-D numpy array.
        """
        dets = self.detect(image)
        return self.apply(image, dets), dets


__all__ = ["Anonymizer", "anonymizer_config", "regions_for", "MODE_OPTIONS"]
