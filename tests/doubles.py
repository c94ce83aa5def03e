"""Test doubles shared by the tests (kept out of the ``fpblur`` package, which ships only real code).

Detector doubles implement the detector contract of :mod:`fpblur.detect.base` (a :class:`Detector` subclass
with ``_predict``); they go through ``__init__`` like any detector and never patch a real one.  The Tk app's
non-blocking dialogs live in ``scripts/make_screenshots.py``: the screenshot script drives the app with them too.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence

import numpy as np

from fpblur.core.detections import Detections
from fpblur.detect.base import Detector


class ScriptedDetector(Detector):
    """Returns scripted boxes and records every threshold it was asked for.

    Args:
        boxes: per call (one image each), the N×4 boxes to return, in order; None: nothing ever found.
        label: the label of every box (the detector's target).
        score: the score of every box.
        conf: the detector's own threshold (what :meth:`predict` uses when given none).

    Attributes:
        confs: the threshold of every image it was run on, in order.
        images: the ``(height, width)`` of every image it was run on, in order.
    """

    def __init__(
        self, boxes: Sequence[np.ndarray] | None = None, label: str = "face", score: float = 0.9, conf: float = 0.0
    ) -> None:
        self.boxes = None if boxes is None else list(boxes)
        self.labels = (label,)
        self.label = label
        self.score = float(score)
        self.conf = float(conf)
        self.confs: list[float] = []
        self.images: list[tuple[int, int]] = []

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        out = []
        for image in images:
            self.confs.append(conf)
            self.images.append(image.shape[:2])
            if self.boxes is None:
                out.append(Detections.empty())
                continue
            b = np.asarray(self.boxes[len(self.images) - 1], np.float32).reshape(-1, 4)
            out.append(Detections.from_arrays(b, np.full(len(b), self.score), self.label))
        return out


def upload_value(name: str, content: bytes, mime: str = "application/octet-stream") -> tuple[dict, ...]:
    """A ``FileUpload.value`` (ipywidgets 8) as the browser would send it, for driving the demo widget from code."""
    return (
        {
            "name": name,
            "type": mime,
            "size": len(content),
            "content": memoryview(content),
            "last_modified": _dt.datetime.now(_dt.timezone.utc),
        },
    )
