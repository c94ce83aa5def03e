"""Ultralytics YOLO detector for any ``.pt`` / ``.onnx`` weights (trained face or plate models)."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from fpblur.core.detections import LABELS, Detections
from fpblur.detect.base import check_image
from fpblur.detect.plate_model import cuda_wanted
from fpblur.models.offline import import_ultralytics


def label_from_class_name(name: str) -> str | None:
    """The fpblur label a model or dataset class name stands for: ``"face"`` when it contains "face",
    ``"plate"`` when it contains "plate" or "licen" (licence/license), else None (case-insensitive)."""
    lname = str(name).lower()
    return next((lab for lab in LABELS if lab in lname or (lab == "plate" and "licen" in lname)), None)


def class_label_map(names: dict[int, str], label: str | None, class_map: dict | None) -> dict[int, str]:
    """Map the model's class ids to fpblur labels.

    ``class_map`` (``{class id or name: label}``) wins; otherwise a class whose name contains "face" or
    "plate" maps to that label; any remaining class maps to ``label`` (the detector's target).
    """
    out: dict[int, str] = {}
    for cid, name in names.items():
        if class_map and (cid in class_map or name in class_map):
            out[cid] = class_map.get(cid, class_map.get(name))
            continue
        guess = label_from_class_name(name)
        if guess and (label is None or guess == label):
            out[cid] = guess
        elif label is not None:
            out[cid] = label
    return out


def labelled(boxes, scores, cls, labels: dict[int, str]) -> Detections:
    """Detections for a YOLO model's output: class ids ``cls`` become fpblur labels through ``labels``
    (see :func:`class_label_map`); boxes of classes missing from ``labels`` are dropped."""
    cls = np.asarray(cls).reshape(-1).astype(int)
    keep = np.flatnonzero([int(c) in labels for c in cls])
    names = np.array([labels[int(c)] for c in cls[keep]], dtype="<U8")
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections(boxes[keep], np.asarray(scores).reshape(-1)[keep], names)


class YoloDetector:
    """Run Ultralytics YOLO weights and return :class:`Detections` in original-image pixels."""

    def __init__(
        self,
        weights: str | os.PathLike,
        label: str = "plate",
        conf: float = 0.25,
        iou: float = 0.45,
        imgsz: int = 640,
        device: str | int | None = None,
        half: bool = False,
        class_map: dict | None = None,
        augment: bool = False,
    ) -> None:
        weights = Path(weights)
        if not weights.is_file():
            raise FileNotFoundError(f"{weights}: weights file not found")
        if weights.suffix.lower() not in (".pt", ".onnx"):
            raise ValueError(f"{weights}: expected a .pt or .onnx weights file")
        ultralytics = import_ultralytics()
        self.weights = weights
        self.label = label
        self.conf = float(conf)
        self.iou = float(iou)
        self.imgsz = int(imgsz)
        self.device = device if device not in ("", None) else None
        self.augment = augment
        self.model = ultralytics.YOLO(str(weights), task="detect")
        # Half precision only exists on CUDA; silently falling back to fp32 on CPU is the sane default.
        self.half = bool(half) and cuda_wanted(self.device)
        self.labels = class_label_map(dict(self.model.names), label, class_map)

    def with_imgsz(self, imgsz: int) -> "YoloDetector":
        """The same loaded model at another inference size (Ultralytics takes the size per call)."""
        other = copy.copy(self)
        other.imgsz = int(imgsz)
        return other

    def predict(self, images: list[np.ndarray], conf: float | None = None) -> list[Detections]:
        imgs = [check_image(im) for im in images]
        # Ultralytics 8.4 spells fp16 as quantize=16 (``half`` is deprecated there).
        precision = {"quantize": 16} if self.half else {}
        results = self.model.predict(
            imgs,
            **precision,
            conf=self.conf if conf is None else conf,
            iou=self.iou,
            imgsz=self.imgsz,
            device=self.device,
            augment=self.augment,
            verbose=False,
        )
        out = []
        for res in results:
            b = res.boxes
            boxes = b.xyxy.cpu().numpy() if len(b) else np.zeros((0, 4), np.float32)
            scores = b.conf.cpu().numpy() if len(b) else np.zeros((0,), np.float32)
            cls = b.cls.cpu().numpy().astype(int) if len(b) else np.zeros((0,), int)
            det = labelled(boxes, scores, cls, self.labels)
            h, w = res.orig_shape
            out.append(det.clip(w, h))
        return out

    def detect(self, image_bgr: np.ndarray, conf: float | None = None) -> Detections:
        return self.predict([image_bgr], conf=conf)[0]

    __call__ = detect
