"""fpblur.training.data.wider: annotation parsing, YOLO export, statistics, and the whole prepare() against 127.0.0.1."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from fpblur.training.data import fixtures, wider
from fpblur.training.data.server import serve

# box lines end in a space, as in the real wider_face_*_bbx_gt.txt files
GT = """0--Parade/0_Parade_marchingband_1_5.jpg
0
0 0 0 0 0 0 0 0 0 0 
0--Parade/0_Parade_marchingband_1_6.jpg
3
10 20 30 40 1 0 0 0 2 0 
5 5 0 12 0 0 0 0 0 0 
50 60 20 25 0 1 1 1 0 1 
1--Handshaking/1_Handshaking_7.jpg
0
0 0 0 0 0 0 0 0 0 0 
"""  # noqa: W291


def test_parser_zero_face_images_and_attributes(tmp_path):
    p = tmp_path / "gt.txt"
    p.write_text(GT)
    images = wider.parse_annotations(p)
    assert [i.rel for i in images] == [
        "0--Parade/0_Parade_marchingband_1_5.jpg",
        "0--Parade/0_Parade_marchingband_1_6.jpg",
        "1--Handshaking/1_Handshaking_7.jpg",
    ]
    assert images[0].boxes.shape == (0, 4) and images[2].attrs.shape == (0, 6)
    np.testing.assert_array_equal(images[1].boxes[0], [10, 20, 30, 40])
    assert dict(zip(wider.ATTRS, images[1].attrs[0])) == {
        "blur": 1,
        "expression": 0,
        "illumination": 0,
        "invalid": 0,
        "occlusion": 2,
        "pose": 0,
    }
    assert images[1].attrs[2][wider.ATTRS.index("invalid")] == 1


def test_filter_drops_invalid_degenerate_and_small():
    boxes = np.array([[0, 0, 30, 40], [0, 0, 0, 12], [0, 0, 20, 25], [0, 0, 5, 30], [0, 0, 9, -1]], dtype=np.float32)
    attrs = np.zeros((5, 6), dtype=np.int16)
    attrs[2, 3] = 1  # invalid
    assert wider.box_filter(boxes, attrs, min_size=6) == ["", "degenerate", "invalid", "small", "degenerate"]
    assert wider.box_filter(boxes, attrs, drop_invalid=False) == ["", "degenerate", "", "", "degenerate"]


@pytest.mark.parametrize(
    "text, where",
    [
        ("a.jpg\nx\n", ":2:"),
        ("a.jpg\n2\n1 2 3 4 0 0 0 0 0 0\n", "announces 2 faces"),
        ("a.jpg\n1\n1 2 three 4\n", ":3:"),
    ],
)
def test_parser_reports_file_and_line(tmp_path, text, where):
    p = tmp_path / "gt.txt"
    p.write_text(text)
    with pytest.raises(wider.WiderFormatError, match=where) as err:
        wider.parse_annotations(p)
    assert str(p) in str(err.value)


def test_prepare_downloads_extracts_and_writes_yolo(tmp_path, no_network):
    mini = fixtures.make_mini_wider(tmp_path / "srv")
    with serve(mini.folder) as server:
        export = wider.prepare(
            tmp_path / "raw", tmp_path / "yolo", mini.sources(server.url), progress=False, min_size=4
        )
        assert {e[0] for e in server.log} == {"/WIDER_train.zip", "/WIDER_val.zip", "/wider_face_split.zip"}
        server.log.clear()
        wider.prepare(tmp_path / "raw", tmp_path / "yolo2", mini.sources(server.url), progress=False)
        assert server.log == []  # archives present and valid: nothing fetched again
    out = tmp_path / "yolo"
    assert export.missing_images == [] and sum(export.link_methods.values()) == 5
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert data["names"] == {0: "face"} and data["train"] == "images/train" and data["val"] == "images/val"
    # zero-face image: an empty label file (a background image), its picture linked
    assert (out / "labels/train/0--Parade/0_Parade_b_2.txt").read_text() == ""
    assert (out / "images/train/0--Parade/0_Parade_b_2.jpg").is_file()
    # invalid, degenerate and (min_size=4) tiny boxes dropped; the box leaving the 300×200 image clipped
    rows = [
        list(map(float, ln.split()))
        for ln in (out / "labels/train/1--Handshaking/1_Handshaking_c_3.txt").read_text().splitlines()
    ]
    assert len(rows) == 1
    c, cx, cy, w, h = rows[0]
    assert c == 0 and cx + w / 2 == pytest.approx(1.0) and cy + h / 2 == pytest.approx(1.0)
    assert (w, h) == (pytest.approx(30 / 300), pytest.approx(50 / 200))
    first = [
        list(map(float, ln.split()))
        for ln in (out / "labels/train/0--Parade/0_Parade_a_1.txt").read_text().splitlines()
    ]
    assert first[0] == pytest.approx([0, 70 / 320, 85 / 240, 60 / 320, 70 / 240], abs=1e-6)

    s = wider.summary(export.boxes)
    assert s.loc["train", "images"] == 3 and s.loc["train", "images_without_faces"] == 1
    assert s.loc["train", ["dropped_invalid", "dropped_degenerate", "dropped_small", "clipped"]].tolist() == [
        1,
        1,
        1,
        1,
    ]
    assert s.loc["val", "kept"] == 1
    attrs = wider.attribute_counts(export.boxes)
    assert attrs.loc[("occlusion", 2), "train"] == 1 and attrs.loc[("blur", 1), "train"] == 1
    fig = wider.plot_stats(export.boxes)
    assert len(fig.axes) == 3


def test_sources_from_urls_and_defaults():
    src = wider.sources_from_urls(
        {"train": "http://127.0.0.1:1/x/WIDER_train.zip?dl=1"}, {"train": "sha256:ab"}, {"train": 5}
    )
    assert src["train"].name == "WIDER_train.zip" and src["train"].size == 5
    assert set(wider.DEFAULT_SOURCES) == {"train", "val", "split"}
    assert all(r.urls[0].startswith("https://") for r in wider.DEFAULT_SOURCES.values())


def test_to_yolo_normalises_by_the_displayed_size_of_exif_rotated_images(tmp_path):
    from PIL import Image

    img = Image.fromarray(fixtures.pattern(0, 60, 40))
    exif = img.getexif()
    exif[0x0112] = 6  # stored 60×40, displayed (and trained on) as 40×60
    (tmp_path / "src").mkdir()
    img.save(tmp_path / "src" / "r.jpg", exif=exif)
    face = wider.WiderImage("r.jpg", np.array([[5, 10, 20, 45]], np.float32), np.zeros((1, 6), np.int16))
    export = wider.to_yolo({"train": ([face], tmp_path / "src")}, tmp_path / "yolo", progress=False)
    rows = [list(map(float, ln.split())) for ln in (tmp_path / "yolo/labels/train/r.txt").read_text().splitlines()]
    assert rows == [pytest.approx([0, 15 / 40, 32.5 / 60, 20 / 40, 45 / 60], abs=1e-6)]
    assert not export.boxes["clipped"].any()  # the box fits the displayed 40×60 (not the stored 60×40)
