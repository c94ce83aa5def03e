"""``fpblur image`` / ``fpblur detect`` end to end, including every kind of bad input."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from fpblur.cli import main
from fpblur.samples import synthetic_car

FACE = (911, 102, 1053, 277)  # a face in zidane.jpg


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "fpblur", *map(str, args)], capture_output=True, text=True)


def exif_with_gps(orientation=1) -> bytes:
    ex = Image.Exif()
    ex[0x0112] = orientation
    ex[0x010F] = "CameraMaker"
    ex[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPS IFD
    return ex.tobytes()


@pytest.fixture(scope="module")
def messy_folder(tmp_path_factory, ultralytics_assets):
    root = tmp_path_factory.mktemp("in")
    (root / "sub").mkdir()
    shutil.copy(ultralytics_assets / "zidane.jpg", root / "sub" / "zidane.jpg")
    car, _ = synthetic_car()
    cv2.imwrite(str(root / "car.png"), car)
    (root / "empty.jpg").write_bytes(b"")
    data = (ultralytics_assets / "bus.jpg").read_bytes()
    (root / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (root / "notes.jpg").write_text("this is not an image\n")
    gray = cv2.cvtColor(cv2.imread(str(ultralytics_assets / "zidane.jpg")), cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(root / "gray.png"), gray)
    rgba = cv2.cvtColor(cv2.imread(str(ultralytics_assets / "zidane.jpg")), cv2.COLOR_BGR2BGRA)
    rgba[:, :, 3] = 200
    cv2.imwrite(str(root / "rgba.png"), rgba)
    deep = (cv2.imread(str(ultralytics_assets / "zidane.jpg")).astype(np.uint16) * 257)
    cv2.imwrite(str(root / "deep16.png"), deep)
    (root / "readme.txt").write_text("ignored: not an image extension")
    return root


@pytest.fixture(scope="module")
def folder_run(messy_folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    log = out / "log.json"
    proc = run_cli("image", messy_folder, "-o", out / "anon", "--log", log)
    return proc, out / "anon", log


def test_folder_mirrors_structure_and_reports_bad_files(folder_run, messy_folder):
    proc, out, _ = folder_run
    assert proc.returncode == 1, proc.stderr  # some inputs failed, others were done
    produced = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert produced == ["car.png", "deep16.png", "gray.png", "rgba.png", "sub/zidane.jpg"]
    err = proc.stderr
    for bad, reason in (("empty.jpg", "empty file"), ("truncated.jpg", "truncated"), ("notes.jpg", "not a readable image")):
        line = next(l for l in err.splitlines() if bad in l)
        assert reason in line and str(messy_folder) in line
    assert "5 images" in err and "3 failed" in err
    assert not list(out.rglob("*.part*")), "temporary files left behind"


def test_outputs_are_anonymized_and_keep_format(folder_run, messy_folder):
    _, out, _ = folder_run
    src = cv2.imread(str(messy_folder / "sub" / "zidane.jpg"))
    dst = cv2.imread(str(out / "sub" / "zidane.jpg"))
    x1, y1, x2, y2 = FACE
    assert np.abs(dst[y1:y2, x1:x2].astype(int) - src[y1:y2, x1:x2]).mean() > 10
    assert np.abs(dst[:80, :80].astype(int) - src[:80, :80]).mean() < 3  # JPEG re-encode only
    gray = cv2.imread(str(out / "gray.png"), cv2.IMREAD_UNCHANGED)
    assert gray.ndim == 2
    rgba = cv2.imread(str(out / "rgba.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape[2] == 4 and (rgba[:, :, 3] == 200).all()
    deep = cv2.imread(str(out / "deep16.png"), cv2.IMREAD_UNCHANGED)
    src16 = cv2.imread(str(messy_folder / "deep16.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16
    assert not np.array_equal(deep[y1:y2, x1:x2], src16[y1:y2, x1:x2])
    assert np.array_equal(deep[:80, :80], src16[:80, :80])
    for name in ("gray.png", "rgba.png"):
        a = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)[y1:y2, x1:x2].astype(int)
        b = cv2.imread(str(messy_folder / name), cv2.IMREAD_UNCHANGED)[y1:y2, x1:x2].astype(int)
        assert np.abs(a - b).mean() > 10, name


def test_log_has_regions_and_plate(folder_run):
    _, _, log = folder_run
    data = json.loads(log.read_text())
    assert set(data) == {"car.png", "deep16.png", "gray.png", "rgba.png", "sub/zidane.jpg"}
    assert [d["label"] for d in data["car.png"]] == ["plate"]
    faces = [d for d in data["sub/zidane.jpg"] if d["label"] == "face"]
    assert len(faces) == 2
    for d in faces:
        bx, rg = d["box"], d["region"]
        assert rg[0] <= bx[0] and rg[1] <= bx[1] and rg[2] >= bx[2] and rg[3] >= bx[3]


def test_single_file_to_file_and_targets(tmp_path, ultralytics_assets):
    dst = tmp_path / "z.jpg"
    proc = run_cli("image", ultralytics_assets / "zidane.jpg", "-o", dst, "--targets", "plate", "--mode", "solid")
    assert proc.returncode == 0, proc.stderr
    src = cv2.imread(str(ultralytics_assets / "zidane.jpg"))
    out = cv2.imread(str(dst))
    x1, y1, x2, y2 = FACE  # faces not targeted → unchanged apart from JPEG re-encoding
    assert np.abs(out[y1:y2, x1:x2].astype(int) - src[y1:y2, x1:x2]).mean() < 4
    assert "0 faces" in proc.stderr


def test_missing_path_and_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_cli("image", tmp_path / "nope.jpg", tmp_path / "empty", "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert f"{tmp_path / 'nope.jpg'}: no such file or folder" in proc.stderr
    assert "folder contains no" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_single_bad_file_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    proc = run_cli("image", bad, "-o", tmp_path / "o.jpg")
    assert proc.returncode == 2 and "empty file" in proc.stderr
    assert not (tmp_path / "o.jpg").exists() and list(tmp_path.iterdir()) == [bad]


def test_pixel_limit(tmp_path):
    img = np.zeros((300, 400, 3), np.uint8)
    cv2.imwrite(str(tmp_path / "big.png"), img)
    proc = run_cli("image", tmp_path / "big.png", "-o", tmp_path / "out", "--max-pixels", "1000")
    assert proc.returncode == 2 and "exceeds the pixel limit" in proc.stderr and "big.png" in proc.stderr
    assert not (tmp_path / "out" / "big.png").exists()


def test_output_equal_to_input_is_refused(tmp_path, ultralytics_assets):
    src = tmp_path / "z.jpg"
    shutil.copy(ultralytics_assets / "zidane.jpg", src)
    before = src.read_bytes()
    proc = run_cli("image", src, "-o", src)
    assert proc.returncode == 2 and "refusing to overwrite an input" in proc.stderr
    proc = run_cli("image", tmp_path, "-o", tmp_path)
    assert proc.returncode == 2
    assert src.read_bytes() == before


def test_metadata_stripped_orientation_applied(tmp_path, ultralytics_assets):
    """A portrait photo stored sideways with EXIF orientation 6 and GPS tags."""
    upright = cv2.imread(str(ultralytics_assets / "zidane.jpg"))
    stored = cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)  # orientation 6 means: rotate 90° CW to view
    rgb = Image.fromarray(cv2.cvtColor(stored, cv2.COLOR_BGR2RGB))
    src = tmp_path / "in" / "phone.jpg"
    src.parent.mkdir()
    rgb.save(src, exif=exif_with_gps(orientation=6), quality=95)
    assert main(["image", str(src), "-o", str(tmp_path / "plain")]) == 0
    assert main(["image", str(src), "-o", str(tmp_path / "kept"), "--keep-metadata"]) == 0
    with Image.open(tmp_path / "plain" / "phone.jpg") as im:
        assert im.size == (1280, 720)  # upright
        assert not im.getexif() and "exif" not in im.info
    with Image.open(tmp_path / "kept" / "phone.jpg") as im:
        ex = im.getexif()
        assert ex.get(0x010F) == "CameraMaker" and ex.get(0x0112) == 1
    out = cv2.imread(str(tmp_path / "plain" / "phone.jpg"))
    x1, y1, x2, y2 = FACE
    assert np.abs(out[y1:y2, x1:x2].astype(int) - upright[y1:y2, x1:x2]).mean() > 10


def test_detect_json_in_original_pixels(tmp_path, ultralytics_assets, no_network):
    folder = tmp_path / "photos"
    folder.mkdir()
    z = cv2.imread(str(ultralytics_assets / "zidane.jpg"))
    cv2.imwrite(str(folder / "big.jpg"), cv2.resize(z, (2560, 1440)))
    shutil.copy(ultralytics_assets / "bus.jpg", folder / "bus.jpg")
    out = tmp_path / "dets.json"
    assert main(["detect", str(folder), "--json", str(out), "--conf", "0.05"]) == 0
    data = json.loads(out.read_text())
    assert set(data) == {"big.jpg", "bus.jpg"}
    faces = [d["box"] for d in data["big.jpg"] if d["label"] == "face" and d["score"] > 0.5]
    from fpblur.boxes import iou_matrix

    iou = iou_matrix(np.array([FACE]) * 2, np.array(faces))
    assert iou.max() > 0.5
    assert all(d["score"] >= 0.05 for v in data.values() for d in v)
    assert not (folder / "big.jpg.part").exists() and sorted(p.name for p in folder.iterdir()) == ["big.jpg", "bus.jpg"]
