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
    """Boxes and regions are rounded to 2 decimals and scores to 4, as plain JSON numbers (short log lines)."""
    import json
    import re

    boxes = np.array([[911.0371, 102.3449, 1052.9251, 277.4158], [0.0049, 9.9961, 100.123456, 50.5678]])
    d = Detections(boxes, [0.87654321, 0.123456789], ["face", "plate"]).with_track_ids([4, 7])
    regions = Detections(
        np.array([[885.5549, 70.6651, 1078.4049, 309.0151], [-1.23456, 0.006, 99.9949, 60.111]]),
        [1, 1],
        ["face", "plate"],
    )
    rec = d.to_records(regions)
    assert rec == [
        {
            "box": [911.04, 102.34, 1052.93, 277.42],
            "score": 0.8765,
            "label": "face",
            "track_id": 4,
            "region": [885.55, 70.67, 1078.4, 309.02],
        },
        {
            "box": [0.0, 10.0, 100.12, 50.57],
            "score": 0.1235,
            "label": "plate",
            "track_id": 7,
            "region": [-1.23, 0.01, 99.99, 60.11],
        },
    ]
    for r in rec:  # JSON-ready Python types, not numpy scalars, and no float32 digits left in the text
        assert all(type(v) is float for v in r["box"] + r["region"]) and type(r["score"]) is float
        assert type(r["track_id"]) is int and type(r["label"]) is str
    text = json.dumps(rec)
    assert '"box": [911.04, 102.34, 1052.93, 277.42], "score": 0.8765' in text and "0.0049" not in text
    assert max(len(decimals) for decimals in re.findall(r"\d\.(\d+)", text)) == 4
    # without regions or track ids there are no such keys
    plain = Detections(boxes[:1], [0.5], ["face"]).to_records()
    assert plain == [{"box": [911.04, 102.34, 1052.93, 277.42], "score": 0.5, "label": "face"}]


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
