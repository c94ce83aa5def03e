"""Training recipes, config merging, offline behaviour and a CPU smoke training run (fpblur.training.train)."""

from __future__ import annotations

import csv
import logging
import pickle
from pathlib import Path

import pytest
import yaml

from fpblur.cli import main
from fpblur.training import train as tr

REPO = Path(__file__).resolve().parents[1]
FACE = REPO / "configs" / "face_train.yaml"
PLATE = REPO / "configs" / "plate_train.yaml"

COMMON = {
    "optimizer": "AdamW",
    "lrf": 0.1,
    "weight_decay": 0.0005,
    "cos_lr": True,
    "amp": True,
    "cache": True,
    "hsv_h": 0.015,
    "hsv_v": 0.4,
    "scale": 0.5,
    "fliplr": 0.5,
}


@pytest.fixture(scope="module")
def face_data(tmp_path_factory):
    from fpblur.training.data.synthetic import make_yolo_dataset

    return make_yolo_dataset(tmp_path_factory.mktemp("syn") / "face", "face", n_train=16, n_val=8, size=(160, 160))


# -- recipes ------------------------------------------------------------------------------------------------
def test_face_recipe_is_the_seed_recipe():
    cfg = tr.load_config(FACE)
    expected = {
        "model": "yolov8m.pt",
        "imgsz": 960,
        "epochs": 70,
        "batch": 32,
        "lr0": 0.0025,
        "hsv_s": 0.6,
        "degrees": 3.0,
        "translate": 0.06,
        "data": "configs/face_data.yaml",
        **COMMON,
    }
    assert {k: cfg[k] for k in expected} == expected
    assert cfg["seed"] == 0 and cfg["deterministic"] is True and cfg["project"] and cfg["name"]


def test_plate_recipe_is_the_seed_recipe():
    cfg = tr.load_config(PLATE)
    expected = {
        "model": "yolov8l.pt",
        "imgsz": 1024,
        "epochs": 100,
        "batch": 24,
        "lr0": 0.003,
        "hsv_s": 0.7,
        "degrees": 5.0,
        "translate": 0.1,
        "data": "configs/plate_data.yaml",
        **COMMON,
    }
    assert {k: cfg[k] for k in expected} == expected
    assert cfg["name"] != tr.load_config(FACE)["name"]


def test_recipes_point_at_the_data_yamls():
    for cfg_path in (FACE, PLATE):
        data = REPO / tr.load_config(cfg_path)["data"]
        assert data.is_file(), data
        assert yaml.safe_load(data.read_text())["names"]


# -- merging -----------------------------------------------------------------------------------------------
def test_overrides_are_typed_like_the_yolo_cli():
    out = tr.parse_overrides(
        [
            "epochs=3",
            "lr0=1e-3",
            "cos_lr=false",
            "device=0,1",
            "name=my run",
            "freeze=[0, 1]",
            "pretrained=None",
            "cache=disk",
            "--imgsz=320",
        ]
    )
    assert out == {
        "epochs": 3,
        "lr0": 0.001,
        "cos_lr": False,
        "device": "0,1",
        "name": "my run",
        "freeze": [0, 1],
        "pretrained": None,
        "cache": "disk",
        "imgsz": 320,
    }


def test_merge_order_recipe_then_overrides_then_device():
    base = tr.load_config(FACE)
    cfg = tr.merge_config(base, {"epochs": 2, "device": "cpu"}, device="0,1")
    assert cfg["epochs"] == 2 and cfg["device"] == "0,1" and cfg["imgsz"] == 960
    assert base["epochs"] == 70  # the recipe itself is untouched
    assert tr.merge_config(base, {"device": "cpu"})["device"] == "cpu"


