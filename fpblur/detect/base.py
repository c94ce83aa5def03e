"""The detector contract: every backend subclasses :class:`Detector`, every caller types against it.

A detector maps BGR images to :class:`~fpblur.core.detections.Detections` in each image's own pixels.  The
public entry point is :meth:`Detector.predict` (a batch); it validates the images once
(:func:`check_image`: grayscale, BGRA and 16-bit images become H×W×3 uint8 BGR) and resolves the score
threshold, then calls the backend's :meth:`Detector._predict`, which can rely on both.  Backends:

* :class:`~fpblur.detect.centerface.CenterFaceDetector` (``backend="centerface"``),
* :class:`~fpblur.detect.yolo_onnx.OnnxYoloDetector` and :class:`~fpblur.detect.yolo_torch.YoloDetector`
  (``backend="yolo"``),
* :class:`~fpblur.detect.multipass.MultiDetector` (several of the above, merged; the members' backend),
* :class:`CallableDetector` — any plain ``callable(image_bgr) -> Detections`` (what
  ``Anonymizer(detectors={...})`` accepts), wrapped by :func:`as_detector`.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TypeVar

import cv2
import numpy as np

from fpblur.config.profiles import FullFramePasses, LightPasses
from fpblur.core.detections import Detections


class Detector(ABC):
    """A face and/or plate detector.

    Attributes:
        labels: the labels it can emit (``("face",)``, ``("plate",)``, ``("face", "plate")``); its target (the
            label of classes whose names stand for none) first.
        conf: its own score threshold in [0, 1]: what :meth:`predict` uses when given none, and what starts a
            track on video.
        backend: what runs the model: ``"centerface"``, ``"yolo"``, ``"callable"`` (a wrapped plain callable),
            ``"custom"`` (a subclass outside fpblur), ``"mixed"`` (a merge of different backends).
    """

    labels: tuple[str, ...] = ()
    conf: float = 0.0
    backend: str = "custom"

    @property
    def input_sizes(self) -> tuple[int, ...]:
        """The network input sizes it runs at, in pixels (YOLO ``imgsz``; several for a merge); empty for
        detectors whose input follows the image (CenterFace) or is unknown."""
        return ()

    @property
    def rotations(self) -> tuple[int, ...]:
        """The clockwise turns (degrees: 90, 180, 270) of the image that it also searches, besides upright
        (:class:`~fpblur.detect.rotations.RotatedPasses`); empty for most detectors.  The video path re-checks a
        sideways face on crops turned the same ways."""
        return ()

    def predict(self, images: Sequence[np.ndarray], conf: float | None = None) -> list[Detections]:
        """Detect in a batch of images.

        Args:
            images: H×W, H×W×1, H×W×3 (BGR) or H×W×4 (BGRA) arrays, uint8 or uint16; sizes may differ.
            conf: score threshold for this call (None: :attr:`conf`).  Detectors that run a lower threshold on
                video frames (to keep tracks alive) pass it here.

        Returns:
            One :class:`Detections` per image, in order: N×4 boxes ``x1, y1, x2, y2`` in that image's pixels
            (float32, clipped to the image), scores in [0, 1], labels from :attr:`labels`.

        Raises:
            ValueError: an image is not a 2-D or 3-D numpy array.
        """
        checked = [check_image(im) for im in images]
        return self._predict(checked, self.conf if conf is None else float(conf))

    @abstractmethod
    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        """The backend: ``images`` are validated H×W×3 uint8 BGR arrays; return one :class:`Detections` per
        image with scores >= ``conf`` (boxes in original pixels)."""

    def detect(self, image: np.ndarray, conf: float | None = None) -> Detections:
        """One image: ``predict([image], conf)[0]`` (see :meth:`predict`)."""
        return self.predict([image], conf)[0]

    def __call__(self, image: np.ndarray) -> Detections:
        """``detector(image_bgr) -> Detections`` at the detector's own threshold."""
        return self.detect(image)

    def light(self, passes: LightPasses) -> Detector:
        """The cheaper variant that light video frames run (:mod:`fpblur.track.schedule`), sharing this
        detector's loaded model.

        Args:
            passes: what a light frame runs: CenterFace passes and plate-model input sizes.

        Returns:
            A detector with the same labels and threshold; this base class returns ``self`` (detectors without a
            cheaper variant run in full on light frames).
        """
        return self

    def video_full(self, full: FullFramePasses) -> Detector:
        """The variant that full video frames run (:class:`~fpblur.config.profiles.FullFramePasses`: bounded
        upscaling, no crowd flip), sharing this detector's loaded model.

        Returns:
            A detector with the same labels and threshold; this base class returns ``self`` (nothing to bound).
        """
        return self


