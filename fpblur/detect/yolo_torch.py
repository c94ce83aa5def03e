"""Ultralytics YOLO detector for any ``.pt`` / ``.onnx`` weights (trained face or plate models).

Imports no PyTorch or Ultralytics until a model is loaded (:func:`fpblur.models.offline.import_ultralytics`,
the ``[train]`` extra); pre- and post-processing (letterbox, NMS) are Ultralytics' own.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from fpblur.core.detections import Detections
from fpblur.core.labels import class_label_map, emitted_labels, labelled
from fpblur.detect.base import SingleSizeDetector
from fpblur.detect.plate_model import cuda_wanted
from fpblur.models.offline import import_ultralytics


class YoloDetector(SingleSizeDetector):
    """Ultralytics YOLO weights (``.pt`` or ``.onnx``) run through Ultralytics; boxes in original-image pixels.

    Args:
        weights: the weights file.
        label: the target label, given to classes whose names stand for no label.
        conf: score threshold in [0, 1].
        iou: NMS IoU.
        imgsz: inference size in pixels.
        device: Ultralytics device (``"cpu"``, ``0``, ``"0,1"``; None: automatic).
        half: fp16 inference (only on CUDA; ignored elsewhere).
        class_map: explicit ``{class id or name: label}`` (see :func:`fpblur.core.labels.class_label_map`).
        augment: Ultralytics test-time augmentation.

    Raises:
        FileNotFoundError: ``weights`` does not exist.
        ValueError: ``weights`` is not a ``.pt`` or ``.onnx`` file.
        MissingExtra: PyTorch or Ultralytics is not installed (the ``[train]`` extra).
    """

    backend = "yolo"

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
        if weights.suffix.lower() == ".onnx":
            check_yolo_onnx(weights)
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
        self.class_labels = class_label_map(dict(self.model.names), label, class_map)
        self.labels = emitted_labels(self.class_labels, label)

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        # Ultralytics 8.4 spells fp16 as quantize=16 (``half`` is deprecated there).
        precision = {"quantize": 16} if self.half else {}
        results = self.model.predict(
            images,
            **precision,
            conf=conf,
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
            det = labelled(boxes, scores, cls, self.class_labels)
            h, w = res.orig_shape
            out.append(det.clip(w, h))
        return out


def check_yolo_onnx(path: Path) -> None:
    """Refuse an ONNX file that is not a YOLO detection export before Ultralytics loads it (it would log hundreds
    of ONNX Runtime warnings and fail on the first image with an opaque shape error).

    A YOLOv8 detection export has one input (``batch×3×height×width``) and one output
    (``batch×(4 + classes)×anchors``), as :mod:`fpblur.detect.yolo_onnx` reads it.

    Raises:
        ValueError: ``path`` is not an ONNX model, or its inputs/outputs are not those of a YOLO detection export
            (one line naming the file and what was found).
    """
    import onnx  # optional: onnx, deferred (0.6 s to import) to loading a YOLO ONNX file through Ultralytics

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError and friends: a damaged or non-ONNX file
        raise ValueError(f"{path}: not an ONNX model ({type(exc).__name__})") from None
    init = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    outputs = list(model.graph.output)
    rank = [len(o.type.tensor_type.shape.dim) for o in outputs]
    if len(inputs) != 1 or len(outputs) != 1 or rank != [3]:
        raise ValueError(
            f"{path}: not a YOLO detection export (expected 1 input and 1 output of rank 3, found "
            f"{len(inputs)} input(s) and {len(outputs)} output(s) of rank {rank}); --faces/--plates take YOLO weights"
        )
