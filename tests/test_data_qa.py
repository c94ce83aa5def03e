"""fpblur.training.data.qa: every finding type on a crafted dataset, CSV/plots, and fix() into a new folder only."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
import yaml

from fpblur.training.data import fixtures, qa


@pytest.fixture(scope="module")
def flawed(tmp_path_factory):
    root = fixtures.make_flawed_yolo(tmp_path_factory.mktemp("qa") / "ds")
    return root, qa.audit(root)


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def test_every_finding_type_is_reported(flawed):
    root, rep = flawed
    counts = rep.counts()
    assert list(counts.index) == list(qa.CHECKS)
    assert (counts > 0).all(), counts[counts == 0]
    f = rep.findings
    lines = (
        f[f["image"] == "images/train/flaws.jpg"]
        .groupby("check")["line"]
        .apply(lambda s: sorted(s.dropna().astype(int)))
    )
    assert lines["duplicate_box"] == [2] and lines["out_of_range"] == [3] and lines["degenerate"] == [4]
    assert lines["tiny_box"] == [5] and lines["unknown_class"] == [6] and lines["malformed"] == [7]
    assert lines["aspect_outlier"] == [8] and 9 in lines["size_outlier"]
    by_check = f.set_index("check")
    assert by_check.loc["image_without_label", "image"] == "images/train/no_label.jpg"
    assert by_check.loc["label_without_image", "label"] == "labels/train/orphan.txt"
    assert by_check.loc["unreadable_image", "image"] == "images/train/broken.jpg"
    assert by_check.loc["duplicate_across_splits", "image"] == "images/val/copy_of_ok_0.jpg"
    assert by_check.loc["near_duplicate_across_splits", "image"] == "images/val/resized_ok_1.jpg"
    # the ordinary boxes are not flagged
    assert not f["image"].str.contains("/ok_").any()


def test_csv_and_plot(flawed, tmp_path):
    _, rep = flawed
    path = rep.to_csv(tmp_path / "report" / "qa.csv")
    back = pd.read_csv(path)
    assert list(back.columns) == qa.FINDING_COLUMNS and len(back) == len(rep.findings)
    fig = rep.plot()
    assert len(fig.axes) == 3


def test_fix_writes_a_clean_copy_and_leaves_the_source_alone(flawed, tmp_path):
    root, rep = flawed
    before = _tree_digest(root)
    res = qa.fix(root, tmp_path / "clean", rep)
    assert _tree_digest(root) == before
    dst = res.dst
    after = qa.audit(dst)
    remaining = after.counts()
    fixed = [
        "malformed",
        "unknown_class",
        "degenerate",
        "out_of_range",
        "duplicate_box",
        "tiny_box",
        "image_without_label",
        "label_without_image",
        "unreadable_image",
        "duplicate_across_splits",
        "near_duplicate_across_splits",
    ]
    assert (remaining[fixed] == 0).all(), remaining
    assert remaining["aspect_outlier"] >= 1  # outliers are only flagged, kept for a human to look at
    assert (dst / "labels/train/no_label.txt").read_text() == ""
    assert not (dst / "images/val/copy_of_ok_0.jpg").exists() and not (dst / "images/train/broken.jpg").exists()
    assert not (dst / "labels/train/orphan.txt").exists()
    flaws = (dst / "labels/train/flaws.txt").read_text().splitlines()
    assert len(flaws) == 4  # 9 lines: duplicate, degenerate, tiny, unknown, malformed dropped; out-of-range clipped
    assert yaml.safe_load((dst / "data.yaml").read_text())["path"] == str(dst.resolve())
    assert res.summary["box_dropped"] == 5 and res.summary["box_clipped"] == 1 and res.summary["image_dropped"] == 3
    table = qa.before_after(rep, after)
    assert list(table.columns) == ["before", "after"] and table.loc["malformed", "before"] == 1


def test_fix_options(flawed, tmp_path):
    root, rep = flawed
    res = qa.fix(root, tmp_path / "c2", rep, drop_outliers=True, drop_tiny=False, leakage="keep")
    assert (res.dst / "images/val/copy_of_ok_0.jpg").exists()
    assert res.summary["image_dropped"] == 1  # only the unreadable one
    assert (
        len((res.dst / "labels/train/flaws.txt").read_text().splitlines()) == 2
    )  # outliers (incl. the tiny one) dropped


def test_fix_refuses_in_place_existing_or_nested_destinations(flawed, tmp_path):
    root, _ = flawed
    with pytest.raises(FileExistsError, match="in place"):
        qa.fix(root, root)
    with pytest.raises(FileExistsError, match="in place"):
        qa.fix(root, root / ".")
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="exists"):
        qa.fix(root, tmp_path / "taken")
    with pytest.raises(ValueError, match="inside"):
        qa.fix(root, root / "cleaned")
    assert not (root / "cleaned").exists()
    with pytest.raises(FileNotFoundError):
        qa.fix(tmp_path / "nope", tmp_path / "out")


def test_names_from_config_and_clean_dataset(tmp_path):
    root = tmp_path / "ds"
    for i in range(3):
        fixtures.save_jpeg(fixtures.pattern(i), root / "images/train" / f"{i}.jpg")
        (root / "labels/train").mkdir(parents=True, exist_ok=True)
        (root / "labels/train" / f"{i}.txt").write_text("1 0.5 0.5 0.2 0.1\n")
    assert qa.audit(root).findings.empty  # no data.yaml: any class id accepted
    assert set(qa.audit(root, qa.QAConfig(names={0: "plate"})).findings["check"]) == {"unknown_class"}


def test_audit_uses_the_displayed_size_of_exif_rotated_images(tmp_path):
    from PIL import Image

    root = tmp_path / "ds"
    (root / "images/train").mkdir(parents=True)
    (root / "labels/train").mkdir(parents=True)
    img = Image.fromarray(fixtures.pattern(0, 60, 40))
    exif = img.getexif()
    exif[0x0112] = 6  # stored 60×40, displayed (and trained on) as 40×60
    img.save(root / "images/train/r.jpg", exif=exif)
    (root / "labels/train/r.txt").write_text("0 0.5 0.5 0.5 0.05\n")  # 20 × 3 px as displayed
    rep = qa.audit(root, qa.QAConfig(tiny_px=2.5))
    assert rep.images[["width", "height"]].values.tolist() == [[40, 60]]
    assert rep.boxes[["px_w", "px_h"]].values.tolist() == [[pytest.approx(20), pytest.approx(3)]]
    assert rep.findings.empty  # with the stored 60×40 the box would be 2 px high: a false tiny_box


def test_fix_reports_the_image_level_reason_for_a_dropped_image(tmp_path):
    root = tmp_path / "ds"
    (root / "images/train").mkdir(parents=True)
    (root / "labels/train").mkdir(parents=True)
    fixtures.save_jpeg(fixtures.pattern(1), root / "images/train/ok.jpg")
    (root / "labels/train/ok.txt").write_text("0 0.5 0.5 0.2 0.1\n")
    (root / "images/train/bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / "labels/train/bad.txt").write_text("0 0.5\n")  # a malformed line: reported before unreadable_image
    rep = qa.audit(root)
    assert rep.findings.loc[rep.findings["image"] == "images/train/bad.jpg", "check"].tolist()[0] == "malformed"
    res = qa.fix(root, tmp_path / "clean", rep)
    dropped = res.actions[res.actions["action"] == "image_dropped"]
    assert dropped[["image", "check"]].values.tolist() == [["images/train/bad.jpg", "unreadable_image"]]


def test_fix_rejects_an_unknown_leakage_mode(flawed, tmp_path):
    root, rep = flawed
    with pytest.raises(ValueError, match="leakage must be 'drop' or 'keep'"):
        qa.fix(root, tmp_path / "c3", rep, leakage="remove")
    assert not (tmp_path / "c3").exists()
