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
from fpblur.models.samples import synthetic_car

ZIDANE_FACES = np.array([[911, 102, 1053, 277], [552, 258, 667, 434]], np.float32)  # zidane.jpg, by hand
FACE = tuple(int(v) for v in ZIDANE_FACES[0])  # the larger face


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
    deep = cv2.imread(str(ultralytics_assets / "zidane.jpg")).astype(np.uint16) * 257
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
    for bad, reason in (
        ("empty.jpg", "empty file"),
        ("truncated.jpg", "truncated"),
        ("notes.jpg", "not a readable image"),
    ):
        line = next(ln for ln in err.splitlines() if bad in ln)
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
    """The log names the right things at the right places: the drawn plate and zidane's two faces (in every
    pixel format), each with the padded region the anonymizer covered."""
    from fpblur.config.profiles import get_profile
    from fpblur.core.boxes import iou_matrix

    _, _, log = folder_run
    data = json.loads(log.read_text())
    assert set(data) == {"car.png", "deep16.png", "gray.png", "rgba.png", "sub/zidane.jpg"}
    assert [d["label"] for d in data["car.png"]] == ["plate"]
    _, plate_box = synthetic_car()
    assert iou_matrix(np.array([plate_box]), np.array([data["car.png"][0]["box"]]))[0, 0] > 0.7, data["car.png"]
    pads, by_width = get_profile("default").pad, get_profile("default").pad_by_width
    sizes = {
        "car.png": (640, 480),
        **{name: (1280, 720) for name in ("deep16.png", "gray.png", "rgba.png", "sub/zidane.jpg")},
    }
    for name, records in data.items():
        faces = np.array([d["box"] for d in records if d["label"] == "face"]).reshape(-1, 4)
        if name != "car.png":
            assert len(faces) == 2, (name, records)
            assert (iou_matrix(ZIDANE_FACES, faces).max(axis=1) > 0.5).all(), (name, faces)
        w, h = sizes[name]
        for d in records:  # the region is the box grown by the profile's pad on each side (and a share of the
            bx = np.array(d["box"])  # width above and below: plates), clipped to the image
            grow = np.array([-1, -1, 1, 1]) * np.tile(bx[2:] - bx[:2], 2) * pads[d["label"]]
            grow += np.array([0, -1, 0, 1]) * (bx[2] - bx[0]) * by_width.get(d["label"], 0.0)
            expected = np.clip(bx + grow, 0, [w, h, w, h])
            assert np.allclose(d["region"], expected, atol=0.02), (name, d)


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
    from fpblur.core.boxes import iou_matrix

    iou = iou_matrix(np.array([FACE]) * 2, np.array(faces))
    assert iou.max() > 0.5
    assert all(d["score"] >= 0.05 for v in data.values() for d in v)
    assert not (folder / "big.jpg.part").exists() and sorted(p.name for p in folder.iterdir()) == ["big.jpg", "bus.jpg"]


def _plates(tmp_path, image, *extra):
    out = tmp_path / f"plates{len(list(tmp_path.glob('plates*.json')))}.json"
    assert main(["detect", str(image), "--targets", "plate", "--json", str(out), *map(str, extra)]) == 0
    return [(d["box"], d["score"]) for dets in json.loads(out.read_text()).values() for d in dets]


def _assert_same_plates(got, expected):
    assert len(got) == len(expected), (got, expected)
    for (box, score), (ref_box, ref_score) in zip(got, expected):
        assert np.allclose(box, ref_box, atol=0.5) and abs(score - ref_score) < 1e-3, (got, expected)