_Sized = TypeVar("_Sized", bound="SingleSizeDetector")


class SingleSizeDetector(Detector):
    """A YOLO backend run at one inference size (``imgsz``, pixels); several sizes are merged by
    :class:`~fpblur.detect.multipass.MultiDetector` from :meth:`with_imgsz` copies that share the loaded model."""

    imgsz: int = 640

    @property
    def input_sizes(self) -> tuple[int, ...]:
        """``(imgsz,)``: the one inference size it runs at, in pixels."""
        return (self.imgsz,)

    def with_imgsz(self: _Sized, imgsz: int) -> _Sized:
        """The same loaded model at another inference size in pixels (a shallow copy: the model is shared)."""
        other = copy.copy(self)
        other.imgsz = int(imgsz)
        return other


class CallableDetector(Detector):
    """A plain ``callable(image_bgr) -> Detections`` seen through the :class:`Detector` contract.

    The callable applies its own threshold: the ``conf`` given to :meth:`predict` is not passed on (it cannot
    be: the callable takes only the image), and :attr:`conf` only says where video tracks start.

    Args:
        fn: called once per image with an H×W×3 uint8 BGR array; returns Detections in that image's pixels.
        labels: the labels ``fn`` emits (empty: unknown).
        conf: the score at which a video track starts (the target's default threshold).
    """

    backend = "callable"

    def __init__(self, fn: Callable[[np.ndarray], Detections], labels: Sequence[str] = (), conf: float = 0.0) -> None:
        self.fn = fn
        self.labels = tuple(labels)
        self.conf = float(conf)

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        return [self.fn(im) for im in images]


_W = TypeVar("_W", bound="WrapsBase")


class WrapsBase(Detector):
    """A detector that adds passes around a ``base`` detector (tiles, rotated copies): light video frames run
    only the base's light variant, full video frames the same extra passes around the base's
    :meth:`~Detector.video_full` variant."""

    base: Detector

    @property
    def rotations(self) -> tuple[int, ...]:
        """The base detector's (:attr:`Detector.rotations`)."""
        return self.base.rotations

    def light(self, passes: LightPasses) -> Detector:
        """The base detector's light variant (light video frames run none of the extra passes)."""
        return self.base.light(passes)

    def video_full(self: _W, full: FullFramePasses) -> _W:
        """The same extra passes around the base detector's full-video-frame variant (sharing its model)."""
        other = copy.copy(self)
        other.base = self.base.video_full(full)
        return other


def as_detector(
    obj: Detector | Callable[[np.ndarray], Detections], label: str | None = None, conf: float = 0.0
) -> Detector:
    """``obj`` itself when it is a :class:`Detector`, else ``obj`` wrapped in a :class:`CallableDetector`.

    The one place where a plain callable becomes a detector, so no caller has to tell them apart.

    Args:
        obj: a detector, or any ``callable(image_bgr) -> Detections``.
        label: the label a wrapped callable emits (its target), if known.
        conf: a wrapped callable's track-start threshold (ignored for a :class:`Detector`, which has its own).

    Raises:
        TypeError: ``obj`` is not callable.
    """
    if isinstance(obj, Detector):
        return obj
    if not callable(obj):
        raise TypeError(
            f"a detector must be a fpblur Detector or callable(image) -> Detections, got {type(obj).__name__}"
        )
    return CallableDetector(obj, (label,) if label else (), conf)


def check_image(image: np.ndarray) -> np.ndarray:
    """An H×W×3 uint8 BGR view of ``image``.

    Args:
        image: H×W (gray), H×W×1, H×W×3 (BGR) or H×W×4 (BGRA); uint8, uint16 (top 8 bits kept) or another
            dtype (clipped to 0–255).

    Returns:
        ``image`` itself when it already is H×W×3 uint8, else a converted copy.

    Raises:
        ValueError: ``image`` is not a 2-D or 3-D numpy array.
    """
    if image is None or not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError("expected an H×W or H×W×C numpy image")
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


__all__ = ["Detector", "SingleSizeDetector", "CallableDetector", "as_detector", "check_image"]
