"""Profiles, multi-scale CenterFace, box merging and the --fast/--profile options (no evaluation data needed)."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from fpblur.config.profiles import PROFILES, get_profile
from fpblur.config.settings import resolve_config
from fpblur.config.spec import DetectorSpec
from fpblur.core.boxes import iou_matrix
from fpblur.core.detections import Detections
from fpblur.detect.centerface import (
    CenterFaceDetector,
    ScalePass,
    apply_small_penalty,
    parse_passes,
    pass_ranges,
)
from fpblur.detect.factory import build_detector
from fpblur.detect.lowlight import LowLightDetector
from fpblur.detect.multipass import MultiDetector, merge_boxes

# zidane.jpg's right-hand face (1280×720 original), measured by hand
ZIDANE_FACE = np.array([911, 102, 1053, 277], np.float32)


@pytest.fixture(scope="module")
def default_faces():
    # the profile's upright CenterFace passes (its rotated passes on turned copies: tests/test_rotations.py)
    return build_detector(DetectorSpec("face", rotations=()))


@pytest.fixture(scope="module")
def full_res_faces():
    return CenterFaceDetector(scales=(1.0,))


def test_profiles_exist_and_unknown_name_fails():
    assert set(PROFILES) >= {"default", "fast"}
    assert get_profile() is PROFILES["default"] and get_profile(None).name == "default"
    with pytest.raises(ValueError, match="unknown profile 'turbo'"):
        get_profile("turbo")
    with pytest.raises(ValueError):
        DetectorSpec("face", profile="turbo")
    for p in PROFILES.values():
        assert p.name in p.describe() and set(p.pad) == {"face", "plate"}


def test_spec_resolves_unset_fields_from_the_profile():
    default, fast = get_profile("default"), get_profile("fast")
    assert DetectorSpec("plate").effective_conf == default.plate.conf == resolve_config().spec("plate").conf
    assert DetectorSpec("plate", profile="fast").effective_conf == fast.plate.conf
    assert DetectorSpec("plate").effective_imgsz == default.plate.imgsz
    assert DetectorSpec("plate", imgsz=320).effective_imgsz == (320,)
    assert DetectorSpec("plate", imgsz=(640, 320)).effective_imgsz == (640, 320)
    # weights given as a file (the default model's or a user's, either target) get the profile's YOLO sizes too
    assert DetectorSpec("plate", weights="my.pt").effective_imgsz == default.plate.imgsz == (640, 480)
    assert DetectorSpec("face", weights="faces.onnx").effective_imgsz == default.plate.imgsz
    assert DetectorSpec("plate", weights="my.pt", profile="fast").effective_imgsz == PROFILES["fast"].plate.imgsz
    assert DetectorSpec("face", weights="faces.pt", imgsz=960).effective_imgsz == (960,)
    assert DetectorSpec("face", conf=0.5).effective_conf == 0.5
    assert resolve_config(detectors={"face": {"conf": None, "iou": 0.4}}).spec("face").effective_iou == 0.4


def test_scale_pass_text_forms():
    assert ScalePass.parse("2") == ScalePass(2.0)
    assert ScalePass.parse("1.5x") == ScalePass(1.5)
    assert ScalePass.parse("640px") == ScalePass(side=640)
    assert ScalePass.parse("2@4096") == ScalePass(2.0, max_side=4096)
    assert ScalePass.parse(0.5) == ScalePass(0.5)
    for bad in ("", "fast", "-1", "10px", "2@"):
        with pytest.raises(ValueError):
            ScalePass.parse(bad)
    assert [str(p) for p in parse_passes("2@4096, 640px,1")] == ["2@4096", "640px", "1"]
    with pytest.raises(ValueError):
        parse_passes("")


def test_scale_pass_factor():
    assert ScalePass(2.0).factor(720, 1280) == 2.0
    assert ScalePass(2.0, max_side=2048).factor(720, 1280) == pytest.approx(1.6)
    assert ScalePass(2.0).factor(720, 1280, max_side=1280) == 1.0
    assert ScalePass(side=640).factor(720, 1280) == 0.5
    assert ScalePass(side=640).factor(300, 400) == 1.0  # never enlarged


def test_pass_ranges_tile_all_sizes():
    ranges = pass_ranges([2.0, 1.0, 0.5], min_net=40)
    assert ranges == [(0.0, 40.0), (40.0, 80.0), (80.0, math.inf)]
    assert pass_ranges([1.0], 40) == [(0.0, math.inf)]
    assert pass_ranges([2.0, 0.5], 0) == [(0.0, math.inf)] * 2


def test_plan_drops_passes_that_collapse_to_the_same_size(default_faces):
    assert default_faces.plan(720, 1280) == [(2.0, 0.0, 80.0), (0.5, 80.0, math.inf)]
    # a small image: the 640 px pass is full resolution
    assert [f for f, _, _ in default_faces.plan(300, 400)] == [2.0, 1.0]
    # a 4000 px photo: the ×2 pass is capped at 4096 px
    assert default_faces.plan(3000, 4000)[0][0] == pytest.approx(1.024)


def test_small_penalty():
    boxes = np.array([[0, 0, 5, 5], [0, 0, 10, 10], [0, 0, 30, 30]], np.float32)
    scores = np.array([0.25, 0.25, 0.25], np.float32)
    out = apply_small_penalty(boxes, scores, ((16, 0.02), (8, 0.1)))  # order does not matter
    assert out.tolist() == pytest.approx([0.15, 0.23, 0.25])
    assert apply_small_penalty(boxes, scores, ()) is scores


def test_merge_boxes_nms_and_voting():
    boxes = np.array([[0, 0, 10, 10], [2, 0, 12, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.9, 0.9, 0.5], np.float32)
    b, s = merge_boxes(boxes, scores, iou=0.3)
    assert len(b) == 2 and s.tolist() == pytest.approx([0.9, 0.5])
    b, s = merge_boxes(boxes, scores, iou=0.3, vote_iou=0.5)
    assert b[0].tolist() == pytest.approx([1, 0, 11, 10])  # equal weights: the mean box
    assert b[1].tolist() == pytest.approx([50, 50, 60, 60])
    b, s = merge_boxes(np.zeros((0, 4)), np.zeros(0), 0.3, 0.5)
    assert b.shape == (0, 4)


def test_default_profile_finds_both_zidane_faces(default_faces, zidane, no_network):
    dets = default_faces(zidane)
    iou = iou_matrix(np.array([ZIDANE_FACE, [552, 258, 667, 434]]), dets.boxes)
    assert (iou.max(axis=1) > 0.5).all(), dets.boxes
    assert default_faces.predict([zidane, zidane[:, ::-1].copy()])[0].boxes.tolist() == dets.boxes.tolist()


def test_downscaled_pass_finds_a_huge_close_up(default_faces, full_res_faces, zidane):
    """An ~880 px face: full resolution returns a wrong partial box; the 640 px pass gets it right."""
    crop = zidane[60:320, 860:1110]
    big = cv2.resize(crop, None, fx=5, fy=5)
    truth = (ZIDANE_FACE - np.array([860, 60, 860, 60], np.float32)) * 5
    assert iou_matrix(truth[None], full_res_faces(big).boxes).max(initial=0) < 0.5
    assert iou_matrix(truth[None], default_faces(big).boxes).max() > 0.6
    # the per-call override runs only the full-resolution pass
    assert iou_matrix(truth[None], default_faces.with_passes(["1"])(big).boxes).max(initial=0) < 0.5


def test_upscaled_pass_scores_tiny_faces_higher(default_faces, full_res_faces, zidane):
    small = cv2.resize(zidane, None, fx=0.08, fy=0.08, interpolation=cv2.INTER_AREA)  # faces about 12 px
    canvas = np.full((480, 640, 3), 127, np.uint8)
    canvas[100 : 100 + small.shape[0], 100 : 100 + small.shape[1]] = small
    truth = ZIDANE_FACE * 0.08 + 100
    best = []
    for det in (full_res_faces, default_faces):
        d = det.detect(canvas, conf=0.05)
        iou = iou_matrix(truth[None], d.boxes)[0]
        best.append(float(d.scores[iou > 0.3].max(initial=0)))
    assert best[1] > best[0] >= 0.2


def test_multi_size_plate_detector_merges(no_network):
    from fpblur.models.samples import synthetic_car

    det = build_detector(DetectorSpec("plate"))
    assert isinstance(det, LowLightDetector) and det.max_luma == get_profile().plate.dark_luma
    multi = getattr(det.inner, "base", det.inner)  # inside the large-frame tiling wrapper, when there is one
    assert isinstance(multi, MultiDetector) and [m.imgsz for m in multi.members] == list(get_profile().plate.imgsz)
    img, box = synthetic_car()
    dets = det(img)
    assert len(dets) == 1 and iou_matrix(np.array([box]), dets.boxes).max() > 0.7
    assert det.conf == get_profile().plate.conf
    assert [len(d) for d in det.predict([img, np.zeros_like(img)])] == [1, 0]
    single = build_detector(DetectorSpec("plate", profile="fast"))
    assert get_profile("fast").plate.dark_luma is None  # speed first: no extra passes on dark frames
    assert not isinstance(single, (MultiDetector, LowLightDetector))
    single = getattr(single, "base", single)  # inside the large-frame tiling wrapper, when there is one
    assert not isinstance(single, MultiDetector) and (single.imgsz,) == get_profile("fast").plate.imgsz
    assert single.weights.suffix == ".onnx"  # the cached ONNX export runs on CPU


def _parse(*argv):
    from fpblur.cli import build_parser

    return build_parser().parse_args(["image", "in.jpg", "-o", "out", *argv])


def test_cli_profile_options():
    from fpblur.cli.common import config_from_args, profile_name

    args = _parse()
    assert profile_name(args) == "default" and args.face_scales is None and args.imgsz is None
    assert config_from_args(args).redact.pad == get_profile().pad
    assert config_from_args(args).spec("face").profile == "default"
    args = _parse("--fast")
    assert profile_name(args) == "fast" and config_from_args(args).spec("plate").effective_imgsz == (480,)
    assert profile_name(_parse("--profile", "fast")) == "fast"
    with pytest.raises(ValueError, match="--fast contradicts"):
        profile_name(_parse("--fast", "--profile", "default"))
    with pytest.raises(ValueError, match="--fast contradicts"):
        config_from_args(_parse("--fast", "--profile", "default"))
    args = _parse("--pad", "0.1", "--face-scales", "1,640px", "--imgsz", "320")
    assert config_from_args(args).redact.pad == {"face": 0.1, "plate": 0.1}
    spec = config_from_args(args).spec("face")
    assert spec.scales == (1.0, ScalePass(side=640)) and config_from_args(args).spec("plate").effective_imgsz == (320,)
    with pytest.raises(SystemExit):
        _parse("--face-scales", "fast")


@pytest.mark.slow
def test_fast_profile_int8_detector_and_padding(default_faces, zidane, no_network):
    """The fast profile's int8 CenterFace (built and cached on first use, ~30 s) finds what fp32 finds."""
    from fpblur.cli.common import build_anonymizer

    anon = build_anonymizer(_parse("--targets", "face", "--fast"))
    det = anon.detectors["face"]
    assert det.precision == "int8" and [str(p) for p in det.passes] == list(get_profile("fast").face.passes)
    ref = CenterFaceDetector(scales=det.passes, max_side=det.max_side)  # same passes in fp32
    got, want = det(zidane), ref(zidane)
    assert len(got) == len(want) == 2 and (iou_matrix(want.boxes, got.boxes).max(axis=1) > 0.7).all()
    boxes = Detections.from_arrays(np.array([[100, 100, 200, 200]], np.float32), [0.9], "face")
    pad = get_profile("fast").pad["face"]
    assert anon.regions(boxes, zidane.shape).boxes[0].tolist() == pytest.approx(
        [100 - 100 * pad, 100 - 100 * pad, 200 + 100 * pad, 200 + 100 * pad]
    )
    with pytest.raises(ValueError, match="precision"):
        CenterFaceDetector(precision="int4")
