"""Build a detector from a small declarative spec (what the CLI, the widgets and the app pass around).

Every field left ``None`` takes its value from the spec's named profile (:mod:`fpblur.config.profiles`; ``default``
unless ``profile="fast"``), so ``DetectorSpec("face")`` is exactly what ``fpblur image`` runs by default.
"""

from __future__ import annotations

from pathlib import Path

from fpblur.config.profiles import LightPasses, get_profile
from fpblur.config.spec import DetectorSpec
from fpblur.detect.base import Detector
from fpblur.detect.centerface import CenterFaceDetector
from fpblur.detect.lowlight import LowLightDetector
from fpblur.detect.multipass import MultiDetector
from fpblur.detect.plate_model import plate_weights
from fpblur.detect.rotations import RotatedPasses
from fpblur.detect.tiles import TiledDetector
from fpblur.detect.yolo_onnx import OnnxYoloDetector
from fpblur.detect.yolo_torch import YoloDetector  # imports no PyTorch/Ultralytics until a model is loaded
from fpblur.models.registry import DEFAULTS, model_path


def build_detector(spec: DetectorSpec) -> Detector:
    """Instantiate the backend a spec describes (CenterFace for the default face model, YOLO otherwise).

    Args:
        spec: target, weights and settings; fields left None take the spec's profile's values.

    Returns:
        A :class:`~fpblur.detect.centerface.CenterFaceDetector`, an
        :class:`~fpblur.detect.yolo_onnx.OnnxYoloDetector` (the default plate model's shipped ONNX file), a
        :class:`~fpblur.detect.yolo_torch.YoloDetector`, or a :class:`~fpblur.detect.multipass.MultiDetector` of
        one of the YOLO ones at several input sizes (one loaded model).

    Raises:
        FileNotFoundError: the weights (or the default model: :class:`~fpblur.models.registry.ModelNotFound`) are
            missing.
        ValueError: bad weights file type or settings.
        MissingExtra: ``.pt`` weights (or custom weights run through Ultralytics) without the ``[train]`` extra.
    """
    profile = get_profile(spec.profile)
    if spec.uses_centerface:
        face = profile.face
        centerface = CenterFaceDetector(
            model_path("centerface"),
            conf=spec.effective_conf,
            iou=spec.effective_iou,
            scales=spec.scales if spec.scales else face.passes,
            max_side=spec.max_side if spec.max_side else face.max_side,
            min_net=face.min_net,
            vote_iou=face.vote_iou,
            small_penalty=face.small_penalty,
            precision=face.precision,
            crowd_flip=face.crowd_flip,
            threads=spec.threads,
        )
        rotations = face.rotations if spec.rotations is None else spec.rotations
        if not rotations:
            return centerface
        # faces on their side or upside down: the rotation pass alone on turned copies, merged with the upright
        turned = centerface.light(LightPasses(face_passes=(face.rotation_pass,), plate_imgsz=()))
        return RotatedPasses(
            centerface,
            turned,
            rotations,
            rotated_conf=face.rotation_conf,
            iou=spec.effective_iou,
            vote_iou=face.vote_iou,
        )
    weights = Path(spec.weights or model_path(DEFAULTS[spec.target]))
    sizes = spec.effective_imgsz
    if spec.weights is None and spec.target == "plate" and profile.plate.onnx:
        weights = plate_weights(weights, spec.device)
    if spec.weights is None and weights.suffix.lower() == ".onnx":
        # the default plate model's cached export: ONNX Runtime directly (no PyTorch import, faster per call)
        first: OnnxYoloDetector | YoloDetector = OnnxYoloDetector(
            weights,
            label=spec.target,
            conf=spec.effective_conf,
            iou=spec.effective_iou,
            imgsz=sizes[0],
            class_map=spec.class_map,
            threads=spec.threads,
        )
    else:
        first = YoloDetector(
            weights,
            label=spec.target,
            conf=spec.effective_conf,
            iou=spec.effective_iou,
            imgsz=sizes[0],
            device=spec.device,
            half=spec.half,
            class_map=spec.class_map,
        )
    detector: Detector = first
    if len(sizes) > 1:
        # one loaded model run at several inference sizes, merged by NMS (+ voting)
        members: list[Detector] = [first, *(first.with_imgsz(size) for size in sizes[1:])]
        detector = MultiDetector(members, iou=spec.effective_iou, vote_iou=profile.plate.vote_iou)
    if profile.plate.tile and spec.weights is None and spec.target == "plate":
        # large frames: tiles at the frame's own scale too (whole-image passes as before; video light frames: none)
        detector = TiledDetector(
            detector,
            first.with_imgsz,
            tile=profile.plate.tile,
            overlap=profile.plate.tile_overlap,
            above=profile.plate.tile_above,
            iou=spec.effective_iou,
            vote_iou=profile.plate.vote_iou,
        )
    if spec.target == "plate" and spec.weights is None and profile.plate.dark_luma:
        # dark frames: an extra contrast-equalised pass, merged (light video passes are left as they are)
        extra: Detector | None = None
        if profile.plate.dark_imgsz:  # and the model at a small size on the frame, its mirror and both copies
            at = [first.with_imgsz(size) for size in profile.plate.dark_imgsz]
            extra = (
                at[0] if len(at) == 1 else MultiDetector(at, iou=spec.effective_iou, vote_iou=profile.plate.vote_iou)
            )
        detector = LowLightDetector(detector, max_luma=profile.plate.dark_luma, iou=spec.effective_iou, extra=extra)
    return detector
