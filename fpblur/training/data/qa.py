"""Label QA over a YOLO dataset (``images/<split>``, ``labels/<split>``, optional ``data.yaml``) and ``fix``.

:func:`audit` returns a :class:`QAReport` whose ``findings`` DataFrame has one row per problem; ``check`` is
one of :data:`CHECKS`.  :func:`fix` writes a cleaned copy into a new folder (never in place).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from fpblur.core.boxes import iou_matrix
from fpblur.training.data.download import link_or_copy
from fpblur.training.data.hashing import near_duplicate_pairs, phash, sha256_file
from fpblur.training.data.paths import require_path
from fpblur.training.data.yolo import (
    SPLITS,
    clip_xyxy,
    cxcywh_to_xyxy,
    format_labels,
    label_for,
    list_images,
    read_labels,
    read_names,
    write_data_yaml,
    xyxy_to_cxcywh,
)
from fpblur.training.eval.datasets import image_size

CHECKS = (
    "malformed",  # a label line that is not 'class cx cy w h'
    "unknown_class",  # class id not in names
    "degenerate",  # w or h ≤ 0
    "out_of_range",  # box reaches outside [0, 1]
    "duplicate_box",  # same class, IoU ≥ duplicate_iou with an earlier box of the image
    "tiny_box",  # narrower or lower than tiny_px pixels
    "aspect_outlier",  # robust z-score of log aspect ratio (per class)
    "size_outlier",  # robust z-score of log √area (per class)
    "image_without_label",  # no label file (Ultralytics would treat it as background)
    "label_without_image",
    "unreadable_image",
    "duplicate_across_splits",  # byte-identical image in two splits
    "near_duplicate_across_splits",  # perceptual-hash neighbour in another split
)
# what fix() does with the boxes of each check (image-level checks are handled separately)
BOX_ACTIONS = {
    "malformed": "drop",
    "unknown_class": "drop",
    "degenerate": "drop",
    "out_of_range": "clip",
    "duplicate_box": "drop",
    "tiny_box": "drop",
    "aspect_outlier": "keep",
    "size_outlier": "keep",
}
LEAKAGE_CHECKS = ("duplicate_across_splits", "near_duplicate_across_splits")  # fix(leakage="drop") drops these images
FINDING_COLUMNS = ["split", "image", "label", "line", "check", "detail", "class_id"]


@dataclass
class QAConfig:
    """Thresholds of the checks.

    Attributes:
        names: ``{class id: name}`` (default: ``data.yaml``'s names, else any id is accepted).
        splits: the splits to audit.
        tiny_px: a box narrower or lower than this many pixels is ``tiny_box``.
        duplicate_iou: IoU at or above which a same-class box of the same image is ``duplicate_box``.
        outlier_z: ``|modified z-score|`` above which a box's log aspect ratio or log relative size is an outlier
            (Iglewicz & Hoaglin 1993: 0.6745·(x − median)/MAD; 3.5 is their recommended cut-off).
        min_outlier_samples: classes with fewer boxes are not checked for outliers.
        phash_threshold: pHash bit distance up to which images of two splits are near duplicates.
        tolerance: how far outside [0, 1] a normalised coordinate may reach and still count as inside.
    """

    names: dict[int, str] | None = None  # default: data.yaml's names, else any id is accepted
    splits: Sequence[str] = SPLITS
    tiny_px: float = 4.0
    duplicate_iou: float = 0.9
    outlier_z: float = 3.5
    min_outlier_samples: int = 8
    phash_threshold: int = 6
    tolerance: float = 1e-3  # how far outside [0, 1] still counts as inside


@dataclass
class QAReport:
    """The result of :func:`audit`: ``findings`` (:data:`FINDING_COLUMNS`, one row per problem), every parsed box
    (``boxes``; ``px_w``/``px_h`` in pixels of the image as displayed) and every image (``images``: size, sha256,
    pHash, readable).
    """

    root: Path
    findings: pd.DataFrame
    boxes: (
        pd.DataFrame
    )  # every parsed box: split, image, label, line, class_id, cx, cy, w, h, width, height, px_w, px_h
    images: pd.DataFrame  # split, image, label, width, height, sha256, phash, readable

    def counts(self) -> pd.Series:
        """Findings per check, every check of :data:`CHECKS` listed in order (0 when absent)."""
        return self.findings["check"].value_counts().reindex(list(CHECKS), fill_value=0).rename("findings")

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write the findings to ``path`` as CSV (folder created); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.findings.to_csv(path, index=False)
        return path

    def plot(self):
        """A matplotlib figure: findings per check, box sizes in pixels (outliers and tiny boxes marked) and a
        histogram of log2 aspect ratios.
        """
        import matplotlib.pyplot as plt  # optional: [train] extra

        fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
        c = self.counts()
        axes[0].barh(c.index, c.to_numpy(), color=["tab:red" if v else "tab:gray" for v in c.to_numpy()])
        axes[0].invert_yaxis()
        axes[0].set(title="findings per check", xlabel="count")
        b = self.boxes[(self.boxes["px_w"] > 0) & (self.boxes["px_h"] > 0)]
        flagged = set(
            map(
                tuple,
                self.findings.loc[
                    self.findings["check"].isin(["aspect_outlier", "size_outlier", "tiny_box"]),
                    ["split", "image", "line"],
                ].itertuples(index=False),
            )
        )
        mask = np.array(
            [(s, i, ln) in flagged for s, i, ln in b[["split", "image", "line"]].itertuples(index=False)], dtype=bool
        )
        axes[1].scatter(b["px_w"][~mask], b["px_h"][~mask], s=10, label="ok")
        axes[1].scatter(b["px_w"][mask], b["px_h"][mask], s=30, c="tab:red", marker="x", label="outlier / tiny")
        axes[1].set(title="box size (pixels)", xlabel="width", ylabel="height", xscale="log", yscale="log")
        axes[1].legend()
        axes[2].hist(np.log2(b["px_w"] / b["px_h"]), bins=30)
        axes[2].set(title="aspect ratio", xlabel="log2(width / height)", ylabel="boxes")
        fig.tight_layout()
        return fig


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    mad = np.median(np.abs(x - med))
    if mad > 0:
        return 0.6745 * (x - med) / mad
    mean_ad = np.mean(np.abs(x - med))
    return (x - med) / (1.2533 * mean_ad) if mean_ad > 0 else np.zeros_like(x)


def audit(root: str | os.PathLike, cfg: QAConfig | None = None) -> QAReport:
    """Run every check of :data:`CHECKS` over the YOLO dataset at ``root``.

    Outliers use the modified z-score of Iglewicz & Hoaglin (1993) per class (see :class:`QAConfig`); leakage
    compares sha256 digests and pHashes (``imagehash``) between splits.

    Args:
        root: the dataset folder (``images/<split>``, ``labels/<split>``, optional ``data.yaml``).
        cfg: the thresholds (default :class:`QAConfig`).

    Returns:
        The :class:`QAReport`, findings sorted by check (in :data:`CHECKS` order), split, image and line.

    Raises:
        FileNotFoundError: no such dataset folder (one line, checked first: not an empty report).
        ValueError: a ``data.yaml`` that is empty or not a YAML mapping (when ``cfg.names`` is not given).
    """
    cfg = cfg or QAConfig()
    root = require_path(root, "folder")
    names = cfg.names if cfg.names is not None else read_names(root)
    findings: list[dict] = []
    box_rows: list[dict] = []
    img_rows: list[dict] = []

    def add(split, image, label, line, check, detail, class_id=None):
        findings.append(
            {
                "split": split,
                "image": image,
                "label": label,
                "line": line,
                "check": check,
                "detail": detail,
                "class_id": class_id,
            }
        )

    for split in cfg.splits:
        img_dir, lab_dir = root / "images" / split, root / "labels" / split
        images = list_images(img_dir)
        stems = {label_for(p, root, split) for p in images}
        for lab in sorted(lab_dir.rglob("*.txt")) if lab_dir.is_dir() else []:
            if lab not in stems:
                add(split, "", str(lab.relative_to(root)), None, "label_without_image", "no image with this name")
        for img in images:
            rel_img, lab = str(img.relative_to(root)), label_for(img, root, split)
            rel_lab = str(lab.relative_to(root))
            info = {
                "split": split,
                "image": rel_img,
                "label": rel_lab,
                "width": None,
                "height": None,
                "sha256": sha256_file(img),
                "phash": None,
                "readable": True,
            }
            try:
                with Image.open(img) as im:
                    im.load()
                    info["phash"] = phash(im)
                info["width"], info["height"] = image_size(img)  # as displayed (EXIF orientation), like the labels
            except Exception as exc:  # PIL raises many types for bad files
                info["readable"] = False
                add(split, rel_img, rel_lab, None, "unreadable_image", f"{type(exc).__name__}: {exc}"[:200])
            img_rows.append(info)
            if not lab.is_file():
                add(split, rel_img, "", None, "image_without_label", "no label file (background image?)")
                continue
            _check_lines(
                split, rel_img, rel_lab, read_labels(lab), info["width"], info["height"], names, cfg, add, box_rows
            )

    boxes = pd.DataFrame(
        box_rows,
        columns=[
            "split",
            "image",
            "label",
            "line",
            "class_id",
            "cx",
            "cy",
            "w",
            "h",
            "width",
            "height",
            "px_w",
            "px_h",
        ],
    )
    _outliers(boxes, cfg, add)
    images_df = pd.DataFrame(
        img_rows, columns=["split", "image", "label", "width", "height", "sha256", "phash", "readable"]
    )
    _leakage(images_df, cfg, add)
    found = pd.DataFrame(findings, columns=FINDING_COLUMNS).astype({"line": "Int64", "class_id": "Int64"})
    order = {c: i for i, c in enumerate(CHECKS)}
    found = found.sort_values(
        ["check", "split", "image", "line"], key=lambda s: s.map(order) if s.name == "check" else s
    ).reset_index(drop=True)
    return QAReport(root, found, boxes, images_df)


def _check_lines(split, rel_img, rel_lab, lines, W, H, names, cfg: QAConfig, add, box_rows) -> None:
    valid: list[tuple[int, int, np.ndarray]] = []  # (line, class, xyxy) for the duplicate check
    tol = cfg.tolerance
    for ln in lines:
        if ln.class_id is None:
            add(split, rel_img, rel_lab, ln.line, "malformed", repr(ln.text)[:80])
            continue
        cx, cy, w, h = ln.box
        cid = ln.class_id
        if names is not None and cid not in names:
            add(split, rel_img, rel_lab, ln.line, "unknown_class", f"class {cid} not in {sorted(names)}", cid)
        if w <= 0 or h <= 0:
            add(split, rel_img, rel_lab, ln.line, "degenerate", f"w={w:g} h={h:g}", cid)
            continue
        xyxy = cxcywh_to_xyxy(ln.box)[0]
        x0, y0, x1, y1 = xyxy
        if min(x0, y0) < -tol or max(x1, y1) > 1 + tol:
            add(split, rel_img, rel_lab, ln.line, "out_of_range", f"xyxy=({x0:.3f}, {y0:.3f}, {x1:.3f}, {y1:.3f})", cid)
        px_w, px_h = (w * W, h * H) if W else (np.nan, np.nan)
        if W and min(px_w, px_h) < cfg.tiny_px:
            add(split, rel_img, rel_lab, ln.line, "tiny_box", f"{px_w:.1f}×{px_h:.1f} px < {cfg.tiny_px:g}", cid)
        for other_line, other_cid, other in valid:
            if (
                other_cid == cid
                and iou_matrix(xyxy[None].astype(np.float32), other[None].astype(np.float32))[0, 0] >= cfg.duplicate_iou
            ):
                add(split, rel_img, rel_lab, ln.line, "duplicate_box", f"same as line {other_line}", cid)
                break
        else:
            valid.append((ln.line, cid, xyxy))
        box_rows.append(
            {
                "split": split,
                "image": rel_img,
                "label": rel_lab,
                "line": ln.line,
                "class_id": cid,
                "cx": cx,
                "cy": cy,
                "w": w,
                "h": h,
                "width": W,
                "height": H,
                "px_w": px_w,
                "px_h": px_h,
            }
        )


def _outliers(boxes: pd.DataFrame, cfg: QAConfig, add) -> None:
    ok = boxes[(boxes["px_w"] > 0) & (boxes["px_h"] > 0)]
    for cid, g in ok.groupby("class_id"):
        if len(g) < cfg.min_outlier_samples:
            continue
        for check, values, what in (
            ("aspect_outlier", np.log(g["px_w"] / g["px_h"]).to_numpy(), "aspect"),
            ("size_outlier", np.log(np.sqrt(g["w"] * g["h"])).to_numpy(), "relative size"),
        ):
            z = _robust_z(values)
            for (_, r), zi, v in zip(g.iterrows(), z, values):
                if abs(zi) > cfg.outlier_z:
                    add(
                        r["split"],
                        r["image"],
                        r["label"],
                        r["line"],
                        check,
                        f"{what} {np.exp(v):.3g}, robust z={zi:+.1f}",
                        int(cid),
                    )


def _leakage(images: pd.DataFrame, cfg: QAConfig, add) -> None:
    splits = list(dict.fromkeys(images["split"]))
    for i, a in enumerate(splits):
        for b in splits[i + 1 :]:
            A, B = images[images["split"] == a], images[images["split"] == b]
            exact = set()
            for _, rb in B[B["sha256"].isin(set(A["sha256"]))].iterrows():
                ra = A[A["sha256"] == rb["sha256"]].iloc[0]
                exact.add((ra["image"], rb["image"]))
                add(b, rb["image"], rb["label"], None, "duplicate_across_splits", f"same bytes as {ra['image']}")
            ha = dict(zip(A["image"], A["phash"]))
            hb = dict(zip(B["image"], B["phash"]))
            ha = {k: v for k, v in ha.items() if isinstance(v, str)}
            hb = {k: v for k, v in hb.items() if isinstance(v, str)}
            seen = set()
            for ia, ib, dist in near_duplicate_pairs(ha, hb, cfg.phash_threshold):
                if (ia, ib) in exact or ib in seen:
                    continue
                seen.add(ib)
                label = B.loc[B["image"] == ib, "label"].iloc[0]
                add(b, ib, label, None, "near_duplicate_across_splits", f"pHash distance {dist} to {ia}")


# ---------------------------------------------------------------------------------------------------------------
# fix


@dataclass
class FixResult:
    """What :func:`fix` did: the new dataset folder ``dst``, one row per action (``split, image, line, check,
    action``) and the number of actions of each kind (``summary``).
    """

    dst: Path
    actions: pd.DataFrame  # split, image, line, check, action
    summary: pd.Series = field(default_factory=lambda: pd.Series(dtype=int))


def fix(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    report: QAReport | None = None,
    *,
    cfg: QAConfig | None = None,
    drop_tiny: bool = True,
    drop_outliers: bool = False,
    leakage: str = "drop",  # "drop": remove the later split's copy of a leaked image; "keep"
    link: str = "auto",
) -> FixResult:
    """Write a cleaned copy of the dataset at ``src`` into the new folder ``dst`` (never in place).

    Malformed, unknown-class, degenerate, duplicate and (``drop_tiny``) tiny boxes are dropped, boxes out of
    range are clipped, outliers are kept unless ``drop_outliers``; unreadable images, labels without images
    and (``leakage="drop"``) the later split's copy of an image leaked across splits are left out; images
    without a label file get an empty one.  The copy is built in a temporary folder beside ``dst`` and renamed
    into place, so a failure leaves no ``dst``.

    Args:
        src: the dataset folder.
        dst: the new folder.
        report: the audit of ``src`` (default: run :func:`audit` now).
        cfg: thresholds and splits (default :class:`QAConfig`).
        drop_tiny: drop ``tiny_box`` boxes.
        drop_outliers: drop ``aspect_outlier``/``size_outlier`` boxes.
        leakage: ``"drop"`` or ``"keep"`` images leaked across splits.
        link: how images are placed (:func:`~fpblur.training.data.download.link_or_copy`).

    Returns:
        The :class:`FixResult`.

    Raises:
        ValueError: an unknown ``leakage``, or ``dst`` inside ``src``.
        FileExistsError: ``dst`` exists or equals ``src``.
        FileNotFoundError: ``src`` is not a folder.
    """
    if leakage not in ("drop", "keep"):
        raise ValueError(f"leakage must be 'drop' or 'keep', not {leakage!r}")
    src, dst = Path(src), Path(dst)
    if dst.resolve() == src.resolve():
        raise FileExistsError(f"{dst}: fix never works in place; give a new destination folder")
    if dst.exists() or dst.is_symlink():
        raise FileExistsError(f"{dst}: destination exists; fix writes a new folder only")
    if src.resolve() in dst.resolve().parents:
        raise ValueError(f"{dst}: destination lies inside the source dataset {src}")
    if not src.is_dir():
        raise FileNotFoundError(f"{src}: no such dataset folder")
    cfg = cfg or QAConfig()
    report = report or audit(src, cfg)
    f = report.findings
    box_checks = dict(BOX_ACTIONS)
    if not drop_tiny:
        box_checks["tiny_box"] = "keep"
    if drop_outliers:
        box_checks["aspect_outlier"] = box_checks["size_outlier"] = "drop"
    per_line: dict[tuple[str, int], list[str]] = {}
    for r in f[f["line"].notna()].itertuples(index=False):
        per_line.setdefault((r.label, int(r.line)), []).append(r.check)
    drop_checks = ["unreadable_image"] + (list(LEAKAGE_CHECKS) if leakage == "drop" else [])
    image_drops = f[f["check"].isin(drop_checks)]  # in CHECKS order: an unreadable image is reported as such
    skip_images = set(image_drops["image"])

    actions: list[dict] = []
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", dir=dst.parent))
    try:
        for split in cfg.splits:
            for img in list_images(src / "images" / split):
                rel_img = str(img.relative_to(src))
                if rel_img in skip_images:
                    why = image_drops.loc[image_drops["image"] == rel_img, "check"].iloc[0]
                    actions.append(
                        {"split": split, "image": rel_img, "line": None, "check": why, "action": "image_dropped"}
                    )
                    continue
                link_or_copy(img, tmp / img.relative_to(src), link)
                lab = label_for(img, src, split)
                out_lab = label_for(tmp / img.relative_to(src), tmp, split)
                out_lab.parent.mkdir(parents=True, exist_ok=True)
                if not lab.is_file():
                    out_lab.write_text("")
                    actions.append(
                        {
                            "split": split,
                            "image": rel_img,
                            "line": None,
                            "check": "image_without_label",
                            "action": "empty_label_written",
                        }
                    )
                    continue
                rel_lab = str(lab.relative_to(src))
                kept_ids, kept_boxes = [], []
                for ln in read_labels(lab):
                    checks = per_line.get((rel_lab, ln.line), [])
                    todo = [box_checks.get(c, "keep") for c in checks]
                    if "drop" in todo or ln.class_id is None:
                        actions.append(
                            {
                                "split": split,
                                "image": rel_img,
                                "line": ln.line,
                                "check": ",".join(checks),
                                "action": "box_dropped",
                            }
                        )
                        continue
                    box = np.array(ln.box, dtype=np.float64)
                    if "clip" in todo:
                        clipped = clip_xyxy(cxcywh_to_xyxy(box), 1, 1)
                        x0, y0, x1, y1 = clipped[0]
                        if x1 - x0 <= 0 or y1 - y0 <= 0:
                            actions.append(
                                {
                                    "split": split,
                                    "image": rel_img,
                                    "line": ln.line,
                                    "check": ",".join(checks),
                                    "action": "box_dropped",
                                }
                            )
                            continue
                        box = xyxy_to_cxcywh(clipped, 1, 1)[0]
                        actions.append(
                            {
                                "split": split,
                                "image": rel_img,
                                "line": ln.line,
                                "check": ",".join(checks),
                                "action": "box_clipped",
                            }
                        )
                    kept_ids.append(ln.class_id)
                    kept_boxes.append(box)
                out_lab.write_text(format_labels(kept_ids, np.array(kept_boxes).reshape(-1, 4)))
        for r in f[f["check"] == "label_without_image"].itertuples(index=False):
            actions.append(
                {"split": r.split, "image": "", "line": None, "check": r.check, "action": f"label_dropped: {r.label}"}
            )
        names = cfg.names if cfg.names is not None else read_names(src)
        if names is not None:
            write_data_yaml(tmp / "data.yaml", dst.resolve(), names, splits=tuple(cfg.splits))
        os.rename(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    acts = pd.DataFrame(actions, columns=["split", "image", "line", "check", "action"]).astype({"line": "Int64"})
    summary = acts["action"].str.split(":").str[0].value_counts()
    return FixResult(dst, acts, summary)


def before_after(before: QAReport, after: QAReport) -> pd.DataFrame:
    """Findings per check before and after a fix, side by side (columns ``before``, ``after``)."""
    return pd.DataFrame({"before": before.counts(), "after": after.counts()})
