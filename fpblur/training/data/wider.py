"""WIDER FACE (Yang et al., "WIDER FACE: A Face Detection Benchmark", CVPR 2016): download, annotation
parsing, export to the YOLO layout, statistics and plots.

Annotation format (``wider_face_split/wider_face_{train,val}_bbx_gt.txt``), per image::

    0--Parade/0_Parade_marchingband_1_849.jpg
    1
    449 330 122 149 0 0 0 0 0 0

i.e. the image path, the face count N, then N lines ``x y w h blur expression illumination invalid occlusion
pose``.  An image with no face has N = 0 followed by one all-zero line.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fpblur.training.data.download import RemoteFile, download_all, extract_archive, link_or_copy
from fpblur.training.data.paths import require_path
from fpblur.training.data.yolo import clip_xyxy, write_data_yaml, write_labels, xyxy_to_cxcywh
from fpblur.training.eval.datasets import image_size

ATTRS = ("blur", "expression", "illumination", "invalid", "occlusion", "pose")
NAMES = {0: "face"}

# The one place that says where WIDER FACE comes from.  Checksums are the published MD5s of the original
# archives; pass other RemoteFiles (or ``sources_from_urls``) to use another mirror.
_HF = "https://huggingface.co/datasets/CUHK-CSE/wider_face/resolve/main/data/"
DEFAULT_SOURCES: dict[str, RemoteFile] = {
    "train": RemoteFile("WIDER_train.zip", (_HF + "WIDER_train.zip",), checksum="md5:3fedf70df600953d25982bcd13d91ba2"),
    "val": RemoteFile("WIDER_val.zip", (_HF + "WIDER_val.zip",), checksum="md5:dfa7d7e790efa35df3788964cf0bbaea"),
    "split": RemoteFile(
        "wider_face_split.zip",
        (_HF + "wider_face_split.zip", "http://shuoyang1213.me/WIDERFACE/support/bbx_annotation/wider_face_split.zip"),
        checksum="md5:0e3767bcf0e326556d407bf5bff5d27c",
    ),
}


def sources_from_urls(
    urls: Mapping[str, str | Iterable[str]],
    checksums: Mapping[str, str | None] | None = None,
    sizes: Mapping[str, int | None] | None = None,
) -> dict[str, RemoteFile]:
    """RemoteFiles for keys ``train``/``val``/``split`` from URL(s); file names are the URLs' last parts.

    Args:
        urls: per key, one URL or several mirrors.
        checksums: per key, ``"md5:<hex>"``/``"sha256:<hex>"`` (missing: not checked).
        sizes: per key, the size in bytes (missing: not checked).

    Raises:
        ValueError: a malformed checksum.
    """
    out = {}
    for key, u in urls.items():
        us = (u,) if isinstance(u, str) else tuple(u)
        name = us[0].rsplit("/", 1)[-1].split("?")[0]
        out[key] = RemoteFile(name, us, (sizes or {}).get(key), (checksums or {}).get(key))
    return out


@dataclass
class WiderImage:
    """One image of an annotation file: its path under ``WIDER_<split>/images/``, boxes (N×4 float32
    ``x, y, w, h`` pixels) and attributes (N×6 int16 in :data:`ATTRS` order).
    """

    rel: str  # path under WIDER_<split>/images/
    boxes: np.ndarray  # (N, 4) float32 x, y, w, h in pixels
    attrs: np.ndarray  # (N, 6) int16 in ATTRS order


class WiderFormatError(ValueError):
    """A malformed annotation file; the message names file and line."""


def parse_annotations(path: str | os.PathLike) -> list[WiderImage]:
    """Parse one ``wider_face_*_bbx_gt.txt`` (format in the module docstring).

    Returns:
        One :class:`WiderImage` per image, in file order; images with zero faces come back with empty arrays.

    Raises:
        WiderFormatError: a missing or non-numeric face count, a box line that is not numbers, or a file that
            ends before the announced boxes (the message names file and line).
        FileNotFoundError: no such file (one line).
        OSError: the file cannot be read.
    """
    path = require_path(path, "file")
    lines = [ln.strip() for ln in path.read_text().splitlines()]
    images: list[WiderImage] = []
    i = 0
    n_lines = len(lines)
    while i < n_lines:
        if not lines[i]:
            i += 1
            continue
        rel = lines[i]
        if i + 1 >= n_lines:
            raise WiderFormatError(f"{path}:{i + 1}: image {rel!r} has no face count")
        try:
            count = int(lines[i + 1])
        except ValueError:
            raise WiderFormatError(f"{path}:{i + 2}: expected a face count, got {lines[i + 1]!r}") from None
        i += 2
        rows = []
        for k in range(count):
            if i >= n_lines:
                raise WiderFormatError(f"{path}:{i}: {rel!r} announces {count} faces, file ends after {k}")
            rows.append(_box_row(path, i, lines[i]))
            i += 1
        if count == 0 and i < n_lines and _is_number_row(lines[i]):
            i += 1  # the all-zero placeholder line
        arr = np.array(rows, dtype=np.float64).reshape(-1, 10)
        images.append(WiderImage(rel, arr[:, :4].astype(np.float32), arr[:, 4:].astype(np.int16)))
    return images


def _is_number_row(text: str) -> bool:
    parts = text.split()
    return len(parts) >= 4 and all(p.lstrip("-").replace(".", "", 1).isdigit() for p in parts)


def _box_row(path: Path, i: int, text: str) -> list[float]:
    parts = text.split()
    if len(parts) < 4 or not _is_number_row(text):
        raise WiderFormatError(
            f"{path}:{i + 1}: expected 'x y w h blur expression illumination invalid occlusion pose', got {text!r}"
        )
    vals = [float(p) for p in parts[:10]]
    return vals + [0.0] * (10 - len(vals))


def box_filter(boxes: np.ndarray, attrs: np.ndarray, *, min_size: float = 0, drop_invalid: bool = True) -> list[str]:
    """Per box, ``""`` (kept) or why it is dropped: ``degenerate`` (w or h ≤ 0), ``invalid`` (WIDER's flag, when
    ``drop_invalid``) or ``small`` (shorter side under ``min_size`` pixels).

    Args:
        boxes: N×4 ``x, y, w, h`` pixels.
        attrs: N×6 attributes in :data:`ATTRS` order.
    """
    reasons = []
    for (_x, _y, w, h), a in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(attrs).reshape(-1, 6)):
        if not (w > 0 and h > 0):
            reasons.append("degenerate")
        elif drop_invalid and a[3] == 1:
            reasons.append("invalid")
        elif min(w, h) < min_size:
            reasons.append("small")
        else:
            reasons.append("")
    return reasons


def boxes_frame(
    images: Iterable[WiderImage], split: str = "", *, min_size: float = 0, drop_invalid: bool = True
) -> pd.DataFrame:
    """One row per box of ``images`` (columns ``split, image, faces, x, y, w, h``, :data:`ATTRS`, ``drop``).

    Images without faces give one row with NaN box, ``faces`` = 0, attributes -1 and ``drop`` = ``no_face``;
    ``drop`` is :func:`box_filter`'s reason otherwise.
    """
    recs = []
    for img in images:
        if len(img.boxes) == 0:
            recs.append(
                {
                    "split": split,
                    "image": img.rel,
                    "faces": 0,
                    "x": np.nan,
                    "y": np.nan,
                    "w": np.nan,
                    "h": np.nan,
                    **{a: -1 for a in ATTRS},
                    "drop": "no_face",
                }
            )
            continue
        for (x, y, w, h), a, why in zip(
            img.boxes, img.attrs, box_filter(img.boxes, img.attrs, min_size=min_size, drop_invalid=drop_invalid)
        ):
            recs.append(
                {
                    "split": split,
                    "image": img.rel,
                    "faces": len(img.boxes),
                    "x": float(x),
                    "y": float(y),
                    "w": float(w),
                    "h": float(h),
                    **{k: int(v) for k, v in zip(ATTRS, a)},
                    "drop": why,
                }
            )
    return pd.DataFrame.from_records(recs, columns=["split", "image", "faces", "x", "y", "w", "h", *ATTRS, "drop"])


@dataclass
class WiderExport:
    """What :func:`to_yolo` wrote: the dataset ``root`` and ``data_yaml``, every box with its fate
    (:func:`boxes_frame` rows plus ``clipped``; ``drop`` also ``outside`` for boxes empty after clipping), images
    listed but not found, and how many images were placed by each :func:`link_or_copy` method.
    """

    root: Path
    data_yaml: Path
    boxes: pd.DataFrame  # boxes_frame rows of all splits, plus ``clipped``
    missing_images: list[str] = field(default_factory=list)
    link_methods: dict[str, int] = field(default_factory=dict)


def to_yolo(
    splits: Mapping[str, tuple[list[WiderImage], str | os.PathLike]],
    out: str | os.PathLike,
    *,
    min_size: float = 0,
    drop_invalid: bool = True,
    link: str = "auto",
    progress: bool = True,
) -> WiderExport:
    """Write ``out/images/<split>/<rel>`` (linked) and ``out/labels/<split>/<rel>.txt`` (class 0 ``face``).

    Boxes are clipped to the image as displayed (EXIF orientation applied); invalid, degenerate, (optionally)
    small and, after clipping, empty boxes are dropped; images without faces get an empty label file
    (background images).  Also writes ``out/data.yaml``.

    Args:
        splits: split name → ``(parsed images, folder holding the images)``.
        out: the dataset folder.
        min_size: drop boxes whose shorter side is under this many pixels.
        drop_invalid: drop boxes WIDER flags invalid.
        link: how images are placed (:func:`~fpblur.training.data.download.link_or_copy`).
        progress: show tqdm bars.

    Returns:
        The :class:`WiderExport` (missing images are listed there, not raised).
    """
    out = Path(out)
    frames, missing, methods = [], [], {}
    for split, (images, image_root) in splits.items():
        image_root = Path(image_root)
        df = boxes_frame(images, split, min_size=min_size, drop_invalid=drop_invalid)
        df["clipped"] = False
        by_image = df.groupby("image", sort=False).indices
        for img in tqdm(images, desc=f"WIDER {split} → YOLO", disable=not progress, leave=False):
            src = image_root / img.rel
            if not src.is_file():
                missing.append(f"{split}/{img.rel}")
                continue
            width, height = image_size(src)  # as displayed (EXIF orientation applied), as Ultralytics reads it
            idx = by_image[img.rel]
            rows = df.iloc[idx]
            keep = (rows["drop"] == "").to_numpy()
            xywh = rows[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)[keep]
            xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
            clipped = clip_xyxy(xyxy, width, height)
            changed = np.any(np.abs(clipped - xyxy) > 1e-6, axis=1)
            ok = (clipped[:, 2] - clipped[:, 0] > 0) & (clipped[:, 3] - clipped[:, 1] > 0)
            kept_idx = idx[keep]
            df.loc[df.index[kept_idx[changed]], "clipped"] = True
            df.loc[df.index[kept_idx[~ok]], "drop"] = "outside"
            clipped = clipped[ok]
            cxcywh = xyxy_to_cxcywh(clipped, width, height)
            write_labels((out / "labels" / split / img.rel).with_suffix(".txt"), [0] * len(cxcywh), cxcywh)
            how = link_or_copy(src, out / "images" / split / img.rel, link)
            methods[how] = methods.get(how, 0) + 1
        frames.append(df)
    boxes = pd.concat(frames, ignore_index=True) if frames else boxes_frame([])
    data_yaml = write_data_yaml(out / "data.yaml", out.resolve(), NAMES, splits=tuple(splits))
    return WiderExport(out, data_yaml, boxes, missing, methods)


def prepare(
    root: str | os.PathLike,
    out: str | os.PathLike,
    sources: Mapping[str, RemoteFile] | None = None,
    *,
    splits: Iterable[str] = ("train", "val"),
    min_size: float = 0,
    drop_invalid: bool = True,
    link: str = "auto",
    progress: bool = True,
    **download_kwargs,
) -> WiderExport:
    """Download (or reuse) the WIDER FACE archives into ``root/downloads``, extract them into ``root``, parse
    the annotations and export the YOLO set to ``out`` (:func:`to_yolo`).

    Args:
        root: the download and extraction folder.
        out: the YOLO dataset folder.
        sources: ``train``/``val``/``split`` RemoteFiles (default :data:`DEFAULT_SOURCES`).
        splits: the splits to export.
        min_size, drop_invalid, link, progress: see :func:`to_yolo`.
        download_kwargs: options of :func:`~fpblur.training.data.download.download`.

    Returns:
        The :class:`WiderExport`.

    Raises:
        DownloadError: an archive cannot be fetched, verified or safely extracted.
        FileNotFoundError: no annotation file for a split after extraction.
        WiderFormatError: a malformed annotation file.
    """
    root = Path(root)
    sources = dict(sources or DEFAULT_SOURCES)
    splits = list(splits)
    wanted = [sources[s] for s in (*splits, "split")]
    paths = download_all(wanted, root / "downloads", progress=progress, **download_kwargs)
    for p in paths.values():
        extract_archive(p, root)
    parsed = {}
    for s in splits:
        ann = find_annotation_file(root, s)
        parsed[s] = (parse_annotations(ann), root / f"WIDER_{s}" / "images")
    return to_yolo(parsed, out, min_size=min_size, drop_invalid=drop_invalid, link=link, progress=progress)


def find_annotation_file(root: str | os.PathLike, split: str) -> Path:
    """The first ``wider_face_<split>_bbx_gt.txt`` under ``root`` (searched recursively, sorted).

    Raises:
        FileNotFoundError: there is none (``wider_face_split.zip`` not extracted there).
    """
    name = f"wider_face_{split}_bbx_gt.txt"
    hits = sorted(Path(root).rglob(name))
    if not hits:
        raise FileNotFoundError(f"{root}: no {name} found (is wider_face_split.zip extracted here?)")
    return hits[0]


# ---------------------------------------------------------------------------------------------------------------
# statistics


def summary(boxes: pd.DataFrame) -> pd.DataFrame:
    """Per split: images, images without faces, boxes, kept boxes, dropped boxes per reason, clipped boxes and the
    median kept face side √(w·h) in pixels.
    """
    rows = []
    for split, g in boxes.groupby("split", sort=False):
        real = g[g["drop"] != "no_face"]
        kept = real[real["drop"] == ""]
        rows.append(
            {
                "split": split,
                "images": g["image"].nunique(),
                "images_without_faces": int((g["drop"] == "no_face").sum()),
                "boxes": len(real),
                "kept": len(kept),
                **{
                    f"dropped_{r}": int((real["drop"] == r).sum())
                    for r in ("invalid", "degenerate", "small", "outside")
                },
                "clipped": int(real.get("clipped", pd.Series(dtype=bool)).fillna(False).astype(bool).sum()),
                "median_side_px": float(np.sqrt(kept["w"] * kept["h"]).median()) if len(kept) else np.nan,
            }
        )
    return pd.DataFrame(rows).set_index("split")


def attribute_counts(boxes: pd.DataFrame) -> pd.DataFrame:
    """Boxes per attribute value (rows: attribute, value; columns: splits; images without faces left out)."""
    real = boxes[boxes["drop"] != "no_face"]
    parts = []
    for a in ATTRS:
        c = real.groupby(["split", a]).size().rename("count").reset_index().rename(columns={a: "value"})
        c.insert(0, "attribute", a)
        parts.append(c)
    if not parts:
        return pd.DataFrame()
    table = pd.concat(parts).pivot_table(index=["attribute", "value"], columns="split", values="count", fill_value=0)
    return table.astype(int)


def plot_stats(boxes: pd.DataFrame):
    """A matplotlib figure with three panels: kept faces per image, face size √(w·h) in pixels (log scale) and
    the number of boxes with each non-zero attribute value.
    """
    import matplotlib.pyplot as plt  # optional: [train] extra

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    real = boxes[boxes["drop"] != "no_face"]
    kept = real[real["drop"] == ""]
    per_image = boxes.assign(k=(boxes["drop"] == "")).groupby(["split", "image"])["k"].sum()
    for split, counts in per_image.groupby(level=0):
        top = int(counts.max())
        bins = np.arange(top + 2) - 0.5 if top < 50 else 50
        axes[0].hist(counts.to_numpy(), bins=bins, alpha=0.6, label=str(split))
        side = np.sqrt(kept.loc[kept["split"] == split, "w"] * kept.loc[kept["split"] == split, "h"])
        if len(side):
            axes[1].hist(side, bins=np.logspace(0, np.log10(max(side.max(), 2)), 30), alpha=0.6, label=str(split))
    axes[0].set(title="faces per image (kept)", xlabel="faces", ylabel="images")
    axes[1].set(title="face size √(w·h)", xlabel="pixels", ylabel="boxes", xscale="log")
    counts = attribute_counts(boxes)
    if len(counts):
        nonzero = counts[counts.index.get_level_values("value") != 0].sum(axis=1)
        axes[2].barh([f"{a}={v}" for a, v in nonzero.index], nonzero.to_numpy())
    axes[2].set(title="attribute values ≠ 0", xlabel="boxes")
    for ax in axes[:2]:
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.tight_layout()
    return fig
