"""Read labelled images for evaluation, from either of the two layouts fpblur meets.

* **labels.json layout** (the evaluation data, "WIDER format"): ``labels.json``
  (``{"image": [[x1, y1, x2, y2], ...]}``, pixels of the stored image), ``images/`` and an optional ``flags.json``
  (per-box dicts, e.g. WIDER's invalid/easy/medium/hard) — :func:`load_labelled`.
* **YOLO layout**: an Ultralytics data YAML (``path``, ``train``/``val``/``test`` as folders, ``.txt`` lists or
  lists of either, ``names``) or a folder with ``images/[split/]`` and ``labels/[split/]``; label lines
  ``class cx cy w h`` normalised — :func:`load_yolo`.

:func:`load_dataset` picks the loader from the path.  Every loader returns a :class:`LabelledSet` with boxes
``[x1, y1, x2, y2]`` in pixels of the image as :func:`fpblur.media.images.read_image` decodes it (EXIF orientation
applied, as Ultralytics does for YOLO labels).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fpblur.training.data.paths import require_path
from fpblur.training.data.yolo import cxcywh_to_xyxy, list_images, read_labels, read_mapping
from fpblur.training.eval.wider import wider_ignore


def read_json(path: Path) -> Any:
    """Parsed JSON of ``path``.

    Raises:
        ValueError: a syntax error (one line naming the file, line and column) or text that is not UTF-8.
        OSError: the file cannot be read.
    """
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON (not UTF-8 text: {exc.reason})") from None


@dataclass(frozen=True)
class LabelledSet:
    """Images and their ground truth, aligned by index.

    Attributes:
        root: the dataset folder.
        images: the image files.
        gts: per image, N×4 float64 ``x1 y1 x2 y2`` boxes in pixels of the image as decoded (EXIF applied).
        flags: per image, per-box flag dicts (``flags.json``; None when there is none).
        name: a display name (the folder's, or the data YAML's).
        format: ``"labels.json"`` or ``"yolo"``.
        names: class names (YOLO layout with names; else empty).
        classes: per image, the class id of each GT box (YOLO layout; None for labels.json).
    """

    root: Path
    images: list[Path]
    gts: list[np.ndarray]
    flags: list[list[dict]] | None = None
    name: str = ""
    format: str = "labels.json"
    names: tuple[str, ...] = ()
    #: per image, the class id of each ground-truth box (YOLO layout; None for labels.json)
    classes: list[np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def head(self, n: int | None) -> LabelledSet:
        """The first ``n`` images (None: all of them) with their boxes, flags and classes."""
        if n is None:
            return self
        return replace(
            self,
            images=self.images[:n],
            gts=self.gts[:n],
            flags=None if self.flags is None else self.flags[:n],
            classes=None if self.classes is None else self.classes[:n],
        )

    def only_classes(self, ids: set[int]) -> LabelledSet:
        """The same images with only the boxes of classes ``ids`` (flags filtered alike).

        Raises:
            ValueError: the set has no per-box classes (not a YOLO-layout dataset).
        """
        if self.classes is None:
            raise ValueError(f"{self.root}: no class ids to select boxes by (not a YOLO-layout dataset)")
        masks = [np.isin(c, sorted(ids)) for c in self.classes]
        return replace(
            self,
            gts=[g[m] for g, m in zip(self.gts, masks)],
            flags=None if self.flags is None else [[f for f, k in zip(fl, m) if k] for fl, m in zip(self.flags, masks)],
            classes=[c[m] for c, m in zip(self.classes, masks)],
        )

    @property
    def n_boxes(self) -> int:
        """Number of GT boxes over all images."""
        return int(sum(len(g) for g in self.gts))

    @property
    def has_wider_flags(self) -> bool:
        """True when flags carry WIDER's easy/medium/hard subsets (so WIDER AP can be computed)."""
        if not self.flags:
            return False
        boxes = [f for per_image in self.flags for f in per_image]
        return bool(boxes) and all(all(k in f for k in ("easy", "medium", "hard")) for f in boxes)

    def ignore_masks(self) -> list[np.ndarray] | None:
        """Per image, the boxes flagged ``invalid`` (ignore regions); None when there are no flags."""
        if self.flags is None:
            return None
        return [wider_ignore(fl) for fl in self.flags]


