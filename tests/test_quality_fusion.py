"""Mirror-view fusion of CenterFace's crowd pass (``crowd_flip``) and :func:`fuse_views`, without evaluation data."""

import numpy as np
import pytest

from fpblur.config.profiles import LightPasses, get_profile
from fpblur.detect.centerface import CenterFaceDetector
from fpblur.detect.multipass import fuse_views


def test_fuse_views_keeps_agreement_and_halves_a_lone_view():
    a = (np.array([[10, 10, 20, 20], [50, 50, 60, 60]], np.float32), np.array([0.6, 0.5], np.float32))
    b = (np.array([[11, 10, 21, 20]], np.float32), np.array([0.4], np.float32))
    boxes, scores = fuse_views([a, b], seed_conf=0.2)
    order = np.argsort(boxes[:, 0])
    boxes, scores = boxes[order], scores[order]
    assert scores.tolist() == pytest.approx([0.5, 0.25])  # (0.6 + 0.4) / 2; 0.5 seen by one view of two
    assert 10 < boxes[0, 0] < 11  # the fused box lies between the views' boxes
    assert fuse_views([a], seed_conf=0.2) is a
    empty = fuse_views([a, b], seed_conf=0.9)
    assert empty[0].shape == (0, 4) and empty[1].shape == (0,)


def _small_faces(n, width):
    x = np.arange(n, dtype=np.float32) * 30 + 5
    boxes = np.stack([x, np.full(n, 10.0), x + 12, np.full(n, 24.0)], axis=1).astype(np.float32)
    return boxes, np.full(n, 0.5, np.float32)


@pytest.mark.parametrize("crowd", [3, 12])
def test_crowd_flip_runs_the_mirror_view_only_for_crowds(monkeypatch, crowd):
    det = CenterFaceDetector(scales=("2", "640px"), crowd_flip=(10, 24.0, 0.3))
    image = np.zeros((200, 400, 3), np.uint8)
    image[:, :200] = 255  # left half bright: the mirror view is another image
    calls = []

    def fake_pass(rgb, factor, conf):
        calls.append((factor, int(rgb[0, 0, 0])))
        if factor < 2:
            return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
        boxes, scores = _small_faces(crowd, rgb.shape[1])
        if rgb[0, 0, 0] == 0:  # the mirror view: same faces, mirrored back by the detector
            boxes = np.stack([400 - boxes[:, 2], boxes[:, 1], 400 - boxes[:, 0], boxes[:, 3]], axis=1)
        return boxes, scores

    monkeypatch.setattr(det, "_pass", fake_pass)
    found = det.detect(image)
    flips = [c for c in calls if c == (2.0, 0)]
    assert len(flips) == (1 if crowd >= 10 else 0)
    assert len(found) == crowd
    assert found.scores == pytest.approx(np.full(crowd, 0.5))  # both views agree: the score is kept
    light = det.light(LightPasses())
    assert light.crowd_flip is None and det.crowd_flip is not None  # light video passes never flip


def test_default_profile_flips_crowds_only():
    assert get_profile().face.crowd_flip is not None
    assert get_profile("fast").face.crowd_flip is None  # speed first: unchanged
