"""YOLO dataset layout helpers: label files, box conversion, image/label pairing and the data YAML."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from fpblur.core.files import IMAGE_EXTS, atomic_output

SPLITS = ("train", "val")


def xyxy_to_cxcywh(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel ``x1 y1 x2 y2`` boxes → normalised YOLO ``cx cy w h`` (no clipping).

    Args:
        boxes: N×4 (or anything reshaping to it) boxes in pixels.
        width, height: the image size in pixels.

    Returns:
        N×4 float64 centre and size as fractions of the image width/height.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.empty_like(b)
    out[:, 0] = (b[:, 0] + b[:, 2]) / 2 / width
    out[:, 1] = (b[:, 1] + b[:, 3]) / 2 / height
    out[:, 2] = (b[:, 2] - b[:, 0]) / width
    out[:, 3] = (b[:, 3] - b[:, 1]) / height
    return out


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Normalised YOLO ``cx cy w h`` → normalised ``x1 y1 x2 y2`` (N×4 float64; multiply by
    ``[w, h, w, h]`` for pixels).
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.stack(
        [b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2, b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2], axis=1
    )


def clip_xyxy(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """A copy of N×4 ``x1 y1 x2 y2`` boxes with x clipped to ``[0, width]`` and y to ``[0, height]`` (same units as
    the boxes: pixels, or 1 and 1 for normalised boxes).
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, width)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, height)
    return b


def format_labels(class_ids: Sequence[int], cxcywh: np.ndarray) -> str:
    """YOLO label text: one ``class cx cy w h`` line per box (6 decimals), ``""`` for no boxes.

    Args:
        class_ids: one class id per box.
        cxcywh: N×4 normalised boxes, aligned with ``class_ids``.
    """
    rows = np.asarray(cxcywh, dtype=np.float64).reshape(-1, 4)
    return "".join(f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, (x, y, w, h) in zip(class_ids, rows))


def write_labels(path: str | os.PathLike, class_ids: Sequence[int], cxcywh: np.ndarray) -> None:
    """Write one YOLO label file atomically (an empty file for an image without objects); see
    :func:`format_labels` for the arguments.
    """
    with atomic_output(path) as tmp:
        tmp.write_text(format_labels(class_ids, cxcywh))


@dataclass
class LabelLine:
    """One non-empty line of a YOLO label file: its 1-based ``line`` number, ``class_id`` and normalised
    ``box`` (``cx, cy, w, h``), both None when the line is not ``class cx cy w h`` with an integral class and finite
    numbers, and the stripped ``text``.
    """

    line: int  # 1-based
    class_id: int | None  # None when the line could not be parsed
    box: tuple[float, float, float, float] | None  # cx, cy, w, h
    text: str


def read_labels(path: str | os.PathLike) -> list[LabelLine]:
    """Parse a YOLO label file leniently: malformed lines come back with ``class_id``/``box`` None.

    Returns:
        One :class:`LabelLine` per non-empty line, in file order.

    Raises:
        OSError: the file cannot be read.
    """
    out = []
    for i, raw in enumerate(Path(path).read_text(errors="replace").splitlines(), 1):
        text = raw.strip()
        if not text:
            continue
        parts = text.split()
        try:
            if len(parts) != 5:
                raise ValueError
            cid = float(parts[0])
            vals = tuple(float(p) for p in parts[1:])
            if not cid.is_integer() or not all(np.isfinite(vals)):
                raise ValueError
            out.append(LabelLine(i, int(cid), vals, text))  # type: ignore[arg-type]
        except ValueError:
            out.append(LabelLine(i, None, None, text))
    return out


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files (:data:`~fpblur.core.files.IMAGE_EXTS`, any case, hidden files skipped) under ``folder``,
    recursively and sorted; ``[]`` when ``folder`` is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS and not p.name.startswith(".") and p.is_file()
    )


def label_for(image: Path, root: Path, split: str) -> Path:
    """``root/labels/<split>/<rel>.txt`` for ``root/images/<split>/<rel>.<ext>``.

    Raises:
        ValueError: ``image`` is not under ``root/images/<split>``.
    """
    rel = image.relative_to(root / "images" / split)
    return (root / "labels" / split / rel).with_suffix(".txt")