@pytest.mark.parametrize("weights", ["plate-yolov8n", "plate-yolov8n-pt"])
def test_plate_weights_given_as_a_file_run_at_the_profiles_sizes(tmp_path, no_network, weights):
    """`--plates <the default plate model's file>` finds what the default finds on bus.jpg (it used to run at 640
    only and find nothing there): a file gets the profile's sizes unless --imgsz says otherwise."""
    from fpblur.models.registry import model_path
    from fpblur.models.samples import photo_path

    bus, path = photo_path("bus.jpg"), model_path(weights)
    default = _plates(tmp_path, bus)
    assert len(default) == 1  # the bus's plate
    _assert_same_plates(_plates(tmp_path, bus, "--plates", path), default)
    # --imgsz still wins, and the fast profile's size applies to a file too
    _assert_same_plates(
        _plates(tmp_path, bus, "--plates", path, "--imgsz", "640"), _plates(tmp_path, bus, "--imgsz", "640")
    )
    _assert_same_plates(_plates(tmp_path, bus, "--plates", path, "--fast"), _plates(tmp_path, bus, "--fast"))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pil(orientation):
    """Every EXIF orientation is undone exactly as PIL's ``ImageOps.exif_transpose`` does."""
    import io

    from PIL import ImageOps

    from fpblur.media.images import apply_orientation

    rgb = np.random.default_rng(orientation).integers(0, 255, (3, 5, 3), dtype=np.uint8)  # not square
    ex = Image.Exif()
    ex[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG", exif=ex.tobytes())
    buf.seek(0)
    with Image.open(buf) as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    assert np.array_equal(apply_orientation(rgb, orientation), expected)


def test_read_image_leaves_pil_global_setting_alone(tmp_path, monkeypatch):
    from PIL import ImageFile

    from fpblur.media.images import read_image

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)  # a host application's choice
    read_image(tmp_path / "a.png")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def _no_detection(monkeypatch):
    """Make building the detectors fail loudly: the refusals below must happen before any work."""
    import fpblur.cli.detect_cmd as detect_cmd
    import fpblur.cli.image_cmd as image_cmd

    def boom(*a, **k):
        raise AssertionError("detectors were built")

    monkeypatch.setattr(image_cmd, "build_anonymizer", boom)
    monkeypatch.setattr(detect_cmd, "build_anonymizer", boom)


def _errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "error" in line]


def test_two_inputs_with_one_output_are_refused(tmp_path, capsys, monkeypatch):
    from fpblur.core.files import InputError, collect, plan_outputs

    img = np.zeros((8, 8, 3), np.uint8)
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        cv2.imwrite(str(tmp_path / sub / "x.jpg"), img)
    jobs, _ = collect([tmp_path / "a" / "x.jpg", tmp_path / "b" / "x.jpg"], (".jpg",))
    with pytest.raises(InputError, match="would be written twice") as info:
        plan_outputs(jobs, tmp_path / "out")
    assert str(tmp_path / "b" / "x.jpg") in str(info.value) and str(tmp_path / "out" / "x.jpg") in str(info.value)
    with pytest.raises(InputError, match="would be written twice"):  # folders with the same relative paths
        plan_outputs(collect([tmp_path / "a", tmp_path / "b"], (".jpg",))[0], tmp_path / "out")
    # through a suffix hook (what the video command uses): x.png and x.jpg both become x.mp4
    cv2.imwrite(str(tmp_path / "a" / "x.png"), img)
    jobs, _ = collect([tmp_path / "a"], (".jpg", ".png"))
    with pytest.raises(InputError, match="would be written twice"):
        plan_outputs(jobs, tmp_path / "out", suffix=lambda dst: ".mp4")
    _no_detection(monkeypatch)
    assert (
        main(["image", str(tmp_path / "a" / "x.jpg"), str(tmp_path / "b" / "x.jpg"), "-o", str(tmp_path / "out")]) == 2
    )
    errors = _errors(capsys)
    assert len(errors) == 1 and "would be written twice" in errors[0]
    assert not (tmp_path / "out").exists()


def test_unwritable_output_extension_is_refused_before_detection(tmp_path, capsys, monkeypatch, ultralytics_assets):
    _no_detection(monkeypatch)
    src = ultralytics_assets / "zidane.jpg"
    assert main(["image", str(src), "-o", str(tmp_path / "out.txt")]) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "out.txt" in errors[0] and "'.txt'" in errors[0], errors
    assert list(tmp_path.iterdir()) == []


def test_encode_image_without_encoder_is_an_input_error(tmp_path):
    from fpblur.core.files import InputError
    from fpblur.media.images import encode_image, write_image

    with pytest.raises(InputError, match=r"\.txt"):
        encode_image(np.zeros((4, 4, 3), np.uint8), ".txt")
    with pytest.raises(InputError, match="o.txt") as info:
        write_image(tmp_path / "o.txt", np.zeros((4, 4, 3), np.uint8))
    assert "\n" not in str(info.value) and list(tmp_path.iterdir()) == []


