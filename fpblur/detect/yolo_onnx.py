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
from pathlib import Path

import cv2
import numpy as np

from fpblur.core.boxes import nms
from fpblur.core.detections import Detections
from fpblur.detect.base import check_image
from fpblur.detect.runtime import make_session
from fpblur.detect.yolo_torch import class_label_map, labelled  # no PyTorch/Ultralytics import at module level

PAD_VALUE = 114
MAX_DET = 300


def letterbox(image: np.ndarray, imgsz: int, stride: int = 32) -> tuple[np.ndarray, tuple[float, float], tuple[int, int]]:
    """Resize keeping the aspect ratio so the long side is ``imgsz``, pad to a multiple of ``stride``.

    Returns ``(padded image, (gain_x, gain_y), (pad_left, pad_top))``.
    """
    h, w = image.shape[:2]
    r = min(imgsz / h, imgsz / w)
    new_w, new_h = max(round(w * r), 1), max(round(h * r), 1)
    dw, dh = (imgsz - new_w) % stride / 2, (imgsz - new_h) % stride / 2
    if (w, h) != (new_w, new_h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return image, (new_w / w, new_h / h), (left, top)


def model_names(session) -> dict[int, str]:
    """Class names the Ultralytics exporter stores in the ONNX metadata (``{0: 'plate'}``); {} if absent."""
    meta = session.get_modelmeta().custom_metadata_map
    try:
        names = ast.literal_eval(meta.get("names", "{}"))
    except (ValueError, SyntaxError):
        return {}
    return {int(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}


class OnnxYoloDetector:
    """YOLOv8 ONNX (dynamic input size) on ONNX Runtime's CPU provider; same interface as ``YoloDetector``."""

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
        self.session = make_session(self.weights.read_bytes(), threads=threads, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.label = label
        self.conf = float(conf)
        self.iou = float(iou)
        self.imgsz = int(imgsz)
        self.names = model_names(self.session)
        self.labels = class_label_map(self.names or {0: label}, label, class_map)

    def with_imgsz(self, imgsz: int) -> "OnnxYoloDetector":
        """The same model (shared session) at another inference size."""
        other = copy.copy(self)
        other.imgsz = int(imgsz)
        return other

    def detect(self, image_bgr: np.ndarray, conf: float | None = None) -> Detections:
        image = check_image(image_bgr)
        conf = self.conf if conf is None else float(conf)
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
        return labelled(boxes, scores, cls, self.labels).clip(w, h)

    def predict(self, images: list[np.ndarray], conf: float | None = None) -> list[Detections]:
        return [self.detect(im, conf=conf) for im in images]

    __call__ = detect


__all__ = ["OnnxYoloDetector", "letterbox", "model_names"]
