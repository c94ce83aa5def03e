"""Build a detector from a small declarative spec (what the CLI, the widgets and the app pass around).

Every field left ``None`` takes its value from the spec's named profile (:mod:`fpblur.config.profiles`; ``default``
unless ``profile="fast"``), so ``DetectorSpec("face")`` is exactly what ``fpblur image`` runs by default.
"""

from __future__ import annotations

from pathlib import Path

from fpblur.config.profiles import get_profile
from fpblur.config.spec import DetectorSpec
from fpblur.models.registry import DEFAULTS, model_path

def build_detector(spec: DetectorSpec):
    """Instantiate the backend a spec describes (CenterFace for the default face model, YOLO otherwise)."""
    profile = get_profile(spec.profile)
    if spec.uses_centerface:
        from fpblur.detect.centerface import CenterFaceDetector

        face = profile.face
        return CenterFaceDetector(
            model_path("centerface"),
            conf=spec.effective_conf,
            iou=spec.effective_iou,
            scales=spec.scales if spec.scales else face.passes,
            max_side=spec.max_side if spec.max_side else face.max_side,
            min_net=face.min_net,
            vote_iou=face.vote_iou,
            small_penalty=face.small_penalty,
            precision=face.precision,
        )
    weights = Path(spec.weights or model_path(DEFAULTS[spec.target]))
    sizes = spec.effective_imgsz
    common = dict(label=spec.target, conf=spec.effective_conf, iou=spec.effective_iou, imgsz=sizes[0],
                  class_map=spec.class_map)
    if spec.weights is None and spec.target == "plate" and profile.plate.onnx:
        from fpblur.detect.plate_model import plate_weights

        weights = plate_weights(weights, spec.device)
    if spec.weights is None and weights.suffix.lower() == ".onnx":
        # the default plate model's cached export: ONNX Runtime directly (no PyTorch import, faster per call)
        from fpblur.detect.yolo_onnx import OnnxYoloDetector

        first = OnnxYoloDetector(weights, **common)
    else:
        from fpblur.detect.yolo_torch import YoloDetector

        first = YoloDetector(weights, device=spec.device, half=spec.half, **common)
    if len(sizes) == 1:
        return first
    from fpblur.detect.multipass import MultiDetector

    # one loaded model run at several inference sizes, merged by NMS (+ voting)
    members = [first] + [first.with_imgsz(size) for size in sizes[1:]]
    return MultiDetector(members, iou=spec.effective_iou, vote_iou=profile.plate.vote_iou)
