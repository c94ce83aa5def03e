"""Evaluation: datasets (YOLO and labels.json layouts), Ultralytics-metric matching, the CSV log, plots,
``fpblur eval`` end to end on tiny generated data, and the synthetic dataset generator."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from doubles import ScriptedDetector

from fpblur.cli import main
from fpblur.core.detections import Detections
from fpblur.detect.base import as_detector
from fpblur.training.data import synthetic as syn
from fpblur.training.eval import datasets as ds
from fpblur.training.eval import log as evlog
from fpblur.training.eval.evaluation import evaluate_model, infer_target, match_predictions, ultralytics_metrics


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
    for missing in ("nothing.json", "nothing.yaml", "nothing", "plates_kaggle416"):
        with pytest.raises(FileNotFoundError, match=rf"^{tmp_path / missing}: no such file or folder$") as info:
            ds.load_dataset(tmp_path / missing)
        assert "labels.json" not in str(info.value) and "\n" not in str(info.value)
    (tmp_path / "notes.json").write_text("{}")  # it exists but is none of the layouts: then say what is expected
    with pytest.raises(ValueError, match="expected a folder with labels.json"):
        ds.load_dataset(tmp_path / "notes.json")


def test_every_loader_checks_that_its_paths_exist_first(tmp_path, monkeypatch):
    """Each path a dataset or evaluation loader is given: 'no such file or folder' in one line, never an empty
    result or a message about what the path should contain."""
    import cv2

    from fpblur.training.data import frames, qa, voc, wider

    gone = tmp_path / "gone"
    calls = {
        "load_labelled": lambda: ds.load_labelled(gone),
        "load_yolo": lambda: ds.load_yolo(gone),
        "load_yolo yaml": lambda: ds.load_yolo(tmp_path / "gone.yaml"),
        "qa.audit": lambda: qa.audit(gone),
        "voc.convert annotations": lambda: voc.convert(gone, tmp_path, tmp_path / "out", voc.ClassMap({0: "plate"})),
        "wider.parse_annotations": lambda: wider.parse_annotations(tmp_path / "gone.txt"),
        "frames.extract_frames": lambda: frames.extract_frames(tmp_path / "gone.mp4", tmp_path / "fr"),
    }
    for what, call in calls.items():
        with pytest.raises(FileNotFoundError, match=r": no such (file|folder)") as info:
            call()
        assert "\n" not in str(info.value) and "gone" in str(info.value), what
    # a relative path says where it was looked for
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        FileNotFoundError, match=rf"^gone: no such file or folder \(relative to the current folder {tmp_path}\)$"
    ):
        ds.load_dataset("gone")
    # paths inside a data YAML: the dataset path and the split's folder or list
    root = tmp_path / "set"
    (root / "images" / "val").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "val" / "a.png"), np.zeros((20, 20, 3), np.uint8))
    (tmp_path / "p.yaml").write_text(f"path: {tmp_path / 'elsewhere'}\nval: images/val\n")
    with pytest.raises(FileNotFoundError, match=r"p\.yaml: path: .*elsewhere: no such folder"):
        ds.load_dataset(tmp_path / "p.yaml")
    (tmp_path / "v.yaml").write_text(f"path: {root}\nval: images/test\n")
    with pytest.raises(FileNotFoundError, match=r"images/test: no such file or folder"):
        ds.load_dataset(tmp_path / "v.yaml")


def test_images_listed_but_missing_are_named_before_the_model_runs(tmp_path):
    root = _labelled(tmp_path / "set", {"a.jpg": [[1, 2, 3, 4]], "b.jpg": []})
    ran = []
    with pytest.raises(FileNotFoundError, match=r"a\.jpg: no such file \(2 of the 2 images of .*set are missing\)"):
        evaluate_model(lambda img: ran.append(1) or Detections.empty(), root, target="face", timing_images=0)
    assert not ran


def test_cli_eval_on_a_missing_folder_says_no_such_folder(tmp_path, capsys, monkeypatch):
    """`fpblur eval --data ../shared/evaldata/plates_kaggle416` in a fresh clone (the data is not there)."""
    monkeypatch.chdir(tmp_path)
    rc = main(["eval", "--model", "plate-yolov8n", "--data", "../shared/evaldata/plates_kaggle416", "--no-log"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == (
        "fpblur: error: ../shared/evaldata/plates_kaggle416: no such file or folder "
        f"(relative to the current folder {tmp_path})\n"
    )


def test_quality_benchmark_without_data_exits_non_zero(tmp_path, capsys, monkeypatch):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "quality_bench", Path(__file__).parents[1] / "benchmarks" / "quality.py"
    )
    quality = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "quality_bench", quality)  # its dataclasses look their module up there
    spec.loader.exec_module(quality)
    assert quality.main(["--data", str(tmp_path / "evaldata")]) == 2
    captured = capsys.readouterr()
    assert (
        captured.err
        == f"quality: error: {tmp_path / 'evaldata'}: no such folder (the evaluation data; pass --data DIR)\n"
    )
    (tmp_path / "evaldata" / "faces").mkdir(parents=True)  # a data folder without any set in it: nothing measured
    assert quality.main(["--data", str(tmp_path / "evaldata"), "--variants", "default", "--frame-repeats", "0"]) == 2
    err = capsys.readouterr().err
    assert "faces: no labels.json in it; skipped" in err and "plates: no such folder; skipped" in err
    assert err.strip().splitlines()[-1].startswith("quality: error: nothing measured")


# -- Ultralytics metrics -----------------------------------------------------------------------------------
def test_match_predictions_equals_ultralytics_validator(tmp_path):
    """Our numpy port gives exactly what Ultralytics' detection validator gives (its own IoU thresholds and
    ``match_predictions``), on random crowded scenes."""
    import torch
    from ultralytics.models.yolo.detect import DetectionValidator
    from ultralytics.utils.metrics import box_iou

    from fpblur.training.eval.evaluation import IOU_THRESHOLDS

    validator = DetectionValidator(save_dir=tmp_path)
    assert np.allclose(validator.iouv.numpy(), IOU_THRESHOLDS)
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
    run = evaluate_model(
        "centerface", tiny["wider"], out_dir=tmp_path / "eval", log=tmp_path / "log.csv", timing_images=2
    )
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
    from fpblur.training.eval.metrics import BUCKET_NAMES

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
    assert infer_target(ScriptedDetector(label="plate"), bare) == "plate"  # a detector's first label
    with pytest.raises(ValueError, match="--target"):  # a wrapped plain callable says nothing
        infer_target(as_detector(lambda image: Detections.empty()), bare)
    with pytest.raises(ValueError, match="detects plates"):
        evaluate_model("plate-yolov8n", tiny["wider"], log=None, out_dir=None)


def test_cli_eval_appends_rows(tiny, tmp_path, capsys):
    log = tmp_path / "runs" / "eval_log.csv"
    rc = main(
        [
            "eval",
            "--model",
            "centerface",
            "--data",
            str(tiny["wider"]),
            "--data",
            str(tiny["face"].data_yaml),
            "--out",
            str(tmp_path / "ev"),
            "--log",
            str(log),
            "--timing-images",
            "1",
            "--max-images",
            "3",
        ]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "mAP50" in out.out and "centerface" in out.out
    df = evlog.read_log(log)
    assert list(df["dataset"]) == ["wider", "face"] and list(df["n_images"]) == [3, 3]
    assert main(["eval", "--model", "nope.pt", "--data", str(tiny["wider"]), "--log", str(log)]) == 2
    assert "nope.pt" in capsys.readouterr().err


# -- plots -------------------------------------------------------------------------------------------------
def test_plots_write_files(tmp_path, tiny):
    from fpblur.training.eval import plots

    res = tmp_path / "run" / "results.csv"
    res.parent.mkdir()
    res.write_text(
        "epoch,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),"
        "metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss\n"
        "1,3,4,2,0.1,0.2,0.1,0.05,3.5,4.5,2.5\n2,2.5,3,1.8,0.3,0.4,0.3,0.1,3,4,2\n"
    )
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
    plots.prediction_grid(
        imgs, s.gts, [Detections.from_arrays(g, np.ones(len(g)), "face") for g in s.gts], out=tmp_path / "grid.png"
    )
    for name in ("train", "pr", "cov", "cmp", "grid"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000
    with pytest.raises(FileNotFoundError, match="results.csv"):
        plots.read_results(tmp_path / "none.csv")


# -- review fixes: the default profile, multi-class sets, bad input, atomic outputs ----------------------------
@pytest.mark.parametrize(
    "target,models", [("face", ("centerface", "default")), ("plate", ("plate-yolov8n", "default"))]
)
def test_eval_builds_the_profile_default_detector(tiny, monkeypatch, target, models):
    """``fpblur eval`` of a default model runs what ``fpblur image`` runs: DetectorSpec(target) (conf aside)."""
    from dataclasses import replace

    from fpblur.config.profiles import get_profile
    from fpblur.config.settings import resolve_config
    from fpblur.config.spec import DetectorSpec
    from fpblur.training.eval import evaluation as ev

    data = tiny["wider"] if target == "face" else tiny["plate"].data_yaml
    for model in models:
        built = []
        rec = ScriptedDetector(label=target)
        monkeypatch.setattr(ev, "build_detector", lambda spec, built=built, rec=rec: built.append(spec) or rec)
        run = ev.evaluate_model(model, data, target=target, out_dir=None, log=None, timing_images=0)
        (spec,) = built
        assert replace(spec, conf=None) == replace(resolve_config(targets=target).spec(target), conf=None), spec
        assert spec.effective_conf == get_profile().conf(target) == run.row["conf"]
        if target == "plate":  # the profile's plate sizes, logged; YOLO sweep threshold for the ONNX/merged model
            assert run.row["imgsz"] == "+".join(map(str, DetectorSpec("plate").effective_imgsz)) == "640+480"
            assert set(rec.confs) == {ev.SWEEP_CONF_YOLO} and run.row["device"] == "auto"
        else:
            assert run.row["imgsz"] == "" and set(rec.confs) == {ev.SWEEP_CONF_OTHER} and run.row["device"] == ""


def test_onnx_and_merged_plate_detectors_count_as_yolo(tiny):
    """A detector object (not a model name) that runs YOLO weights, here the real default plate detector (the
    model's ONNX export at 640 and 480 px, merged), is evaluated as YOLO: swept from the YOLO threshold, its
    sizes and device logged."""
    from fpblur.config.spec import DetectorSpec
    from fpblur.detect.factory import build_detector
    from fpblur.detect.multipass import MultiDetector
    from fpblur.detect.yolo_onnx import OnnxYoloDetector
    from fpblur.training.eval.evaluation import SWEEP_CONF_OTHER, SWEEP_CONF_YOLO, is_yolo_detector

    built = build_detector(DetectorSpec("plate", device="cpu"))
    # the default plate detector: the 640 + 480 px merge inside the large-frame tiles inside the dark-frame pass
    merged = built.inner.base
    assert isinstance(merged, MultiDetector) and [type(m) for m in merged.members] == [OnnxYoloDetector] * 2
    assert is_yolo_detector(built) and is_yolo_detector(merged) and is_yolo_detector(merged.members[0])
    assert not is_yolo_detector(ScriptedDetector()) and not is_yolo_detector(build_detector(DetectorSpec("face")))
    run = evaluate_model(merged, tiny["plate"].data_yaml, out_dir=None, log=None, timing_images=0)
    assert run.row["imgsz"] == "640+480" and run.row["device"] == "auto" and run.row["model"] == "MultiDetector"
    # swept at the YOLO threshold: the model's boxes below the generic sweep threshold are kept
    scores = np.concatenate([d.scores for d in run.detections])
    assert SWEEP_CONF_YOLO <= scores.min() < SWEEP_CONF_OTHER, np.sort(scores)
    # and the plates were found where they are: at the operating conf every box is on a plate (IoU > 0.5) and
    # all but at most one of the 15 plates has a box
    from fpblur.core.boxes import iou_matrix

    hits = []
    for i, gt in enumerate(run.dataset.gts):
        found = run.at_conf(i).boxes
        assert len(found) and (iou_matrix(found, gt).max(axis=1) > 0.5).all(), (i, gt, found)
        hits.extend(iou_matrix(gt, found).max(axis=1) > 0.5)
    assert len(hits) == run.row["n_boxes"] == 15 and sum(hits) >= 14
    assert run.row["precision"] == 1.0 and run.row["recall"] == sum(hits) / 15


def test_plain_callables_keep_their_threshold_and_detector_bugs_propagate(tiny):
    """A plain ``callable(image) -> Detections`` is evaluated through the detector contract (called once per
    image, with the image only: it keeps its own threshold), and an error inside a detector is not swallowed."""
    data = ds.load_yolo(tiny["plate"].data_yaml)
    calls = []

    def finder(image):  # finds exactly the ground truth of each image, in order
        gt = data.gts[len(calls)]
        calls.append(image.shape)
        return Detections.from_arrays(gt, np.full(len(gt), 0.9), "plate")

    run = evaluate_model(finder, tiny["plate"].data_yaml, target="plate", out_dir=None, log=None, timing_images=0)
    assert len(calls) == len(data) == run.row["n_images"] and all(shape[2] == 3 for shape in calls)
    assert run.row["recall"] == 1.0 and run.row["precision"] == 1.0 and run.row["imgsz"] == ""

    class Broken(ScriptedDetector):
        def _predict(self, images, conf):
            raise TypeError("a bug inside the detector")

    with pytest.raises(TypeError, match="a bug inside the detector"):  # not swallowed and retried another way
        evaluate_model(Broken(label="plate"), tiny["plate"].data_yaml, out_dir=None, log=None, timing_images=0)


def test_label_from_class_name_is_the_detectors_rule():
    from fpblur.core.labels import class_label_map, label_from_class_name
    from fpblur.training.eval.evaluation import target_class_ids, target_of_names

    assert [label_from_class_name(n) for n in ("Face", "license_plate", "LICENCE", "numberplate", "person", "")] == [
        "face",
        "plate",
        "plate",
        "plate",
        None,
        None,
    ]
    names = {0: "face", 1: "License", 2: "person"}
    assert class_label_map(names, None, None) == {k: label_from_class_name(v) for k, v in names.items() if k < 2}
    assert target_of_names(["person", "licence"]) == "plate" and target_of_names(["plate", "faces"]) == "face"
    assert target_class_ids(("face", "plate"), "face") == {0} and target_class_ids(("face", "plate"), "plate") == {1}
    assert target_class_ids(("face",), "face") is None and target_class_ids((), "plate") is None
    assert target_class_ids(("car", "plate"), "face") == {0}  # nothing named face: the unnamed classes


@pytest.mark.parametrize("target,cls", [("face", 0), ("plate", 1)])
def test_multiclass_yolo_set_scores_only_the_target_classes(tmp_path_factory, target, cls):
    root = tmp_path_factory.mktemp("both")
    data = syn.make_yolo_dataset(root / "both", "both", n_train=1, n_val=6, size=(240, 200), seed=1)
    every = ds.load_yolo(data.data_yaml)
    assert {0, 1} <= set(np.concatenate(every.classes).tolist())  # both classes really are in the val split
    mine = ds.load_yolo(data.data_yaml, classes={cls})
    assert 0 < mine.n_boxes < every.n_boxes
    # a perfect detector of the target: every box of the target's class, nothing else
    run = evaluate_model(
        ScriptedDetector(mine.gts, target), data.data_yaml, target=target, out_dir=None, log=None, timing_images=0
    )
    assert run.row["n_boxes"] == mine.n_boxes and run.row["recall"] == 1.0 and run.row["coverage"] == 1.0
    assert run.row["mAP50"] == pytest.approx(0.995)
    assert all(np.array_equal(a, b) for a, b in zip(run.dataset.gts, mine.gts))


def test_weights_with_both_targets_keep_the_other_label(tmp_path, monkeypatch):
    from fpblur.core.labels import class_label_map
    from fpblur.training.eval import evaluation as ev

    w = tmp_path / "both.pt"
    w.write_bytes(b"")
    monkeypatch.setattr(ev, "model_class_names", lambda path: {0: "face", 1: "licence_plate"})
    spec = ev.model_spec(w, "face")
    assert spec.class_map == {1: "plate"} and spec.imgsz is None and spec.scales is None
    assert class_label_map({0: "face", 1: "licence_plate"}, "face", spec.class_map) == {0: "face", 1: "plate"}
    monkeypatch.setattr(ev, "model_class_names", lambda path: {0: "face"})
    assert ev.model_spec(w, "face").class_map is None


def _labelled(root: Path, labels, flags=None) -> Path:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels.json").write_text(labels if isinstance(labels, str) else json.dumps(labels))
    if flags is not None:
        (root / "flags.json").write_text(flags if isinstance(flags, str) else json.dumps(flags))
    return root


def test_bad_labels_json_is_a_one_line_error_naming_the_file(tmp_path, capsys):
    ok = {"a.jpg": [[1, 2, 3, 4]], "empty.jpg": []}
    flag = {"invalid": 0, "easy": 1, "medium": 1, "hard": 1}
    # an image without boxes needs no flags entry (it used to raise a bare KeyError)
    s = ds.load_labelled(_labelled(tmp_path / "ok", ok, {"a.jpg": [flag]}))
    assert s.flags == [[flag], []] and [len(g) for g in s.gts] == [1, 0]
    cases = {
        "syntax": ('{"a.jpg": [[1, 2, 3, 4]],', None, r"labels\.json: not valid JSON .*line 1"),
        "list": ("[[1, 2, 3, 4]]", None, r"labels\.json: expected a mapping"),
        "shape": ({"a.jpg": [[1, 2, 3]]}, None, r"labels\.json: a\.jpg: expected a list of \[x1, y1, x2, y2\]"),
        "ragged": ({"a.jpg": [[1, 2, 3, 4], [1]]}, None, r"labels\.json: a\.jpg"),
        "text": ({"a.jpg": [["x", 2, 3, 4]]}, None, r"labels\.json: a\.jpg"),
        "flat": ({"a.jpg": [1, 2, 3, 4]}, None, r"labels\.json: a\.jpg"),
        "flags_syntax": (ok, "{", r"flags\.json: not valid JSON"),
        "flags_list": (ok, "[]", r"flags\.json: expected a mapping"),
        "flags_missing": (ok, {}, r"flags\.json: a\.jpg has 0 flags for 1 boxes"),
        "flags_type": (ok, {"a.jpg": ["easy"]}, r"flags\.json: a\.jpg: expected a list of per-box flag dicts"),
    }
    for name, (labels, flags, match) in cases.items():
        root = _labelled(tmp_path / name, labels, flags)
        with pytest.raises(ValueError, match=match) as info:
            ds.load_labelled(root)
        assert str(root) in str(info.value) and "\n" not in str(info.value), name
    assert (
        main(
            [
                "eval",
                "--model",
                "centerface",
                "--data",
                str(tmp_path / "shape"),
                "--no-log",
                "--out",
                str(tmp_path / "ev"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "labels.json: a.jpg" in err and not (tmp_path / "ev").exists()


def test_bad_yolo_yaml_is_a_one_line_error_naming_the_file(tmp_path):
    import cv2

    root = tmp_path / "set"
    (root / "images" / "val").mkdir(parents=True)
    cv2.imwrite(str(root / "images" / "val" / "a.png"), np.zeros((20, 20, 3), np.uint8))
    cases = {
        "syntax.yaml": ("path: .\nval: [images/val\n", r"syntax\.yaml: not valid YAML \(.*line \d+, column \d+\)"),
        "list.yaml": ("- images/val\n", r"list\.yaml: expected a mapping of dataset keys"),
        "names.yaml": (f"path: {root}\nval: images/val\nnames: 3\n", r"names\.yaml: names: expected a list"),
        "split.yaml": (f"path: {root}\nval: 3\n", r"split\.yaml: val: expected an image folder"),
    }
    for name, (text, match) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ValueError, match=match) as info:
            ds.load_dataset(tmp_path / name)
        assert "\n" not in str(info.value)
    (root / "data.yaml").write_text("names: [face\n")
    with pytest.raises(ValueError, match=r"data\.yaml: not valid YAML"):
        ds.load_yolo(root)
    (root / "data.yaml").write_text("names: {0: face}\n")
    assert ds.load_yolo(root).names == ("face",)


def test_read_mapping_is_shared_with_the_training_recipes(tmp_path):
    from fpblur.training import train as tr

    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: [1\n")
    with pytest.raises(tr.ConfigError, match=r"bad\.yaml: not valid YAML") as a:
        tr.load_config(bad)
    with pytest.raises(ValueError) as b:
        ds.read_mapping(bad, "train options")
    assert str(a.value) == str(b.value)
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(tr.ConfigError, match=r"list\.yaml: expected a mapping of train options, got list"):
        ds.read_mapping(tmp_path / "list.yaml", "train options", tr.ConfigError)
    (tmp_path / "empty.yaml").write_text("")
    assert ds.read_mapping(tmp_path / "empty.yaml", "x") == {}


def test_ignore_masks_are_the_wider_rule(monkeypatch, tiny):
    from fpblur.training.eval import wider

    s = ds.load_labelled(tiny["wider"])
    s = ds.LabelledSet(s.root, s.images[:1], s.gts[:1], [[{"invalid": "1"}, {"invalid": 0}, {}]])
    assert s.ignore_masks()[0].tolist() == wider.wider_ignore(s.flags[0]).tolist() == [True, False, False]
    calls = []
    monkeypatch.setattr(ds, "wider_ignore", lambda fl, subset=None: calls.append(fl) or wider.wider_ignore(fl))
    s.ignore_masks()
    assert calls == s.flags


def test_run_folder_is_saved_before_the_log_row(tiny, tmp_path, monkeypatch):
    from fpblur.training.eval import evaluation as ev

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ev, "save_run", broken)
    log = tmp_path / "log.csv"
    with pytest.raises(OSError, match="disk full"):
        ev.evaluate_model(
            ScriptedDetector(),
            tiny["wider"],
            out_dir=tmp_path / "ev",
            log=log,
            timing_images=0,
            max_images=2,
            plots=False,
        )
    assert not log.exists()  # no row pointing at a run that has no files


def test_eval_outputs_are_written_atomically(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from fpblur.training.eval import plots

    path = tmp_path / "log.csv"
    evlog.append_row({"time": "t1", "model": "a"}, path)
    before = path.read_text()
    real_writer = csv.writer

    class Failing:
        def __init__(self, fh):
            self.w, self.n = real_writer(fh), 0

        def writerow(self, row):
            self.n += 1
            if self.n == 2:
                raise OSError("disk full")
            self.w.writerow(row)

    monkeypatch.setattr(evlog.csv, "writer", Failing)
    with pytest.raises(OSError):
        evlog.append_row({"time": "t2", "model": "b", "new_column": 1}, path)  # a header change: full rewrite
    assert path.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["log.csv"]

    class Fig:
        def savefig(self, out, **kwargs):
            Path(out).write_bytes(b"half a png")
            raise OSError("disk full")

    with pytest.raises(OSError):
        plots._save(Fig(), tmp_path / "plots" / "pr.png")
    assert list((tmp_path / "plots").iterdir()) == []


def test_eval_help_reads_the_profile(capsys):
    from fpblur.config.profiles import get_profile

    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    prof = get_profile()
    assert f"{prof.conf('face'):g} faces, {prof.conf('plate'):g} plates" in out and "0.25 plates" not in out
    assert "640+480" in out