def test_existing_file_as_output_folder_gives_one_error(tmp_path, capsys, monkeypatch):
    _no_detection(monkeypatch)
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
    target = tmp_path / "result.png"
    target.write_bytes(b"keep me")
    assert main(["image", str(tmp_path / "a.png"), str(tmp_path / "b.png"), "-o", str(target)]) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and str(target) in errors[0] and "folder" in errors[0], errors
    assert target.read_bytes() == b"keep me"


@pytest.mark.parametrize("command", ["image", "detect"])
def test_log_path_equal_to_an_input_is_refused(tmp_path, capsys, monkeypatch, command):
    _no_detection(monkeypatch)
    src = tmp_path / "photo.jpg"
    cv2.imwrite(str(src), np.zeros((8, 8, 3), np.uint8))
    before = src.read_bytes()
    if command == "image":
        argv = ["image", str(tmp_path), "-o", str(tmp_path / "out"), "--log", str(src)]
    else:
        argv = ["detect", str(src), "--json", str(src)]
    assert main(argv) == 2
    errors = _errors(capsys)
    assert len(errors) == 1 and "refusing to overwrite an input" in errors[0] and "photo.jpg" in errors[0], errors
    assert src.read_bytes() == before and not (tmp_path / "out").exists()


def test_sample_folder_writes_atomically_and_checks_imwrite(tmp_path, monkeypatch):
    import fpblur.models.samples as samples

    monkeypatch.setattr(samples.cv2, "imwrite", lambda *a, **k: False)
    with pytest.raises(OSError, match="car_plate.png"):
        samples.sample_folder(tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["bus.jpg", "zidane.jpg"]

    def half_copy(src, dst):  # a copy that dies half way (disk full, interrupted)
        Path(dst).write_bytes(Path(src).read_bytes()[:100])
        raise OSError("No space left on device")

    monkeypatch.setattr(samples.shutil, "copyfile", half_copy)
    with pytest.raises(OSError, match="No space"):
        samples.sample_folder(tmp_path / "t")
    assert list((tmp_path / "t").iterdir()) == []  # no truncated sample left to be reused next time


def test_atomic_outputs_get_normal_file_permissions(tmp_path):
    """Outputs are readable like any file the user creates (not mkstemp's 0600); a replaced file keeps its mode."""
    import os
    import stat

    from fpblur.core.files import atomic_output

    mask = os.umask(0o022)
    os.umask(mask)
    new = tmp_path / "new.txt"
    with atomic_output(new) as tmp:
        tmp.write_text("x")
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~mask
    old = tmp_path / "old.txt"
    old.write_text("before")
    old.chmod(0o640)
    with atomic_output(old) as tmp:
        tmp.write_text("after")
    assert stat.S_IMODE(old.stat().st_mode) == 0o640 and old.read_text() == "after"


def test_no_log_is_left_when_no_image_could_be_read(tmp_path, capsys):
    """``fpblur detect --json`` / ``fpblur image --log`` on inputs that all fail: exit 2 and no log file (an empty
    ``{}`` would read as "nothing found")."""
    from fpblur.cli import main

    bad = tmp_path / "notimg.jpg"
    bad.write_text("not an image")
    assert main(["detect", str(bad), "--json", str(tmp_path / "d.json")]) == 2
    assert main(["image", str(bad), "-o", str(tmp_path / "out"), "--log", str(tmp_path / "i.json")]) == 2
    assert not (tmp_path / "d.json").exists() and not (tmp_path / "i.json").exists()
    assert "notimg.jpg" in capsys.readouterr().err


def test_an_onnx_file_that_is_not_a_yolo_export_is_a_one_line_error(tmp_path, capsys):
    """``--faces`` takes YOLO weights: a CenterFace ONNX file (or any non-YOLO graph) is refused before Ultralytics
    loads it (which used to print hundreds of ONNX Runtime warnings and fail on the first image)."""
    import shutil

    from fpblur.cli import main
    from fpblur.models.registry import model_path

    weights = tmp_path / "faces.onnx"
    shutil.copy(model_path("centerface"), weights)
    img = tmp_path / "a.png"
    cv2.imwrite(str(img), np.zeros((64, 64, 3), np.uint8))
    assert main(["image", str(img), "-o", str(tmp_path / "out"), "--faces", str(weights)]) == 2
    err = capsys.readouterr().err
    assert "faces.onnx: not a YOLO detection export" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "out").exists()
