import numpy as np
import pytest

from fpblur.core.boxes import intersection_over_first, iou_matrix, nms
from fpblur.core.detections import Detections


def make(n=3):
    boxes = np.array([[0, 0, 10, 10], [5, 5, 25, 15], [90, 90, 110, 120]], np.float32)[:n]
    return Detections(boxes, np.linspace(0.9, 0.5, n), ["face", "plate", "face"][:n])


def test_shapes_and_validation():
    d = make()
    assert len(d) == 3 and d.boxes.dtype == np.float32 and d.count("face") == 2
    assert len(Detections.empty()) == 0
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 4)), [0.1], ["face", "face"])
    with pytest.raises(ValueError):
        Detections(np.zeros((2, 3)), [0.1, 0.2], ["face", "face"])


def test_filter_concat_index():
    d = make()
    assert d.filter(label="face").labels.tolist() == ["face", "face"]
    assert len(d.filter(min_score=0.7)) == 2
    both = Detections.concat([d, d.with_track_ids([1, 2, 3])])
    assert len(both) == 6 and both.track_ids.tolist() == [-1, -1, -1, 1, 2, 3]
    assert d[1].labels.tolist() == ["plate"]


def test_scale_shift_clip_pad():
    d = make(1)
    assert d.scale(2).boxes.tolist() == [[0, 0, 20, 20]]
    assert d.shift(5, -5).boxes.tolist() == [[5, -5, 15, 5]]
    padded = d.pad(0.5)
    assert padded.boxes.tolist() == [[-5, -5, 15, 15]]
    assert padded.clip(12, 100).boxes.tolist() == [[0, 0, 12, 15]]
    assert len(Detections(np.array([[5, 5, 5, 9]]), [1], ["face"]).drop_degenerate()) == 0


def test_records_round():
    d = make(2).with_track_ids([4, 7])
    rec = d.to_records(d.pad(0.1))
    assert rec[0]["label"] == "face" and rec[0]["track_id"] == 4 and len(rec[0]["region"]) == 4


def test_box_ops():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])
    np.testing.assert_allclose(intersection_over_first(a, b), [[1.0, 0.5, 0.0]])
    keep = nms(b.astype(np.float32), np.array([0.9, 0.8, 0.7]), 0.4)
    assert sorted(keep.tolist()) == [0, 1, 2]
    keep = nms(b.astype(np.float32), np.array([0.9, 0.8, 0.7]), 0.3)
    assert sorted(keep.tolist()) == [0, 2]
    assert iou_matrix(np.zeros((0, 4)), b).shape == (0, 3)


def test_filter_does_not_change_the_callers_mask():
    d = make()
    mask = np.array([True, True, True])
    assert d.filter(mask, label="face").labels.tolist() == ["face", "face"]
    assert mask.tolist() == [True, True, True]
    assert len(d.filter(mask, min_score=0.8)) == 1 and mask.all()