# -- reading YAML mappings ------------------------------------------------------------------------------
def read_mapping(path: str | os.PathLike, kind: str, error: type[Exception] = ValueError) -> dict:
    """A YAML file whose top level is a mapping (an empty file is an empty mapping), read with pyyaml's
    ``safe_load``.

    Args:
        path: the YAML file.
        kind: what the mapping holds, for the error message (e.g. ``"train options"``).
        error: the exception class to raise (a ``ValueError`` subclass).

    Returns:
        The mapping.

    Raises:
        ValueError: (``error``) an unreadable file, a YAML syntax error (with line and column) or another
            top-level type, as one line naming the file.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML ({_yaml_problem(exc)})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read ({exc.strerror if isinstance(exc, OSError) else exc.reason})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of {kind}, got {type(data).__name__}")
    return data


def _yaml_problem(exc: Exception) -> str:
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def read_names(root: str | os.PathLike) -> dict[int, str] | None:
    """Class names ``{id: name}`` from ``root/data.yaml``; None when there is no such file or it has no
    ``names``.

    Raises:
        ValueError: a ``data.yaml`` that is empty, not valid YAML or not a mapping.
    """
    p = Path(root) / "data.yaml"
    if not p.is_file():
        return None
    return normalise_names(read_yaml(p).get("names"))


def read_yaml(path: str | os.PathLike) -> dict:
    """A YAML file holding a non-empty mapping.

    Raises:
        ValueError: an unreadable, invalid, empty or non-mapping file (one line naming it).
    """
    data = read_mapping(path, "keys (names: ...)")
    if not data:
        raise ValueError(f"{path}: empty YAML file")
    return data


def normalise_names(names: Mapping[int, str] | Sequence[str] | None) -> dict[int, str] | None:
    """Class names as ``{int id: str name}`` from a mapping or a list (index = id); None stays None."""
    if names is None:
        return None
    if isinstance(names, Mapping):
        return {int(k): str(v) for k, v in names.items()}
    return dict(enumerate(names))


def write_data_yaml(
    path: str | os.PathLike,
    root: str | os.PathLike,
    names: Mapping[int, str] | Sequence[str],
    splits: Sequence[str] = SPLITS,
    extra: Mapping | None = None,
) -> Path:
    """Write an Ultralytics data YAML atomically: ``path: root``, one ``<split>: images/<split>`` per split,
    ``names`` (normalised to ``{id: name}``), then the ``extra`` keys.

    Returns:
        ``path``.
    """
    data: dict = {"path": str(root)}
    for s in splits:
        data[s] = f"images/{s}"
    data["names"] = normalise_names(names)
    data.update(extra or {})
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def preview(
    root: str | os.PathLike, split: str = "train", n: int = 6, cols: int = 3, names: Mapping[int, str] | None = None
):
    """A matplotlib figure of the first ``n`` images of a split with their YOLO boxes drawn (for a quick look).

    Args:
        root: the dataset folder (``images/<split>``, ``labels/<split>``).
        split: which split.
        n: how many images; cols: panels per row.
        names: class names for the box captions (default: ``root/data.yaml``'s, else the ids).

    Returns:
        The figure; an unreadable image leaves its panel empty with a note.
    """
    import matplotlib.patches as patches  # optional: [train] extra
    import matplotlib.pyplot as plt  # optional: [train] extra

    root = Path(root)
    names = names or read_names(root) or {}
    images = list_images(root / "images" / split)[:n]
    rows = max(1, -(-len(images) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img in zip(axes.flat, images):
        try:
            with Image.open(img) as im:
                rgb = np.asarray(im.convert("RGB"))
        except Exception:  # unreadable: leave the panel empty
            ax.set_title(f"{img.name} (unreadable)", fontsize=8)
            continue
        h, w = rgb.shape[:2]
        ax.imshow(rgb)
        lab = label_for(img, root, split)
        lines = read_labels(lab) if lab.is_file() else []
        for ln in lines:
            if ln.box is None:
                continue
            x0, y0, x1, y1 = cxcywh_to_xyxy(np.array(ln.box))[0] * [w, h, w, h]
            ax.add_patch(patches.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, color="lime", lw=1.5))
            ax.text(x0, y0, names.get(ln.class_id, str(ln.class_id)), color="lime", fontsize=7, va="bottom")
        ax.set_title(f"{img.relative_to(root / 'images' / split)} ({len(lines)} boxes)", fontsize=8)
    fig.tight_layout()
    return fig
