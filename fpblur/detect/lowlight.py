"""An extra contrast-normalised pass for dark frames, merged with the normal pass.

At night-time levels (a daylight photo at about 0.12 of its linear light, plus sensor noise) a plate that is still
readable scores far below the threshold: the plate model was trained on daylight photos.  When a frame's mean
luminance is low, :class:`LowLightDetector` runs its inner detector again on brightened copies and merges every
pass per label by NMS (+ optional box voting, :func:`~fpblur.detect.multipass.merge_per_label`):

* ``"clahe"`` (:func:`equalize`): luminance equalised locally (CLAHE, Zuiderveld 1994, on the L channel of CIE
  Lab; colours keep their hue): best on large photos with dark and lit parts;
* ``"gamma"`` (:func:`brighten`): one global gamma curve that maps the frame's mean to 0.45 of full scale:
  best on small, uniformly dark photos, where CLAHE's tiles amplify noise more than plates.

Each finds plates the other misses (``benchmarks/quality.py``'s dark plate sets; README).  An optional ``extra``
detector (the default profile: the plate model at 320 px, ``PlateSettings.dark_imgsz``) also runs on a dark frame,
on its mirror image and on both brightened copies: at night a plate's few readable pixels score higher at a small
input size, and the mirror image gives the model a second look.  Bright frames run the inner detector alone, at
its usual cost.

Video: :meth:`LowLightDetector.light` returns the inner detector's light variant as it is, so light frames
between full frames cost what they did; the full frames (every 0.3 s by default) run the dark pass and the
tracker carries their boxes.
"""

from __future__ import annotations

import copy

import cv2
import numpy as np

from fpblur.config.profiles import FullFramePasses, LightPasses
from fpblur.core.detections import Detections
from fpblur.detect.base import Detector
from fpblur.detect.multipass import merge_per_label


def mean_luma(image: np.ndarray) -> float:
    """Mean luminance (0–255) of a BGR uint8 image, estimated on a copy at most 256 px on its long side."""
    h, w = image.shape[:2]
    step = max(1, max(h, w) // 256)
    small = image[::step, ::step]
    return float(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).mean())


def equalize(image: np.ndarray, clip: float = 2.0, tiles: int = 8) -> np.ndarray:
    """CLAHE on the luminance (L of CIE Lab) of a BGR uint8 image; a new image of the same shape.

    Args:
        image: H×W×3 uint8 BGR.
        clip: CLAHE clip limit (contrast amplification cap per tile).
        tiles: tiles per side of CLAHE's grid.
    """
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=float(clip), tileGridSize=(int(tiles), int(tiles))).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def brighten(image: np.ndarray, target: float = 0.45) -> np.ndarray:
    """A global gamma curve that maps the mean luminance of a BGR uint8 image to ``target`` of full scale.

    Args:
        image: H×W×3 uint8 BGR.
        target: the mean luminance after the curve, in (0, 1).

    Returns:
        A new image of the same shape (unchanged values when the image is already at least that bright).
    """
    mean = min(max(mean_luma(image), 1.0), 254.0) / 255.0
    exponent = min(1.0, float(np.log(target) / np.log(mean)))
    lut = np.clip(np.round(255.0 * (np.arange(256) / 255.0) ** exponent), 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)


ENHANCERS = ("clahe", "gamma")


class LowLightDetector(Detector):
    """Run ``inner`` and, on frames darker than ``max_luma``, ``inner`` again on brightened copies; merge.

    Args:
        inner: the detector to run (its labels, threshold and backend are this detector's).
        max_luma: frames whose :func:`mean_luma` is below this (0–255) get the extra passes.
        enhance: the copies, in :data:`ENHANCERS`: ``"clahe"`` (:func:`equalize`), ``"gamma"`` (:func:`brighten`).
        clip, tiles: :func:`equalize`'s CLAHE settings.
        iou: NMS IoU of the merge.
        vote_iou: box-voting IoU of the merge (None: plain NMS).
        extra: another detector with the same labels run on a dark frame, its mirror image and the brightened
            copies (None: none).

    Raises:
        ValueError: an unknown name in ``enhance``.
    """

    def __init__(
        self,
        inner: Detector,
        max_luma: float = 60.0,
        enhance: tuple[str, ...] = ENHANCERS,
        clip: float = 2.0,
        tiles: int = 8,
        iou: float = 0.45,
        vote_iou: float | None = None,
        extra: Detector | None = None,
    ) -> None:
        bad = [e for e in enhance if e not in ENHANCERS]
        if bad:
            raise ValueError(f"unknown low-light enhancement {bad[0]!r}; expected one of {', '.join(ENHANCERS)}")
        self.inner = inner
        self.labels = inner.labels
        self.backend = inner.backend
        self.max_luma = float(max_luma)
        self.enhance = tuple(enhance)
        self.clip = float(clip)
        self.tiles = int(tiles)
        self.iou = float(iou)
        self.vote_iou = vote_iou
        self.extra = extra

    @property
    def conf(self) -> float:
        """The inner detector's score threshold."""
        return self.inner.conf

    @conf.setter
    def conf(self, value: float) -> None:
        self.inner.conf = float(value)

    @property
    def input_sizes(self) -> tuple[int, ...]:
        """The inner detector's input sizes."""
        return self.inner.input_sizes

    def is_dark(self, image: np.ndarray) -> bool:
        """Whether ``image`` (BGR uint8) gets the extra pass."""
        return mean_luma(image) < self.max_luma

    def enhanced(self, image: np.ndarray) -> list[np.ndarray]:
        """The brightened copies of ``image`` that a dark frame is also searched on, in :attr:`enhance` order."""
        return [equalize(image, self.clip, self.tiles) if e == "clahe" else brighten(image) for e in self.enhance]

    def _merge(self, parts: list[Detections]) -> Detections:
        return merge_per_label(parts, self.iou, self.vote_iou)

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        plain = self.inner._predict(images, conf)
        dark = [i for i, im in enumerate(images) if self.is_dark(im)]
        if not dark:
            return plain
        copies = {i: self.enhanced(images[i]) for i in dark}
        n = len(self.enhance)
        enhanced = self.inner._predict([im for i in dark for im in copies[i]], conf)
        out = list(plain)
        for k, i in enumerate(dark):
            parts = [plain[i], *enhanced[k * n : (k + 1) * n]]
            if self.extra is not None:
                parts += self._extra_passes(images[i], copies[i], conf)
            out[i] = self._merge(parts)
        return out

    def _extra_passes(self, image: np.ndarray, copies: list[np.ndarray], conf: float) -> list[Detections]:
        """:attr:`extra` on ``image``, its mirror image (boxes mapped back) and its brightened ``copies``."""
        assert self.extra is not None
        mirror = np.ascontiguousarray(image[:, ::-1])
        found = self.extra._predict([image, mirror, *copies], conf)
        found[1] = found[1].mirrored(image.shape[1])
        return found

    def light(self, passes: LightPasses) -> Detector:
        """The inner detector's light variant, without the extra pass (light video frames cost what they did)."""
        return self.inner.light(passes)

    def video_full(self, full: FullFramePasses) -> LowLightDetector:
        """The same low-light pass around the inner detector's full-video-frame variant."""
        return self.with_inner(self.inner.video_full(full))

    def with_inner(self, inner: Detector) -> LowLightDetector:
        """The same settings around another detector."""
        other = copy.copy(self)
        other.inner = inner
        other.labels = inner.labels
        return other
