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
import os
from pathlib import Path

import cv2
import numpy as np

from fpblur.core.boxes import nms
from fpblur.core.detections import Detections
from fpblur.core.labels import class_label_map, emitted_labels, labelled
from fpblur.detect.base import SingleSizeDetector
from fpblur.detect.runtime import make_session

PAD_VALUE = 114
MAX_DET = 300


def letterbox(
    image: np.ndarray, imgsz: int, stride: int = 32
) -> tuple[np.ndarray, tuple[float, float], tuple[int, int]]:
    """Letterbox as Ultralytics YOLOv8 does for a dynamic-shape model (``LetterBox(auto=True)``): resize keeping
    the aspect ratio so the long side is ``imgsz``, then pad each dimension with grey (114) by
    ``(imgsz - size) mod stride`` pixels, split between both sides (so a multiple of ``stride`` when ``imgsz`` is).

    Args:
        image: H×W×3 uint8 BGR image.
        imgsz: the long side after resizing, in pixels (images are enlarged or shrunk to it).
        stride: the network's stride.

    Returns:
        ``(padded, (gain_x, gain_y), (pad_left, pad_top))``: the padded image, the resize factors
        (new size / original size) and the padding added on the left and top, in pixels.  A box in the padded
        image maps back as ``(x - pad_left) / gain_x``, ``(y - pad_top) / gain_y``.
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
        self.session = make_session(self.weights.read_bytes(), threads=threads, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.label = label
        self.conf = float(conf)
        self.iou = float(iou)
        self.imgsz = int(imgsz)
        self.names = model_names(self.session)
        self.class_labels = class_label_map(self.names or {0: label}, label, class_map)
        self.labels = emitted_labels(self.class_labels, label)

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
