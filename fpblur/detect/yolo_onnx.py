"""A YOLOv8 detection model exported to ONNX, run directly on ONNX Runtime (no PyTorch, no Ultralytics).

Why not through Ultralytics: loading a model through ``ultralytics.YOLO`` imports PyTorch (about 2.5 s before
the first frame on the 2-core development machine) and its per-call pre/post-processing costs more than the
network at 480 px.  The steps here are exactly Ultralytics' for a dynamic-shape export (``predict`` with
``rect``): letterbox to the smallest stride-32 rectangle with grey (114) padding, RGB in [0, 1], class-aware NMS
on the raw ``(1, 4 + classes, anchors)`` output, boxes mapped back to the original pixels;
``tests/test_detectors.py`` checks the boxes match Ultralytics' own run of the same file.  NMS itself is
OpenCV's (:func:`fpblur.core.boxes.nms`).
"""

from __future__ import annotations

import ast
import copy
import os
import threading
from pathlib import Path

import numpy as np
import onnxruntime as ort

from fpblur.config.profiles import LightPasses
from fpblur.core.boxes import nms
from fpblur.core.detections import Detections
from fpblur.core.labels import class_label_map, emitted_labels, labelled
from fpblur.detect.base import SingleSizeDetector
from fpblur.detect.letterbox import letterbox
from fpblur.detect.plate_int8 import int8_weights_for
from fpblur.detect.runtime import make_session

MAX_DET = 300


def model_names(session) -> dict[int, str]:
    """Class names the Ultralytics exporter stores in the ONNX metadata (``{0: 'plate'}``).

    Args:
        session: an ONNX Runtime ``InferenceSession``.

    Returns:
        ``{class id: name}``; empty when the metadata has no readable ``names``.
    """
    meta = session.get_modelmeta().custom_metadata_map
    try:
        names = ast.literal_eval(meta.get("names", "{}"))
    except (ValueError, SyntaxError):
        return {}
    return {int(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


class OnnxYoloDetector(SingleSizeDetector):
    """A YOLOv8 ONNX export (dynamic input size) on ONNX Runtime's CPU provider; same boxes as ``YoloDetector``.

    Per image: :func:`letterbox`, RGB in [0, 1], one network run, the best class per anchor above the threshold,
    class-aware NMS (at most 300 boxes), boxes mapped back to the image's pixels and clipped — Ultralytics
    YOLOv8's own pre- and post-processing (module docstring).

    Args:
        weights: the ``.onnx`` file (Ultralytics export; class names read from its metadata).
        label: the target label, given to classes whose names stand for no label.
        conf: score threshold in [0, 1].
        iou: class-aware NMS IoU.
        imgsz: inference size in pixels (long side of the letterboxed input).
        class_map: explicit ``{class id or name: label}`` (see :func:`fpblur.core.labels.class_label_map`).
        threads: ONNX Runtime's intra-op threads (default: its own choice).

    Raises:
        FileNotFoundError: ``weights`` does not exist.
    """

    backend = "yolo"

    def __init__(
        self,
        weights: str | os.PathLike,
        label: str = "plate",
        conf: float = 0.25,
        iou: float = 0.45,
        imgsz: int = 640,
        class_map: dict | None = None,
        threads: int | None = None,
    ) -> None:
        self.weights = Path(weights)
        if not self.weights.is_file():
            raise FileNotFoundError(f"{self.weights}: weights file not found")
        self._threads = threads
        self.session = self._make(self.weights)
        # the int8 graph light passes run (None: this model has none), built when first needed and shared by every
        # copy (with_imgsz, light); light frames (detect thread) and crop re-checks (track thread) both ask for it
        self._int8: dict[str, ort.InferenceSession | None] = {}
        self._lock = threading.Lock()
        self.input_name = self.session.get_inputs()[0].name
        self.label = label
        self.conf = float(conf)
        self.iou = float(iou)
        self.imgsz = int(imgsz)
        self.names = model_names(self.session)
        self.class_labels = class_label_map(self.names or {0: label}, label, class_map)
        self.labels = emitted_labels(self.class_labels, label)

    def _make(self, path: Path) -> ort.InferenceSession:
        return make_session(path.read_bytes(), threads=self._threads, providers=["CPUExecutionProvider"])

    def int8_session(self) -> ort.InferenceSession | None:
        """The session of this model's int8 graph (:mod:`fpblur.detect.plate_int8`: only the default plate model
        has one), built on first use and shared with this detector's copies; None when there is none."""
        with self._lock:
            if "int8" not in self._int8:
                int8 = int8_weights_for(self.weights)
                self._int8["int8"] = None if int8 is None else self._make(int8)
            return self._int8["int8"]

    def light(self, passes: LightPasses) -> OnnxYoloDetector:
        """This detector on the graph ``passes.plate_precision`` names: a copy on the int8 session for ``"int8"``
        when this model has an int8 graph, else this detector itself (its input size is set by the caller)."""
        if passes.plate_precision != "int8" or (int8 := self.int8_session()) is None:
            return self
        other = copy.copy(self)
        other.session = int8
        return other

    def _detect_one(self, image: np.ndarray, conf: float) -> Detections:
        h, w = image.shape[:2]
        padded, (gx, gy), (px, py) = letterbox(image, self.imgsz)
        blob = np.ascontiguousarray(padded[:, :, ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255.0
        out = self.session.run(None, {self.input_name: blob})[0][0].T  # anchors × (4 + classes)
        cls_scores = out[:, 4:]
        cls = cls_scores.argmax(axis=1)
        scores = cls_scores[np.arange(len(cls)), cls]
        keep = scores > conf
        if not keep.any():
            return Detections.empty()
        xywh, scores, cls = out[keep, :4], scores[keep], cls[keep]
        boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], axis=1)
        # class-aware NMS: offset each class far apart, as Ultralytics does (agnostic=False)
        kept = nms(boxes + (cls[:, None] * 7680.0), scores, self.iou)[:MAX_DET]
        boxes, scores, cls = boxes[kept], scores[kept], cls[kept]
        boxes = (boxes - np.array([px, py, px, py], np.float32)) / np.array([gx, gy, gx, gy], np.float32)
        return labelled(boxes, scores, cls, self.class_labels).clip(w, h)

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        return [self._detect_one(im, conf) for im in images]


__all__ = ["OnnxYoloDetector", "letterbox", "model_names"]
