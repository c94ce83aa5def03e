"""Camera motion between consecutive frames, so that held tracks move with the picture.

Between the frames the video schedule runs detectors on, a track's box is carried by the tracker.  Most of
what moves in a handheld, dashcam or panning shot is the camera; objects far away (small faces, distant
plates) move with it.  :class:`CameraMotion` estimates that global motion as a similarity transform
(translation, zoom, small rotation) the way BoT-SORT's camera-motion compensation does (Aharon et al. 2022,
"BoT-SORT: Robust Associations Multi-Pedestrian Tracking"), with OpenCV:
corners (``goodFeaturesToTrack``) on a small grey copy of the previous frame, tracked into the current one
by pyramidal Lucas–Kanade, and a RANSAC fit (``estimateAffinePartial2D``).  When too few points agree (a
flat picture, a cut, a large moving object filling the view) it reports no motion rather than a guess.
About 3 ms per 1280×720 frame on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class MotionSettings:
    """How :class:`CameraMotion` estimates the motion.

    Attributes:
        width: frames are analysed downscaled to this width in pixels (never enlarged).
        max_corners: corners tracked at most (``goodFeaturesToTrack``).
        min_inliers: fewer RANSAC inliers (or tracked corners) than this: no motion reported.
        min_inlier_share: inliers must also be at least this fraction of the tracked corners.
        ransac_px: RANSAC reprojection threshold, in pixels of the analysis width.
        max_guesses: after a fit, this many frames without one repeat it (then: no motion reported).
    """

    width: int = 320  # frames are analysed at this width
    max_corners: int = 200
    min_inliers: int = 12
    min_inlier_share: float = 0.5
    ransac_px: float = 1.0  # at the analysis width
    max_guesses: int = 3  # frames without a fit that repeat the last fitted motion


class CameraMotion:
    """Camera motion of a frame sequence: call :meth:`step` with every frame in order.

    Args:
        settings: analysis size, corner count and RANSAC thresholds (None: :class:`MotionSettings` defaults).
    """

    def __init__(self, settings: MotionSettings | None = None) -> None:
        self.settings = settings or MotionSettings()
        self.previous: np.ndarray | None = None
        self.scale = 1.0
        self.residual = 0.0  # how uncertain the last step's motion is, full-resolution pixels (see step)
        self.last: np.ndarray | None = None  # the last fitted motion
        self.guesses = 0  # frames guessed since it

    def step(self, image: np.ndarray, estimate: bool = True) -> np.ndarray | None:
        """The motion from the previous frame to ``image``.

        Args:
            image: the next frame, H×W×3 BGR (or H×W gray), in decoding order.
            estimate: False only remembers the frame (nothing to move yet: no tracks), which saves the fit.

        Returns:
            A 2×3 float64 similarity transform mapping the previous frame's pixels onto this frame's
            (full-resolution coordinates; for :func:`fpblur.core.boxes.transform_boxes`), or None: the first
            frame, a frame size change, ``estimate=False``, or no reliable fit and nothing to guess from.  With
            no reliable fit right after one, the previous motion again (:meth:`_guess`).  Afterwards
            :attr:`residual` says how far, in full-resolution pixels, the picture may have moved unlike that
            answer: the fit's median error (a fraction of a pixel for a clean fit), or a quarter of the guessed shift.
        """
        s = self.settings
        self.residual = 0.0
        h, w = image.shape[:2]
        scale = min(1.0, s.width / w)
        small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        previous, self.previous = self.previous, gray
        if not estimate or previous is None or previous.shape != gray.shape:
            self.last = None
            return None
        p0 = cv2.goodFeaturesToTrack(previous, maxCorners=s.max_corners, qualityLevel=0.01, minDistance=6)
        if p0 is None or len(p0) < s.min_inliers:
            return None
        # OpenCV 4.x stubs type nextPts as required (5.x accepts None), but None (no initial guess) is what its
        # Python API documents
        p1, status, _ = cv2.calcOpticalFlowPyrLK(previous, gray, p0, None, winSize=(21, 21), maxLevel=3)  # type: ignore[call-overload, unused-ignore]
        ok = status.reshape(-1) == 1
        m, inliers = (None, None)
        if ok.sum() >= s.min_inliers:
            m, inliers = cv2.estimateAffinePartial2D(
                p0[ok], p1[ok], method=cv2.RANSAC, ransacReprojThreshold=s.ransac_px
            )
        n_in = 0 if m is None or inliers is None else int(inliers.sum())
        if m is None or inliers is None or n_in < s.min_inliers or n_in < s.min_inlier_share * int(ok.sum()):
            return self._guess(gray)
        src, dst = p0[ok].reshape(-1, 2), p1[ok].reshape(-1, 2)
        err = np.linalg.norm(src @ m[:, :2].T + m[:, 2] - dst, axis=1)[inliers.reshape(-1) == 1]
        self.residual = float(np.median(err)) / scale
        m = m.astype(np.float64)
        m[:, 2] /= scale  # translation back to full-resolution pixels (the linear part is scale-free)
        self.last = m
        self.guesses = 0
        return m

    def _guess(self, gray: np.ndarray) -> np.ndarray | None:
        """No reliable fit (a large moving object, motion blur): the last fitted motion again (cameras move
        smoothly), for at most :attr:`MotionSettings.max_guesses` frames in a row, with a quarter of its shift as
        :attr:`residual`; None (residual 0) when there is none or this frame has no texture to follow (a cut to a
        flat picture)."""
        s = self.settings
        last = self.last
        self.guesses += 1
        if last is None or self.guesses > s.max_guesses:
            return None
        corners = cv2.goodFeaturesToTrack(gray, maxCorners=s.min_inliers, qualityLevel=0.01, minDistance=6)
        if corners is None or len(corners) < s.min_inliers:
            self.last = None  # a cut to a flat picture: the camera's motion before says nothing
            return None
        self.residual = 0.25 * float(np.hypot(last[0, 2], last[1, 2]))
        return last


__all__ = ["CameraMotion", "MotionSettings"]
