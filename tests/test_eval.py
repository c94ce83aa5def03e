"""Evaluation: datasets (YOLO and labels.json layouts), Ultralytics-metric matching, the CSV log, plots,
``fpblur eval`` end to end on tiny generated data, and the synthetic dataset generator."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from fpblur.cli import main
from fpblur.data import synthetic as syn
from fpblur.detections import Detections
from fpblur.eval import datasets as ds
from fpblur.eval import log as evlog
from fpblur.eval.evaluation import evaluate_model, infer_target, match_predictions, ultralytics_metrics


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaldata")
    return {
        "wider": syn.make_wider_dataset(root / "wider", "face", n=6, size=(320, 256)),
        "face": syn.make_yolo_dataset(root / "face", "face", n_train=2, n_val=6, size=(320, 256)),
        "plate": syn.make_yolo_dataset(root / "plate", "plate", n_train=2, n_val=6, size=(320, 256)),
    }


# -- synthetic data ----------------------------------------------------------------------------------------
def test_synthetic_yolo_dataset_is_deterministic_and_consistent(tmp_path):
    a = syn.make_yolo_dataset(tmp_path / "a", "both", n_train=3, n_val=2, size=(200, 160), seed=3)
    syn.make_yolo_dataset(tmp_path / "b", "both", n_train=3, n_val=2, size=(200, 160), seed=3)
    assert a.names == ("face", "plate") and a.counts == {"train": 3, "val": 2}
    for split in ("train", "val"):
        for lab in sorted((tmp_path / "a" / "labels" / split).glob("*.txt")):
            assert lab.read_text() == (tmp_path / "b" / "labels" / split / lab.name).read_text()
    loaded = ds.load_yolo(a.data_yaml, "train")
    assert loaded.names == ("face", "plate") and len(loaded) == 3 and loaded.n_boxes >= 3
    for gt in loaded.gts:  # every box inside the 200×160 image
        assert (gt[:, 0] >= 0).all() and (gt[:, 2] <= 200.5).all() and (gt[:, 3] <= 160.5).all()


def test_synthetic_plates_are_readable_plates():
    rng = np.random.default_rng(0)
    plate = syn.draw_plate(rng, 120)
    assert plate.shape[1] == 120 and 3.4 < 120 / plate.shape[0] < 4.8
    assert (plate < 60).mean() > 0.05 and (plate > 200).mean() > 0.4  # black text on white


def test_wider_layout_matches_the_evaldata_format(tiny):
    root = tiny["wider"]
    labels = json.loads((root / "labels.json").read_text())
    flags = json.loads((root / "flags.json").read_text())
    assert set(labels) == set(flags) and all(len(labels[k]) == len(flags[k]) for k in labels)
    box = next(b for v in labels.values() for b in v)
    assert all(isinstance(v, int) for v in box)
    s = ds.load_dataset(root)
    assert s.format == "labels.json" and s.has_wider_flags and s.name == "wider"


# -- datasets ----------------------------------------------------------------------------------------------
def test_load_yolo_from_folder_yaml_and_lists(tmp_path):
    import cv2

    root = tmp_path / "set"
    (root / "images" / "val").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "val" / "a.jpg"), np.zeros((100, 200, 3), np.uint8))
    cv2.imwrite(str(root / "images" / "val" / "b.png"), np.zeros((50, 50, 3), np.uint8))
    (root / "labels" / "val" / "a.txt").write_text("0 0.5 0.5 0.5 0.2\n1 0.1 0.1 0.1 0.1\n")
    # b.png has no label file: an image without boxes
    by_folder = ds.load_yolo(root, "val")
    assert [p.name for p in by_folder.images] == ["a.jpg", "b.png"]
    assert np.allclose(by_folder.gts[0], [[50, 40, 150, 60], [10, 5, 30, 15]]) and by_folder.gts[1].shape == (0, 4)
    assert np.allclose(ds.load_yolo(root, "val", classes={0}).gts[0], [[50, 40, 150, 60]])

    (root / "val.txt").write_text("images/val/a.jpg\n")
    (tmp_path / "d.yaml").write_text(f"path: {root}\ntrain: images/val\nval: val.txt\nnames: {{0: face}}\n")
    by_yaml = ds.load_dataset(tmp_path / "d.yaml")
    assert by_yaml.format == "yolo" and by_yaml.names == ("face",) and len(by_yaml) == 1 and by_yaml.name == "d"
    assert len(ds.load_dataset(tmp_path / "d.yaml", split="train")) == 2
    with pytest.raises(ValueError, match="no 'test' split"):
        ds.load_yolo(tmp_path / "d.yaml", "test")


def test_bad_yolo_labels(tmp_path):
    lab = tmp_path / "x.txt"
    lab.write_text("0 0.2 0.3 0.2 0.2\n\n")
    assert np.allclose(ds.read_yolo_labels(lab, 100, 100), [[10, 20, 30, 40]])
    lab.write_text("0 0.1 0.2\n")
    with pytest.raises(ValueError, match=r"x\.txt:1"):
        ds.read_yolo_labels(lab, 100, 100)
    assert ds.label_path(Path("/d/images/val/images/a.jpg")) == Path("/d/images/val/labels/a.txt")


def test_missing_dataset_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="expected a folder"):
        ds.load_dataset(tmp_path / "nothing.json")
    with pytest.raises(FileNotFoundError, match="data YAML not found"):
        ds.load_dataset(tmp_path / "nothing.yaml")


# -- Ultralytics metrics -----------------------------------------------------------------------------------
def test_match_predictions_equals_ultralytics_validator():
    """Our numpy port gives exactly what BaseValidator.match_predictions gives, on random crowded scenes."""
    import torch
    from ultralytics.engine.validator import BaseValidator
    from ultralytics.utils.metrics import box_iou

    from fpblur.eval.evaluation import IOU_THRESHOLDS

    validator = BaseValidator.__new__(BaseValidator)
    validator.iouv = torch.tensor(IOU_THRESHOLDS, dtype=torch.float32)
    rng = np.random.default_rng(1)
    for _ in range(30):
        def boxes(n):
            xy = rng.uniform(0, 80, (n, 2))
            return np.concatenate([xy, xy + rng.uniform(5, 30, (n, 2))], 1)
        gt, pred = boxes(int(rng.integers(0, 6))), boxes(int(rng.integers(0, 12)))
        pred = np.concatenate([pred, gt[:2] + rng.normal(0, 2, gt[:2].shape)])  # some near hits
        scores = rng.uniform(0, 1, len(pred))
        ours = match_predictions(gt, pred, scores)
        order = np.argsort(-scores, kind="stable")
        iou = box_iou(torch.tensor(gt, dtype=torch.float32), torch.tensor(pred[order], dtype=torch.float32))
        theirs = validator.match_predictions(torch.zeros(len(pred)), torch.zeros(len(gt)), iou).numpy()
        assert np.array_equal(ours[order], theirs)


def test_ultralytics_metrics_perfect_and_empty(tmp_path):
    gts = [np.array([[10, 10, 50, 50], [60, 60, 90, 95]], float), np.zeros((0, 4))]
    perfect = [Detections.from_arrays(gts[0], [0.9, 0.8], "face"), Detections.empty()]
    m = ultralytics_metrics(perfect, gts, "face", save_dir=tmp_path)
    assert m["P"] == pytest.approx(1, abs=1e-3) and m["R"] == pytest.approx(1, abs=1e-3)
    assert m["mAP50"] == pytest.approx(0.995) and m["mAP50-95"] == pytest.approx(0.995)
    assert (tmp_path / "BoxPR_curve.png").is_file()
    none = ultralytics_metrics([Detections.empty(), Detections.empty()], gts, "face")
    assert none["mAP50"] == 0 and none["R"] == 0
    # invalid (ignored) boxes are left out: one found face of one counted → perfect again
    half = [Detections.from_arrays(gts[0][:1], [0.9], "face"), Detections.empty()]
    ign = [np.array([False, True]), np.zeros(0, bool)]
    assert ultralytics_metrics(half, gts, "face", ignore=ign)["mAP50"] == pytest.approx(0.995)


# -- the CSV log -------------------------------------------------------------------------------------------
def test_log_header_once_in_stable_order(tmp_path):
    path = tmp_path / "runs" / "eval_log.csv"
    evlog.append_row({"model": "a", "mAP50": 0.5, "time": "t1", "coverage_<16": float("nan")}, path)
    evlog.append_row({"time": "t2", "model": "b", "mAP50": 0.25, "ms_per_img": 12.5}, path)
    lines = path.read_text().splitlines()
    assert lines[0].split(",") == list(evlog.COLUMNS) and len(lines) == 3
    assert sum(1 for ln in lines if ln.startswith("time,")) == 1
    rows = list(csv.DictReader(path.open()))
    assert rows[0]["model"] == "a" and rows[0]["coverage_<16"] == "" and rows[1]["ms_per_img"] == "12.5"
    df = evlog.read_log(path)
    assert list(df["model"]) == ["a", "b"] and list(df.columns) == list(evlog.COLUMNS)


def test_log_gains_new_columns_safely(tmp_path):
    path = tmp_path / "log.csv"
    evlog.append_row({"time": "t1", "model": "a", "mAP50": 0.5}, path)
    evlog.append_row({"time": "t2", "model": "b", "extra_metric": 3}, path)
    evlog.append_row({"time": "t3", "model": "c"}, path)
    header = path.read_text().splitlines()[0].split(",")
    assert header == [*evlog.COLUMNS, "extra_metric"]
    rows = list(csv.DictReader(path.open()))
    assert [r["model"] for r in rows] == ["a", "b", "c"]
    assert [r["extra_metric"] for r in rows] == ["", "3", ""] and rows[0]["mAP50"] == "0.5"
    assert not list(tmp_path.glob(".*part"))


def test_log_keeps_an_older_column_order(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("model,time\nold,t0\n")
    evlog.append_row({"time": "t1", "model": "new"}, path)
    rows = list(csv.reader(path.open()))
    assert rows[0][:2] == ["model", "time"] and rows[1][:2] == ["old", "t0"] and rows[2][:2] == ["new", "t1"]
    assert evlog.read_log(tmp_path / "absent.csv").empty


# -- end to end --------------------------------------------------------------------------------------------
def test_evaluate_centerface_on_wider_format(no_network, tiny, tmp_path):
    run = evaluate_model("centerface", tiny["wider"], out_dir=tmp_path / "eval", log=tmp_path / "log.csv",
                         timing_images=2)
    row = run.row
    assert row["target"] == "face" and row["model"] == "centerface" and row["n_images"] == 6
    for key in ("P", "R", "mAP50", "mAP50-95", "AP50", "recall", "coverage", "wider_easy", "wider_hard"):
        assert 0.5 <= row[key] <= 1.0, (key, row[key])  # the pasted faces are real faces
    assert row["fp_per_img"] < 1 and row["ms_per_img"] > 0
    assert set(run.wider) == {"all", "easy", "medium", "hard"}
    assert (run.out_dir / "PR_curve.png").is_file() and (run.out_dir / "BoxPR_curve.png").is_file()
    info = json.loads((run.out_dir / "metrics.json").read_text())
    assert set(info["coverage_by_bucket"]) == set(syn_buckets())
    assert len(evlog.read_log(tmp_path / "log.csv")) == 1
    assert len(run.at_conf(0)) <= len(run.detections[0])


def syn_buckets():
    from fpblur.eval.metrics import BUCKET_NAMES

    return BUCKET_NAMES


def test_evaluate_plate_model_on_yolo_format(no_network, tiny, tmp_path):
    run = evaluate_model("plate-yolov8n", tiny["plate"].data_yaml, out_dir=None, log=None, timing_images=0)
    assert run.row["target"] == "plate" and run.row["dataset"] == "plate" and run.row["split"] == "val"
    assert run.row["recall"] > 0.5 and run.row["mAP50"] > 0.5
    assert run.row["wider_hard"] is None and run.out_dir is None and run.log_path is None


def test_target_inference(tiny):
    face = ds.load_dataset(tiny["face"].data_yaml)
    plain = ds.load_labelled(tiny["wider"])
    assert infer_target("plate-yolov8n", face) == "face"  # the data says faces
    assert infer_target("plate-yolov8n", plain) == "face"  # WIDER flags mean faces
    bare = ds.LabelledSet(plain.root, plain.images, plain.gts)
    assert infer_target("plate-yolov8n", bare) == "plate"
    with pytest.raises(ValueError, match="--target"):
        infer_target(object(), bare)
    with pytest.raises(ValueError, match="detects plates"):
        evaluate_model("plate-yolov8n", tiny["wider"], log=None, out_dir=None)


def test_cli_eval_appends_rows(tiny, tmp_path, capsys):
    log = tmp_path / "runs" / "eval_log.csv"
    rc = main(["eval", "--model", "centerface", "--data", str(tiny["wider"]), "--data", str(tiny["face"].data_yaml),
               "--out", str(tmp_path / "ev"), "--log", str(log), "--timing-images", "1", "--max-images", "3"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "mAP50" in out.out and "centerface" in out.out
    df = evlog.read_log(log)
    assert list(df["dataset"]) == ["wider", "face"] and list(df["n_images"]) == [3, 3]
    assert main(["eval", "--model", "nope.pt", "--data", str(tiny["wider"]), "--log", str(log)]) == 2
    assert "nope.pt" in capsys.readouterr().err


# -- plots -------------------------------------------------------------------------------------------------
def test_plots_write_files(tmp_path, tiny):
    from fpblur.eval import plots

    res = tmp_path / "run" / "results.csv"
    res.parent.mkdir()
    res.write_text("epoch,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
                   "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss\n"
                   "1,3,4,2,0.1,0.2,0.1,0.05,3.5,4.5,2.5\n2,2.5,3,1.8,0.3,0.4,0.3,0.1,3,4,2\n")
    plots.plot_training(res, out=tmp_path / "train.png")
    plots.plot_pr_curves({"a": (np.array([0.1, 0.5]), np.array([1.0, 0.8]))}, out=tmp_path / "pr.png")
    plots.plot_coverage_by_size({"a": {"<16": 0.5, ">=128": 1.0}}, out=tmp_path / "cov.png")
    df = evlog.read_log(tmp_path / "absent.csv")
    df.loc[0, ["model", "dataset", "mAP50", "coverage"]] = ["m", "d", 0.5, 0.9]
    plots.plot_metric_comparison(df, out=tmp_path / "cmp.png")
    df.loc[0, "coverage_<16"] = 0.3
    assert plots.coverage_from_log(df)["m @ d"]["<16"] == 0.3
    s = ds.load_labelled(tiny["wider"]).head(2)
    import cv2

    imgs = [cv2.imread(str(p)) for p in s.images]
    plots.prediction_grid(imgs, s.gts, [Detections.from_arrays(g, np.ones(len(g)), "face") for g in s.gts],
                          out=tmp_path / "grid.png")
    for name in ("train", "pr", "cov", "cmp", "grid"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    with pytest.raises(FileNotFoundError, match="results.csv"):
        plots.read_results(tmp_path / "none.csv")
