"""Faces on their side or upside down: rotated passes (fpblur.detect.rotations)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fpblur.cli import main
from fpblur.config.settings import resolve_config
from fpblur.core.detections import Detections
from fpblur.detect.base import CallableDetector
from fpblur.detect.factory import build_detector
from fpblur.detect.rotations import RotatedPasses, unrotate_boxes
from fpblur.models.samples import photo_path

ROT = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_boxes_found_on_a_turned_copy_map_back_onto_the_object(angle):
    image = np.zeros((300, 500, 3), np.uint8)
    image[40:100, 350:380] = 255  # a 30×60 object
    turned = cv2.rotate(image, ROT[angle])
    ys, xs = np.nonzero(turned[..., 0])
    box = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    np.testing.assert_allclose(unrotate_boxes(box, angle, 500, 300), [[350, 40, 380, 100]])


def test_an_unknown_angle_is_refused():
    with pytest.raises(ValueError, match="90, 180, 270"):
        RotatedPasses(
            CallableDetector(lambda im: Detections.empty()), CallableDetector(lambda im: Detections.empty()), (45,)
        )
    with pytest.raises(ValueError, match="90, 180 or 270"):
        resolve_config(detectors={"face": {"rotations": (30,)}})


@pytest.mark.parametrize("value", ["45", "", "0", "90,x"])
def test_cli_refuses_bad_rotations(capsys, tmp_path, value):
    with pytest.raises(SystemExit) as exc:
        main(["detect", str(photo_path("zidane.jpg")), "--json", str(tmp_path / "d.json"), "--face-rotations", value])
    assert exc.value.code == 2
    assert "rotations must be 90, 180 and/or 270" in capsys.readouterr().err


@pytest.fixture(scope="module")
def faces_upright() -> np.ndarray:
    upright = build_detector(resolve_config(targets="face", detectors={"face": {"rotations": ()}}).spec("face"))
    return upright.detect(cv2.imread(str(photo_path("zidane.jpg"))))


@pytest.mark.parametrize("angle", [90, 270])
def test_faces_shown_on_their_side_are_found_with_an_upright_score(angle, faces_upright):
    zidane = cv2.imread(str(photo_path("zidane.jpg")))
    h, w = zidane.shape[:2]
    turned = cv2.rotate(zidane, ROT[angle])
    spec = resolve_config(targets="face", detectors={"face": {"rotations": (90, 180, 270)}}).spec("face")
    plain = build_detector(resolve_config(targets="face", detectors={"face": {"rotations": ()}}).spec("face"))
    rotated = build_detector(spec)
    assert isinstance(rotated, RotatedPasses)
    before, after = plain.detect(turned), rotated.detect(turned)
    # both faces of zidane.jpg; on their side CenterFace alone scores them under 0.6, the turned passes above it
    assert len(faces_upright) == 2
    assert (before.scores < 0.6).all()
    # the turned copy that shows them upright finds them again, at the same place (boxes mapped back)
    back = {0: 90, 90: 270, 270: 90}[angle]  # the turn that brings `turned` upright, as seen by unrotate_boxes
    assert back in spec.rotations
    for face in faces_upright.boxes:
        # where the upright face lies in the turned image
        corners = np.array([[face[0], face[1]], [face[2], face[3]]], np.float64)
        if angle == 90:
            pts = np.stack([h - corners[:, 1], corners[:, 0]], 1)
        else:
            pts = np.stack([corners[:, 1], w - corners[:, 0]], 1)
        target = np.concatenate([pts.min(0), pts.max(0)])
        lt = np.maximum(after.boxes[:, :2], target[:2])
        rb = np.minimum(after.boxes[:, 2:], target[2:])
        inter = np.clip(rb - lt, 0, None).prod(1)
        best = int(np.argmax(inter))
        assert inter[best] / np.prod(target[2:] - target[:2]) > 0.6
        assert after.scores[best] >= 0.6


def test_light_video_frames_run_no_rotated_pass():
    spec = resolve_config(targets="face", detectors={"face": {"rotations": (90, 270)}}).spec("face")
    rotated = build_detector(spec)
    light = resolve_config().video.light
    assert not isinstance(rotated.light(light), RotatedPasses)