def load_labelled(folder: str | Path) -> LabelledSet:
    """Load a folder laid out as ``labels.json`` + ``images/`` (+ ``flags.json``), sorted by image name.

    ``labels.json`` maps an image name to ``[[x1, y1, x2, y2], ...]`` (pixels); images are looked up in
    ``images/`` (or the folder itself when there is none); ``flags.json`` maps a name to one dict per box.

    Returns:
        The :class:`LabelledSet` (``format="labels.json"``).

    Raises:
        FileNotFoundError: no such folder, or no ``labels.json`` in it.
        ValueError: invalid JSON, a top level that is not a mapping, boxes that are not N×4 finite numbers, or
            flags that do not match the boxes (one line naming the file and image).
    """
    root = require_path(folder, "folder")
    labels_path = root / "labels.json"
    if not labels_path.is_file():
        raise FileNotFoundError(f"{labels_path}: no labels.json (expected labels.json and images/ in {root})")
    labels = read_json(labels_path)
    if not isinstance(labels, dict):
        raise ValueError(
            f"{labels_path}: expected a mapping of image name to [[x1, y1, x2, y2], ...], got {type(labels).__name__}"
        )
    names = sorted(labels)
    gts = [_boxes(labels_path, n, labels[n]) for n in names]
    flags_path = root / "flags.json"
    per_image_flags = None
    if flags_path.is_file():
        flags = read_json(flags_path)
        if not isinstance(flags, dict):
            raise ValueError(
                f"{flags_path}: expected a mapping of image name to a list of per-box flag dicts, "
                f"got {type(flags).__name__}"
            )
        per_image_flags = []
        for n, gt in zip(names, gts):
            fl = flags.get(n, [])  # an image without boxes needs no flags entry
            if not isinstance(fl, list) or not all(isinstance(f, dict) for f in fl):
                raise ValueError(f"{flags_path}: {n}: expected a list of per-box flag dicts")
            if len(fl) != len(gt):
                raise ValueError(f"{flags_path}: {n} has {len(fl)} flags for {len(gt)} boxes")
            per_image_flags.append(fl)
    image_dir = root / "images" if (root / "images").is_dir() else root
    return LabelledSet(root, [image_dir / n for n in names], gts, per_image_flags, name=root.name, format="labels.json")


def _boxes(labels_path: Path, name: str, raw: Any) -> np.ndarray:
    """One image's ``[[x1, y1, x2, y2], ...]`` as an ``N×4`` array; anything else is a one-line ValueError."""
    try:
        arr = np.asarray(raw, np.float64)
    except (TypeError, ValueError):
        arr = None
    if arr is None or not (arr.size == 0 or (arr.ndim == 2 and arr.shape[1] == 4)) or not np.isfinite(arr).all():
        raise ValueError(f"{labels_path}: {name}: expected a list of [x1, y1, x2, y2] boxes, got {str(raw)[:60]}")
    return arr.reshape(-1, 4)


