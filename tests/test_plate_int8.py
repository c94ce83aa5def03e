"""The int8 plate graph (:mod:`fpblur.detect.plate_int8`): shipped, rebuilt byte for byte by its recipe, run by
light video frames and crop re-checks only (full frames and photos stay fp32), and finding what fp32 finds."""

from __future__ import annotations

import hashlib
from importlib import resources

import numpy as np
import pytest

from fpblur import Anonymizer
from fpblur.config.profiles import LightPasses
from fpblur.core.boxes import iou_matrix
from fpblur.detect import plate_int8
from fpblur.detect.base import Detector
from fpblur.detect.yolo_onnx import OnnxYoloDetector
from fpblur.models.registry import model_path
from fpblur.models.samples import synthetic_car


@pytest.fixture(scope="module")
def plates():
    """The default plate detector (as ``fpblur image``/``video`` build it) and its fp32 ONNX member."""
    detector = Anonymizer(targets="plate").detectors["plate"]
    member = detector.light(LightPasses(plate_precision="fp32"))
    assert isinstance(member, OnnxYoloDetector)
    return detector, member


def test_the_shipped_int8_plate_graph_has_its_sha256():
    """(``tests/test_models.py`` rebuilds it byte for byte with ``scripts/build_int8.py plate``.)"""
    ref = resources.files("fpblur.models").joinpath("weights").joinpath(plate_int8.SHIPPED_INT8)
    assert hashlib.sha256(ref.read_bytes()).hexdigest() == plate_int8.SHIPPED_INT8_SHA256


def test_only_the_default_plate_file_has_an_int8_graph(tmp_path):
    assert plate_int8.int8_weights_for(model_path("plate-yolov8n")) == plate_int8.shipped_int8_path()
    other = tmp_path / "other.onnx"
    other.write_bytes(model_path("plate-yolov8n").read_bytes() + b"\0")
    assert plate_int8.int8_weights_for(other) is None
    with pytest.raises(FileNotFoundError):
        plate_int8.int8_weights_for(tmp_path / "missing.onnx")


def test_the_head_decoding_and_the_stride_32_branches_stay_fp32():
    names = [
        "/model.0/conv/Conv",
        "/model.22/cv2.0/cv2.0.0/conv/Conv",
        "/model.22/cv3.1/cv3.1.2/Conv",
        "/model.22/cv2.2/cv2.2.0/conv/Conv",
        "/model.22/cv3.2/cv3.2.2/Conv",
        "/model.22/dfl/conv/Conv",
        "/model.22/Concat_26",
    ]
    assert plate_int8.fp32_nodes(names) == names[3:]


def test_light_passes_run_the_int8_graph_and_full_frames_and_photos_fp32(plates):
    detector, fp32 = plates
    light = detector.light(LightPasses())
    assert isinstance(light, OnnxYoloDetector) and light.imgsz == 480
    assert light.session is fp32.int8_session() is not None and light.session is not fp32.session
    assert detector.light(LightPasses()).session is light.session  # built once, shared by every copy
    assert fp32.light(LightPasses(plate_precision="fp32")) is fp32  # the copies left the original alone
    from fpblur.config.profiles import FullFramePasses

    def sessions(d) -> set:  # the sessions of every ONNX plate pass of a detector tree
        found, stack = set(), [d]
        while stack:
            x = stack.pop()
            if isinstance(x, OnnxYoloDetector):
                found.add(id(x.session))
            for value in vars(x).values():  # wrapped detectors: base, inner, extra (low-light pass), members
                stack += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, Detector)]
        return found

    assert sessions(detector) == sessions(detector.video_full(FullFramePasses())) == {id(fp32.session)}
    with pytest.raises(ValueError, match="plate_precision"):
        LightPasses(plate_precision="fp16")


def test_another_plate_model_runs_fp32_on_light_frames(tmp_path):
    import onnx

    model = onnx.load(str(model_path("plate-yolov8n")))
    onnx.helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, "note": "retrained"})
    other = tmp_path / "plates.onnx"
    onnx.save(model, str(other))  # the same graph in another file (another sha256)
    detector = OnnxYoloDetector(other, imgsz=480)
    assert detector.light(LightPasses()) is detector and detector.int8_session() is None


@pytest.mark.parametrize("width", [60, 100, 200, 400, 600])
def test_the_int8_graph_finds_the_plate_fp32_finds_from_small_to_filling_the_frame(plates, width):
    """The drawn car's plate from 60 px wide to nearly the frame's width (the stride-32 branches stay fp32 for
    the largest ones), at the light passes' 480 px: the same box (IoU >= 0.8), a score above the threshold and
    within 0.25 of fp32's (a calibrated range too narrow for a layer shows as scores stuck at 0.5 or 0)."""
    _, fp32 = plates
    image, box = synthetic_car(text="KX 4071", plate_width=width, seed=7)
    int8 = fp32.light(LightPasses()).with_imgsz(480)
    reference = fp32.with_imgsz(480).detect(image)
    found = int8.detect(image)
    truth = np.array([box], np.float32)
    assert len(reference) and iou_matrix(truth, reference.boxes).max() > 0.7
    assert len(found), f"int8 missed the {width} px plate (fp32 score {reference.scores.max():.2f})"
    assert iou_matrix(reference.boxes[:1], found.boxes).max() >= 0.8
    assert found.scores.max() >= fp32.conf
    assert abs(found.scores.max() - reference.scores.max()) <= 0.25


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_video_light_frames_and_crop_rechecks_follow_plate_precision_and_full_frames_stay_fp32(
    tmp_path, monkeypatch, precision
):
    """A 12-frame clip of the drawn car: full frames run the plate model on fp32, light frames and crop re-checks
    on the int8 graph by default; ``video={"light": {"plate_precision": "fp32"}}`` keeps them all on fp32."""
    import cv2

    from fpblur.media.synth import write_video
    from fpblur.run.video import anonymize_video

    image, _ = synthetic_car(text="KX 4071", size=(320, 240), plate_width=200, seed=3)
    frames = [np.roll(image, 2 * i, axis=1) for i in range(12)]
    src = write_video(tmp_path / "car.mp4", frames, fps=25)
    anonymizer = Anonymizer(targets="plate", video={"light": {"plate_precision": precision}})
    int8 = anonymizer.detectors["plate"].light(LightPasses()).session if precision == "int8" else None
    calls: list[bool] = []
    real = OnnxYoloDetector._detect_one

    def spy(self, image, conf):
        calls.append(int8 is not None and self.session is int8)
        return real(self, image, conf)

    monkeypatch.setattr(OnnxYoloDetector, "_detect_one", spy)
    report = anonymize_video(src, tmp_path / "out.mp4", anonymizer)
    kinds = report.frame_kinds
    assert kinds["full"] >= 2 and kinds["light"] >= 2 and kinds.get("crop", 0) >= 2, kinds
    assert len(calls) > kinds["full"]  # one 640 px pass per full frame (no tiles at 320 px), then the others
    assert calls.count(False) == (kinds["full"] if precision == "int8" else len(calls))
    assert report.tracks.get("plate", 0) >= 1
    out = cv2.VideoCapture(str(tmp_path / "out.mp4"))
    assert out.read()[0]