def test_unknown_keys_are_rejected_with_suggestions(tmp_path):
    with pytest.raises(tr.ConfigError, match=r"'lr'.*lr0"):
        tr.parse_overrides(["lr=0.1"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 1\nfliplrr: 0.5\n")
    with pytest.raises(tr.ConfigError, match=r"bad\.yaml.*'fliplrr'.*fliplr"):
        tr.load_config(bad)
    with pytest.raises(tr.ConfigError, match="key=value"):
        tr.parse_overrides(["epochs"])


def test_wrong_types_are_rejected():
    base = tr.load_config(FACE)
    with pytest.raises(tr.ConfigError, match="epochs"):
        tr.merge_config(base, tr.parse_overrides(["epochs=many"]))
    with pytest.raises(tr.ConfigError, match="imgsz"):
        tr.merge_config(base, tr.parse_overrides(["imgsz=big"]))


def test_bad_config_files(tmp_path):
    with pytest.raises(tr.ConfigError, match="not found"):
        tr.load_config(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(tr.ConfigError, match="mapping"):
        tr.load_config(tmp_path / "list.yaml")


def test_cli_print_config_mixes_options_and_overrides(capsys):
    rc = main(["train", "--config", str(FACE), "epochs=1", "--device", "0,1", "imgsz=320", "--print-config"])
    assert rc == 0
    import json

    cfg = json.loads(capsys.readouterr().out)
    assert (cfg["epochs"], cfg["imgsz"], cfg["device"], cfg["lr0"]) == (1, 320, "0,1", 0.0025)


def test_cli_rejects_unknown_key(capsys):
    assert main(["train", "--config", str(FACE), "lr=1", "--print-config"]) == 2
    assert "unknown Ultralytics train option 'lr'" in capsys.readouterr().err


# -- devices ----------------------------------------------------------------------------------------------
def _cuda(monkeypatch, count):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


@pytest.mark.parametrize(("count", "expected"), [(0, "cpu"), (1, "0"), (2, "0,1"), (4, "0,1,2,3")])
def test_auto_device_is_every_visible_gpu_else_cpu(monkeypatch, count, expected):
    _cuda(monkeypatch, count)
    assert tr.auto_device() == expected


def test_multi_gpu_request_without_a_gpu_says_none_is_visible(face_data, tmp_path, capsys, monkeypatch):
    """The seed's `--device 0,1` on a machine without GPUs: one line naming the request and what is visible (it
    used to stop with 'multi-GPU training needs cloudpickle', or fail deep inside Ultralytics)."""
    _cuda(monkeypatch, 0)
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--config", str(FACE), "model=yolov8n.yaml", f"data={face_data.data_yaml}", "epochs=1"]
    assert main([*argv, "--device", "0,1"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "fpblur: error: --device 0,1 asks for CUDA GPUs but none is visible (torch.cuda.device_count() == 0); "
        "use --device cpu\n"
    )
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_device_requests_are_checked_against_the_visible_gpus(monkeypatch):
    _cuda(monkeypatch, 0)
    with pytest.raises(tr.ConfigError, match=r"^--device 0 asks for a CUDA GPU but none is visible"):
        tr.check_device("0")
    for request in ("cuda:0", "[0, 1]", "-1", 1):
        with pytest.raises(tr.ConfigError, match="none is visible"):
            tr.check_device(request)
    for fine in (None, "", "cpu", "mps", "CPU"):
        tr.check_device(fine)
    _cuda(monkeypatch, 1)
    tr.check_device("0")
    tr.check_device("cuda:0")
    with pytest.raises(tr.ConfigError, match=r"--device 0,1 asks for CUDA GPUs 0,1 but only 1 is visible .*--device 0"):
        tr.check_device("0,1")
    with pytest.raises(tr.ConfigError, match="only 1 is visible"):
        tr.check_device("-1,-1")
    _cuda(monkeypatch, 2)
    tr.check_device("0,1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    tr.check_device("2,3")  # physical ids under CUDA_VISIBLE_DEVICES (Ultralytics translates them)


def test_cloudpickle_for_multi_gpu_is_part_of_the_train_extra():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    train_extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["train"]
    assert "cloudpickle>=3.1.1" in train_extra
    assert "cloudpickle>=3.1.1" in (REPO / "requirements.txt").read_text().split()
    from importlib import metadata

    version = tuple(int(x) for x in metadata.version("cloudpickle").split(".")[:3])
    assert version >= (3, 1, 1)  # what Ultralytics' DDP launcher asks for


# -- offline -----------------------------------------------------------------------------------------------
def test_missing_base_weights_explain_what_to_do(no_network, face_data, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rc = main(["train", "--config", str(FACE), f"data={face_data.data_yaml}", "epochs=1", "device=cpu"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "yolov8m.pt is not on this machine" in err and "model=yolov8m.yaml" in err
    assert "releases/download" in err  # where to get it
    assert not (tmp_path / "yolov8m.pt").exists()


def test_resolve_paths_checks_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(tr.ConfigError, match="repository root"):
        tr.resolve_paths({"model": "yolov8n.yaml", "data": "configs/none.yaml"})
    with pytest.raises(tr.ConfigError, match="no data"):
        tr.resolve_paths({"model": "yolov8n.yaml"})


def test_weights_found_in_weights_dir(tmp_path, monkeypatch):
    from fpblur.models.offline import import_ultralytics

    import_ultralytics()
    from ultralytics.utils import SETTINGS

    monkeypatch.setitem(SETTINGS, "weights_dir", str(tmp_path))
    (tmp_path / "yolov8m.pt").write_bytes(b"x")
    assert tr.resolve_weights("yolov8m.pt") == (tmp_path / "yolov8m.pt").resolve()


def test_check_amp_is_pre_empted_and_restored():
    import torch
    from ultralytics.engine import trainer as trainer_mod

    original = trainer_mod.check_amp
    with tr.patched_check_amp():
        assert trainer_mod.check_amp is tr.offline_check_amp
        assert tr.offline_check_amp(torch.nn.Conv2d(3, 4, 1)) is False  # CPU: AMP off, nothing loaded
    assert trainer_mod.check_amp is original


def test_trainer_class_pickles_by_reference():
    """DDP workers rebuild the trainer from a pickle of its class: it must resolve to the same object."""
    cls = tr.trainer_class()
    assert tr.OfflineDetectionTrainer is cls
    assert pickle.loads(pickle.dumps(cls)) is cls


def test_training_log_is_turned_on_and_restored():
    from ultralytics import utils as ul

    before = ul.LOGGER.level
    with tr.ultralytics_logging(True):
        assert ul.LOGGER.level == logging.INFO and ul.VERBOSE
    assert ul.LOGGER.level == before


# -- smoke training ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_smoke_train_then_val_and_export_offline(no_network, face_data, tmp_path, capsys, monkeypatch):
    """CPU, yolov8n from scratch, imgsz 160, 1 epoch, 16 images: weights + results.csv, no network at all."""
    monkeypatch.chdir(tmp_path)
    rc = main(
        [
            "train",
            "--config",
            str(FACE),
            "model=yolov8n.yaml",
            f"data={face_data.data_yaml}",
            "imgsz=160",
            "epochs=1",
            "batch=8",
            "cache=false",
            "--device",
            "cpu",
            "project=runs/train",
            "name=smoke",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    run = tmp_path / "runs" / "train" / "smoke"
    assert (run / "weights" / "best.pt").is_file() and (run / "weights" / "last.pt").is_file()
    with open(run / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and "metrics/mAP50(B)" in {k.strip() for k in rows[0]}
    assert "Starting training for 1 epochs" in captured.out + captured.err  # Ultralytics' log is visible
    args = yaml.safe_load((run / "args.yaml").read_text())
    assert (args["seed"], args["deterministic"], args["optimizer"], args["lr0"]) == (0, True, "AdamW", 0.0025)

    from fpblur.training.eval.evaluation import evaluate_model
    from fpblur.training.export import export_and_verify

    res = evaluate_model(
        str(run / "weights" / "best.pt"),
        face_data.data_yaml,
        imgsz=160,
        out_dir="runs/eval",
        log="runs/eval_log.csv",
        timing_images=2,
    )
    assert res.row["model"] == "smoke/best.pt" and (tmp_path / "runs" / "eval_log.csv").is_file()
    exp = export_and_verify(run / "weights" / "best.pt", imgsz=160, output=tmp_path / "smoke.onnx")
    assert exp.verify.ok and exp.exported.is_file()


class _Stop(Exception):
    pass


def _stop_after_first_epoch(trainer):
    if trainer.epoch == 0:
        raise _Stop


@pytest.mark.slow
def test_resume_continues_an_interrupted_run(no_network, face_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = tr.merge_config(
        tr.load_config(FACE),
        {
            "model": "yolov8n.yaml",
            "data": str(face_data.data_yaml),
            "imgsz": 160,
            "epochs": 2,
            "batch": 8,
            "cache": False,
            "device": "cpu",
            "project": "runs",
            "name": "r",
            "plots": False,
            "val": False,
        },
    )
    with pytest.raises(_Stop):  # interrupted right after epoch 1's checkpoint
        tr.train(cfg, verbose=False, callbacks={"on_model_save": _stop_after_first_epoch})
    assert (tmp_path / "runs" / "r" / "weights" / "last.pt").is_file()
    resumed = tr.train(cfg, resume=True, verbose=False)
    assert resumed.save_dir.name == "r"
    with open(resumed.results_csv, newline="") as fh:
        assert [int(float(r["epoch"])) for r in csv.DictReader(fh)] == [1, 2]
    with pytest.raises(tr.ConfigError, match="no checkpoint"):
        tr.train({**cfg, "name": "absent"}, resume=True, verbose=False)
    again = tr.train({**cfg, "epochs": 1}, verbose=False)
    assert again.save_dir.name in ("r2", "r-2")  # a named run is never overwritten (Ultralytics numbers it)


def test_recipes_and_notebook_point_at_the_readme_training_section():
    readme = (REPO / "README.md").read_text()
    assert "\n## Training, export and evaluation\n" in readme  # GitHub anchor: #training-export-and-evaluation
    for path in (FACE, PLATE, REPO / "notebooks" / "04_train_detectors.ipynb"):
        text = path.read_text()
        assert "docs/readme_training.md" not in text, path.name
        assert "README.md#training-export-and-evaluation" in text, path.name


def test_config_yaml_errors_name_the_file_and_the_place(tmp_path):
    bad = tmp_path / "recipe.yaml"
    bad.write_text("epochs: 3\nimgsz: [640\n")
    with pytest.raises(tr.ConfigError, match=r"recipe\.yaml: not valid YAML \(.* at line \d+, column \d+\)") as info:
        tr.load_config(bad)
    assert "\n" not in str(info.value)
    (tmp_path / "empty.yaml").write_text("")
    assert tr.load_config(tmp_path / "empty.yaml") == {}