# -- YOLO layout -------------------------------------------------------------------------------------------
def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` in pixels after EXIF orientation (as displayed, as Ultralytics reads labels), read from
    the header only.

    Raises:
        OSError: (``PIL.UnidentifiedImageError`` included) the file is not a readable image.
    """
    with Image.open(path) as im:
        w, h = im.size
        try:
            orientation = im.getexif().get(0x0112, 1)
        except Exception:
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def label_path(image: Path) -> Path:
    """The label file of ``image`` by Ultralytics' rule: the last ``images`` folder in the path becomes
    ``labels``, the extension ``.txt`` (no ``images`` folder: the same folder).
    """
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def read_yolo_labels(path: Path, width: int, height: int, classes: set[int] | None = None) -> np.ndarray:
    """Pixel ``[x1, y1, x2, y2]`` boxes (N×4 float64) of a YOLO label file for an image of ``width`` × ``height``
    pixels (missing file = no boxes); see :func:`read_yolo_boxes`.
    """
    return read_yolo_boxes(path, width, height, classes)[0]


def read_yolo_boxes(
    path: Path, width: int, height: int, classes: set[int] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(boxes, class ids)`` of a YOLO label file.

    Args:
        path: the label file (missing: no boxes).
        width, height: the image size in pixels the normalised boxes are scaled to.
        classes: keep only these class ids (None: all).

    Returns:
        N×4 float64 ``[x1, y1, x2, y2]`` pixels and N int class ids.

    Raises:
        ValueError: a line that is not ``class cx cy w h`` (naming file and line).
    """

    if not path.is_file():
        return np.zeros((0, 4)), np.zeros(0, int)
    rows, ids = [], []
    for lab in read_labels(path):
        if lab.class_id is None:
            raise ValueError(f"{path}:{lab.line}: not a 'class cx cy w h' YOLO label line: {lab.text!r}")
        if classes is None or lab.class_id in classes:
            rows.append(lab.box)
            ids.append(lab.class_id)
    boxes = cxcywh_to_xyxy(np.asarray(rows, np.float64).reshape(-1, 4)) * [width, height, width, height]
    return boxes, np.asarray(ids, int)


def _images_in(entry: Path) -> list[Path]:
    require_path(entry)
    if entry.is_dir():
        return list_images(entry)
    if entry.suffix == ".txt" and entry.is_file():
        base = entry.parent
        out = []
        for line in entry.read_text().splitlines():
            line = line.strip()
            if line:
                p = Path(line)
                out.append(p if p.is_absolute() else (base / p).resolve())
        return out
    raise ValueError(f"{entry}: expected an image folder or a .txt list of images")


def _yaml_root(yaml_path: Path, data: dict) -> Path:
    path = data.get("path")
    if not path:
        return yaml_path.parent
    p = Path(str(path)).expanduser()
    if p.is_absolute():
        if not p.exists():
            raise FileNotFoundError(f"{yaml_path}: path: {path}: no such folder")
        return p
    for base in (Path.cwd(), yaml_path.parent):
        if (base / p).exists():
            return (base / p).resolve()
    raise FileNotFoundError(
        f"{yaml_path}: path: {path}: no such folder (looked for relative to the current folder {Path.cwd()} and to "
        "the YAML's folder)"
    )


def _names(raw, source: Path) -> tuple[str, ...]:
    if isinstance(raw, dict):
        try:
            return tuple(str(raw[k]) for k in sorted(raw))
        except TypeError:
            raise ValueError(f"{source}: names: class ids must be integers") from None
    if raw is None or isinstance(raw, (list, tuple)):
        return tuple(str(n) for n in raw or ())
    raise ValueError(f"{source}: names: expected a list or a mapping of class id to name, got {type(raw).__name__}")


_DATA_YAML_KIND = "dataset keys (path, train, val, names)"


def load_yolo(source: str | Path, split: str = "val", classes: set[int] | None = None) -> LabelledSet:
    """Load one split of a YOLO-layout dataset from a data YAML or a dataset folder.

    Args:
        source: a data YAML (``path``, ``train``/``val``/``test`` as folders, ``.txt`` lists or lists of either,
            ``names``) or a folder with ``images/[split/]`` and ``labels/[split/]``.
        split: which split.
        classes: keep only the boxes of these class ids (None: all).

    Returns:
        The :class:`LabelledSet` (``format="yolo"``, with ``classes``); boxes in pixels of the images as
        displayed.

    Raises:
        FileNotFoundError: a missing YAML or folder, dataset ``path``, image folder or list file (``no such file or
            folder``).
        ValueError: invalid YAML, no such split, bad ``names``, no images, or a malformed label line.
    """
    source = require_path(source)
    names: tuple[str, ...] = ()
    if source.suffix.lower() in (".yaml", ".yml") and source.is_file():
        data = read_mapping(source, _DATA_YAML_KIND)
        root = _yaml_root(source, data)
        names = _names(data.get("names"), source)
        entry = data.get(split)
        if not entry:
            raise ValueError(f"{source}: no {split!r} split")
        entries = entry if isinstance(entry, list) else [entry]
        if not all(isinstance(e, str) and e for e in entries):
            raise ValueError(f"{source}: {split}: expected an image folder, a .txt list or a list of them")
        images = [im for e in entries for im in _images_in(Path(e) if Path(e).is_absolute() else root / e)]
        name = source.parent.name if source.stem in ("data", "dataset") else source.stem
    elif source.is_dir():
        root = source
        for cand in (source / "images" / split, source / "images", source):
            if cand.is_dir():
                images = _images_in(cand)
                break
        name = source.name
        if (source / "data.yaml").is_file():
            names = _names(read_mapping(source / "data.yaml", _DATA_YAML_KIND).get("names"), source / "data.yaml")
    else:
        raise ValueError(f"{source}: not a data YAML or a dataset folder")
    if not images:
        raise ValueError(f"{source}: no images in split {split!r}")
    gts, ids = [], []
    for im in images:
        w, h = image_size(im)
        boxes, cls = read_yolo_boxes(label_path(im), w, h, classes)
        gts.append(boxes)
        ids.append(cls)
    return LabelledSet(root, images, gts, None, name=name, format="yolo", names=names, classes=ids)


def load_dataset(source: str | Path, split: str = "val", classes: set[int] | None = None) -> LabelledSet:
    """A ``labels.json`` folder (:func:`load_labelled`), a YOLO data YAML or a YOLO dataset folder
    (:func:`load_yolo`, with ``split`` and ``classes``), recognised by what is there.

    Raises:
        FileNotFoundError: ``source`` does not exist (``no such file or folder``, checked first), or see the
            loaders.
        ValueError: ``source`` exists but is none of these, or see the loaders.
    """
    source = require_path(source)
    if source.is_dir() and (source / "labels.json").is_file():
        return load_labelled(source)
    if source.suffix.lower() in (".yaml", ".yml") or source.is_dir():
        return load_yolo(source, split, classes)
    raise ValueError(f"{source}: expected a folder with labels.json, a YOLO data YAML or a YOLO dataset folder")
