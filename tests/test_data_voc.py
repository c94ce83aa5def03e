"""fpblur.training.data.voc: class map, wrong <size> detected and fixed from the image, flags, clipping, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from fpblur.training.data import fixtures, voc

PLATE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "plate_data.yaml"


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    d = tmp_path_factory.mktemp("voc")
    s = fixtures.make_voc_set(d / "src")
    cm = voc.ClassMap.from_config(PLATE_CONFIG)
    rep = voc.convert(
        s.annotations, s.images, d / "yolo", cm, split_of=lambda stem: "val" if stem.startswith("dashC") else "train"
    )
    return d / "yolo", rep


def _labels(path: Path) -> np.ndarray:
    return np.array([list(map(float, ln.split())) for ln in path.read_text().splitlines()]).reshape(-1, 5)


def test_class_map_from_config_with_aliases():
    cm = voc.ClassMap.from_config(PLATE_CONFIG)
    assert cm.names == {0: "plate"}
    for name in ("plate", "Plate", " licence-plate ", "License Plate", "number_plate", "LP"):
        assert cm.id(name) == 0, name
    assert cm.id("car") is None
    with pytest.raises(ValueError, match="names"):
        voc.ClassMap.from_config({"voc_aliases": {}})


def test_wrong_size_detected_and_labels_use_the_real_image(converted):
    out, rep = converted
    im = rep.images.set_index("xml")
    assert im.loc["dashA_t100.xml", ["xml_width", "xml_height", "width", "height", "size_status", "fix"]].tolist() == [
        640,
        480,
        320,
        240,
        "mismatch",
        "size_from_image",
    ]
    assert im.loc["dashB_t100.xml", "size_status"] == "mismatch"  # width/height swapped
    assert im.loc["web_p1_0.xml", "size_status"] == "missing"
    assert (im.loc["dashA_t000.xml", "size_status"]) == "ok"
    # box (20, 30, 110, 60) normalised by the real 320×240, not by the XML's 640×480
    np.testing.assert_allclose(
        _labels(out / "labels/train/dashA_t100.txt"), [[0, 65 / 320, 45 / 240, 90 / 320, 30 / 240]], atol=1e-6
    )


def test_boxes_drawn_on_a_resized_copy_are_rescaled(tmp_path):
    (tmp_path / "img").mkdir()
    fixtures.save_jpeg(fixtures.pattern(1, 200, 100), tmp_path / "img" / "a.jpg")
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "a.xml").write_text(
        fixtures.voc_xml("a.jpg", (400, 200), [{"name": "plate", "box": (200, 100, 360, 160)}])
    )
    rep = voc.convert(tmp_path / "ann", tmp_path / "img", tmp_path / "out", voc.ClassMap({0: "plate"}))
    assert rep.images.loc[0, "fix"] == "size_from_image+boxes_rescaled_x0.5"
    np.testing.assert_allclose(
        _labels(tmp_path / "out/labels/train/a.txt"), [[0, 140 / 200, 65 / 100, 80 / 200, 30 / 100]], atol=1e-6
    )


def test_flags_clipping_unknown_and_degenerate(converted):
    out, rep = converted
    o = rep.objects[rep.objects["xml"] == "dashC_t100.xml"].reset_index(drop=True)
    assert o["status"].tolist() == ["kept", "kept", "unknown_class", "degenerate"]
    assert o["truncated"].tolist() == [True, False, False, False] and o["difficult"].tolist() == [
        False,
        True,
        False,
        False,
    ]
    assert o["clipped"].tolist() == [True, False, False, False]
    rows = _labels(out / "labels/val/dashC_t100.txt")
    assert len(rows) == 2
    x1, y1 = rows[0, 1] + rows[0, 3] / 2, rows[0, 2] + rows[0, 4] / 2
    assert x1 == pytest.approx(1.0) and y1 == pytest.approx(1.0)  # (280, 200, 360, 260) clipped to the image
    s = rep.summary()
    assert (
        s["object:unknown_class"] == 1
        and s["object:degenerate"] == 1
        and s["objects:difficult"] == 1
        and s["image:missing_image"] == 1
    )


def test_layout_yaml_and_missing_images(converted):
    out, rep = converted
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "plate"} and data["train"] == "images/train" and data["val"] == "images/val"
    assert sorted(p.name for p in (out / "images/val").iterdir()) == [
        "dashC_t000.jpg",
        "dashC_t001.jpg",
        "dashC_t002.jpg",
        "dashC_t100.jpg",
        "dashC_t200.jpg",
    ]
    assert rep.images.set_index("xml").loc["lost_0.xml", "status"] == "missing_image"
    assert not (out / "labels/train/lost_0.txt").exists()
    assert rep.objects.loc[rep.objects["name"] == "licence-plate", "class_id"].tolist() == [0]


def test_difficult_can_be_dropped_and_bad_xml_reported(tmp_path):
    s = fixtures.make_voc_set(tmp_path / "src")
    (s.annotations / "broken.xml").write_text("<annotation><object>")
    rep = voc.convert(s.annotations, s.images, tmp_path / "out", voc.ClassMap({0: "plate"}), keep_difficult=False)
    assert "difficult_dropped" in set(rep.objects["status"])
    bad = rep.images.set_index("xml").loc["broken.xml", "status"]
    assert bad.startswith("bad_xml") and "broken.xml" in bad
    with pytest.raises(voc.VocError, match="broken.xml"):
        voc.parse_voc(s.annotations / "broken.xml")


def test_exif_rotated_image_size(tmp_path):
    from PIL import Image

    img = Image.fromarray(fixtures.pattern(0, 60, 40))
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90°: displayed as 40×60
    img.save(tmp_path / "r.jpg", exif=exif)
    assert voc.image_size(tmp_path / "r.jpg") == (40, 60)


def _tiny_voc(root: Path, stems=("a", "b")) -> tuple[Path, Path]:
    for stem in stems:
        fixtures.save_jpeg(fixtures.pattern(ord(stem[0]), 200, 100), root / "img" / f"{stem}.jpg")
        (root / "ann").mkdir(parents=True, exist_ok=True)
        (root / "ann" / f"{stem}.xml").write_text(
            fixtures.voc_xml(f"{stem}.jpg", (200, 100), [{"name": "plate", "box": (10, 10, 60, 30)}])
        )
    return root / "ann", root / "img"


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_rerun_replaces_the_previous_conversion(tmp_path):
    ann, img = _tiny_voc(tmp_path)
    out = tmp_path / "out"
    voc.convert(ann, img, out, voc.ClassMap({0: "plate"}), split_of={"a": "val"})
    assert (out / "images/val/a.jpg").is_file() and (out / "labels/val/a.txt").is_file()
    rep = voc.convert(ann, img, out, voc.ClassMap({0: "plate"}))  # now everything in train
    assert sorted(_tree(out / "images")) == ["train/a.jpg", "train/b.jpg"]  # no stale val copy of a
    assert sorted(_tree(out / "labels")) == ["train/a.txt", "train/b.txt"]
    assert "val" not in yaml.safe_load((out / "data.yaml").read_text()) and rep.data_yaml == out / "data.yaml"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ann", "img", "out"]  # no temporary folder left


def test_failure_midway_leaves_the_previous_output_alone(tmp_path, monkeypatch):
    ann, img = _tiny_voc(tmp_path)
    out = tmp_path / "out"
    voc.convert(ann, img, out, voc.ClassMap({0: "plate"}), split_of={"a": "val"})
    before = _tree(out)
    calls = []

    def flaky(src, dst, mode="auto"):
        calls.append(src)
        if len(calls) == 2:
            raise OSError("disk full")
        return "copy"

    monkeypatch.setattr(voc, "link_or_copy", flaky)
    with pytest.raises(OSError, match="disk full"):
        voc.convert(ann, img, out, voc.ClassMap({0: "plate"}))
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ann", "img", "out"]
    with pytest.raises(OSError, match="disk full"):
        calls.clear()
        voc.convert(ann, img, tmp_path / "new", voc.ClassMap({0: "plate"}))
    assert not (tmp_path / "new").exists()  # no partial dataset


def test_output_overlapping_the_inputs_or_holding_other_files_is_refused(tmp_path):
    ann, img = _tiny_voc(tmp_path / "raw")
    inputs = _tree(tmp_path / "raw")
    cm = voc.ClassMap({0: "plate"})
    for out, what in (
        (tmp_path / "raw", "contains the input image folder"),
        (img, "contains the input image folder"),
        (ann, "contains the input annotation folder"),
        (img / "yolo", "inside the input image folder"),
    ):
        with pytest.raises(ValueError, match=what) as err:
            voc.convert(ann, img, out, cm)
        assert str(err.value).startswith(f"{out}:") and "\n" not in str(err.value)
    assert _tree(tmp_path / "raw") == inputs
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("keep me")
    with pytest.raises(ValueError, match="todo.txt"):
        voc.convert(ann, img, tmp_path / "notes", cm)
    assert (tmp_path / "notes" / "todo.txt").read_text() == "keep me"
    (tmp_path / "empty").mkdir()
    voc.convert(ann, img, tmp_path / "empty", cm)  # an empty folder is fine
    assert (tmp_path / "empty" / "labels/train/a.txt").is_file()


@pytest.mark.parametrize(
    "text, what", [("", "empty YAML file"), ("names: [plate\n", "not valid YAML"), ("- plate\n", "mapping")]
)
def test_class_map_from_bad_yaml_names_the_file(tmp_path, text, what):
    p = tmp_path / "data.yaml"
    p.write_text(text)
    with pytest.raises(ValueError, match=what) as err:
        voc.ClassMap.from_config(p)
    assert str(err.value).startswith(f"{p}: ") and "\n" not in str(err.value)
