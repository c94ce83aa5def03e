"""Faces turned 90°, 180° or 270° in the picture (a phone held sideways, a person lying down): rotated passes.

CenterFace was trained on upright faces; a face displayed on its side scores 0.23–0.29 where the same face
upright scores 0.8–0.9, so it hovers around the threshold and is lost on many frames.  :class:`RotatedPasses`
runs its ``base`` detector on the image as it is and a (cheaper) ``rotated`` detector on copies turned by each
of ``angles``, maps those boxes back (:func:`unrotate_boxes`) and merges everything per label by NMS
(:func:`~fpblur.detect.multipass.merge_per_label`): test-time augmentation by rotation.  OpenCV's ``cv2.rotate``
turns the copies losslessly.

Video: :meth:`RotatedPasses.light` is the base's light variant, so only the full frames pay for the rotations;
the tracker carries what they find (and re-checks it on crops at its own orientation between full frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import cv2
import numpy as np

from fpblur.config.profiles import FullFramePasses
from fpblur.core.detections import Detections
from fpblur.detect.base import Detector, WrapsBase
from fpblur.detect.multipass import merge_per_label

_ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
ANGLES = tuple(_ROTATE)


def rotate_image(image: np.ndarray, angle: int) -> np.ndarray:
    """``image`` turned clockwise by ``angle`` (90, 180 or 270 degrees; ``cv2.rotate``, lossless).

    Raises:
        ValueError: another angle.
    """
    if angle not in _ROTATE:
        raise ValueError(f"rotation must be one of {ANGLES}, got {angle}")
    return cv2.rotate(image, _ROTATE[angle])


def unrotate_boxes(boxes: np.ndarray, angle: int, width: int, height: int) -> np.ndarray:
    """Map boxes found on a copy turned clockwise by ``angle`` back to the original ``width`` × ``height`` image.

    Args:
        boxes: N×4 ``[x1, y1, x2, y2]`` in the turned copy's pixels.
        angle: 90, 180 or 270 (degrees clockwise, as :data:`cv2.ROTATE_90_CLOCKWISE` etc. turn it).
        width, height: the original image's size, pixels.

    Returns:
        N×4 float32 boxes in the original image's pixels.

    Raises:
        ValueError: another angle.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    x1, y1, x2, y2 = b.T
    if angle == 90:  # original (x, y) -> turned (H - y, x)
        out = np.stack([y1, height - x2, y2, height - x1], axis=1)
    elif angle == 180:  # -> (W - x, H - y)
        out = np.stack([width - x2, height - y2, width - x1, height - y1], axis=1)
    elif angle == 270:  # -> (y, W - x)
        out = np.stack([width - y2, x1, width - y1, x2], axis=1)
    else:
        raise ValueError(f"rotation must be one of {ANGLES}, got {angle}")
    return out.astype(np.float32)


_R = TypeVar("_R", bound="RotatedPasses")


class RotatedPasses(WrapsBase):
    """``base`` on the image, ``rotated`` on copies turned by ``angles``; boxes mapped back and merged per label.

    Args:
        base: the upright detector (its labels, threshold and backend are this detector's).
        rotated: the detector run on the turned copies (for example the base's 640 px pass alone: a face large
            enough to be seen on its side is found there).
        angles: clockwise turns in degrees, each 90, 180 or 270.
        rotated_conf: the score a box found on a turned copy needs (at least the call's threshold): a face shown on
            its side scores high once turned upright, while upright faces and clutter seen sideways score low.
        iou: NMS IoU of the merge.  vote_iou: box voting of the merge (None: plain NMS).

    Raises:
        ValueError: an angle that is not 90, 180 or 270.
    """

    def __init__(
        self,
        base: Detector,
        rotated: Detector,
        angles: Sequence[int] = ANGLES,
        *,
        rotated_conf: float = 0.0,
        iou: float = 0.3,
        vote_iou: float | None = None,
    ) -> None:
        bad = [a for a in angles if int(a) not in _ROTATE]
        if bad:
            raise ValueError(f"face rotations must be among {', '.join(map(str, ANGLES))} degrees, got {bad}")
        self.base, self.rotated = base, rotated
        self.angles = tuple(dict.fromkeys(int(a) for a in angles))
        self.iou, self.vote_iou = float(iou), vote_iou
        self.rotated_conf = float(rotated_conf)
        self.labels, self.conf, self.backend = base.labels, base.conf, base.backend

    @property
    def input_sizes(self) -> tuple[int, ...]:
        """The upright pass's input sizes."""
        return self.base.input_sizes

    @property
    def rotations(self) -> tuple[int, ...]:
        """The turns it searches (:attr:`angles`)."""
        return self.angles

    def video_full(self: _R, full: FullFramePasses) -> _R:
        """The rotated passes around the base's full-video-frame variant, running ``full.rotation_pass`` when it is
        set and the rotated detector takes passes (CenterFace; another runs as it is); none when
        ``full.rotations`` is off (the full frames between deep ones,
        :meth:`~fpblur.config.profiles.FullFramePasses.plain`).

        Raises:
            ValueError: a bad ``full.rotation_pass``.
        """
        other = super().video_full(full)
        if not full.rotations:
            other.angles = ()
        elif full.rotation_pass is not None:
            with_passes = getattr(self.rotated, "with_passes", None)
            if with_passes is not None:  # CenterFace; another rotated detector runs as it is
                other.rotated = with_passes(full.rotation_pass)
        return other

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        out = []
        for image, upright in zip(images, self.base._predict(images, conf)):
            h, w = image.shape[:2]
            parts = [upright]
            for angle in self.angles:
                found = self.rotated._predict([rotate_image(image, angle)], max(conf, self.rotated_conf))[0]
                if len(found):
                    boxes = unrotate_boxes(found.boxes, angle, w, h)
                    parts.append(Detections(boxes=boxes, scores=found.scores, labels=found.labels))
            out.append(merge_per_label(parts, self.iou, self.vote_iou))
        return out


__all__ = ["ANGLES", "RotatedPasses", "rotate_image", "unrotate_boxes"]
