"""Read labelled images for evaluation, from either of the two layouts fpblur meets.

* **labels.json layout** (the evaluation data, "WIDER format"): ``labels.json``
  (``{"image": [[x1, y1, x2, y2], ...]}``, pixels of the stored image), ``images/`` and an optional ``flags.json``
  (per-box dicts, e.g. WIDER's invalid/easy/medium/hard) — :func:`load_labelled`.
* **YOLO layout**: an Ultralytics data YAML (``path``, ``train``/``val``/``test`` as folders, ``.txt`` lists or
  lists of either, ``names``) or a folder with ``images/[split/]`` and ``labels/[split/]``; label lines
  ``class cx cy w h`` normalised — :func:`load_yolo`.

:func:`load_dataset` picks the loader from the path.  Every loader returns a :class:`LabelledSet` with boxes
``[x1, y1, x2, y2]`` in pixels of the image as :func:`fpblur.images.read_image` decodes it (EXIF orientation
applied, as Ultralytics does for YOLO labels).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np



@dataclass(frozen=True)
class LabelledSet:
    root: Path
    images: list[Path]
    gts: list[np.ndarray]
    flags: list[list[dict]] | None = None
    name: str = ""
    format: str = "labels.json"
    names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.images)

    def head(self, n: int | None) -> "LabelledSet":
        if n is None:
            return self
        return replace(self, images=self.images[:n], gts=self.gts[:n],
                       flags=None if self.flags is None else self.flags[:n])

    @property
    def n_boxes(self) -> int:
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
        return [np.array([bool(f.get("invalid", False)) for f in fl], dtype=bool) for fl in self.flags]


def load_labelled(folder: str | Path) -> LabelledSet:
    """Load a folder laid out as ``labels.json`` + ``images/`` (+ ``flags.json``), sorted by image name."""
    root = Path(folder)
    labels_path = root / "labels.json"
    if not labels_path.is_file():
        raise FileNotFoundError(f"{labels_path}: no labels.json")
    labels = json.loads(labels_path.read_text())
    flags_path = root / "flags.json"
    flags = json.loads(flags_path.read_text()) if flags_path.is_file() else None
    names = sorted(labels)
    image_dir = root / "images" if (root / "images").is_dir() else root
    gts = [np.asarray(labels[n], np.float64).reshape(-1, 4) for n in names]
    if flags is not None:
        for n in names:
            if len(flags.get(n, [])) != len(labels[n]):
                raise ValueError(f"{flags_path}: {n} has {len(flags.get(n, []))} flags for {len(labels[n])} boxes")
    return LabelledSet(root, [image_dir / n for n in names], gts, None if flags is None else [flags[n] for n in names],
                       name=root.name, format="labels.json")


# -- YOLO layout -------------------------------------------------------------------------------------------
def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` after EXIF orientation, read from the header only."""
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
        try:
            orientation = im.getexif().get(0x0112, 1)
        except Exception:
            orientation = 1
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``/images/`` in the path becomes ``/labels/``, the extension ``.txt``."""
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def read_yolo_labels(path: Path, width: int, height: int, classes: set[int] | None = None) -> np.ndarray:
    """Pixel ``[x1, y1, x2, y2]`` boxes of a YOLO label file (missing file = no boxes)."""
    from fpblur.data.yolo import cxcywh_to_xyxy, read_labels

    if not path.is_file():
        return np.zeros((0, 4))
    rows = []
    for lab in read_labels(path):
        if lab.class_id is None:
            raise ValueError(f"{path}:{lab.line}: not a 'class cx cy w h' YOLO label line: {lab.text!r}")
        if classes is None or lab.class_id in classes:
            rows.append(lab.box)
    return cxcywh_to_xyxy(np.asarray(rows, np.float64).reshape(-1, 4)) * [width, height, width, height]


def _images_in(entry: Path) -> list[Path]:
    from fpblur.data.yolo import list_images

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
    raise FileNotFoundError(f"{entry}: no such image folder or list file")


def _yaml_root(yaml_path: Path, data: dict) -> Path:
    path = data.get("path")
    if not path:
        return yaml_path.parent
    p = Path(str(path)).expanduser()
    if p.is_absolute():
        return p
    for base in (Path.cwd(), yaml_path.parent):
        if (base / p).exists():
            return (base / p).resolve()
    raise FileNotFoundError(f"{yaml_path}: dataset path {path!r} not found (relative to the current directory "
                            f"or to the YAML's folder)")


def _names(raw) -> tuple[str, ...]:
    if isinstance(raw, dict):
        return tuple(str(raw[k]) for k in sorted(raw))
    return tuple(str(n) for n in raw or ())


def load_yolo(source: str | Path, split: str = "val", classes: set[int] | None = None) -> LabelledSet:
    """Load a YOLO-layout split from a data YAML or a dataset folder; ``classes`` keeps only those ids."""
    import yaml

    source = Path(source)
    names: tuple[str, ...] = ()
    if source.suffix.lower() in (".yaml", ".yml"):
        if not source.is_file():
            raise FileNotFoundError(f"{source}: data YAML not found")
        data = yaml.safe_load(source.read_text()) or {}
        root = _yaml_root(source, data)
        names = _names(data.get("names"))
        entry = data.get(split)
        if not entry:
            raise ValueError(f"{source}: no {split!r} split")
        entries = entry if isinstance(entry, list) else [entry]
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
            names = _names((yaml.safe_load((source / "data.yaml").read_text()) or {}).get("names"))
    else:
        raise FileNotFoundError(f"{source}: not a data YAML or a dataset folder")
    if not images:
        raise ValueError(f"{source}: no images in split {split!r}")
    gts = []
    for im in images:
        w, h = image_size(im)
        gts.append(read_yolo_labels(label_path(im), w, h, classes))
    return LabelledSet(root, images, gts, None, name=name, format="yolo", names=names)


def load_dataset(source: str | Path, split: str = "val", classes: set[int] | None = None) -> LabelledSet:
    """A ``labels.json`` folder, a YOLO data YAML or a YOLO dataset folder, recognised by what is there."""
    source = Path(source)
    if source.is_dir() and (source / "labels.json").is_file():
        return load_labelled(source)
    if source.suffix.lower() in (".yaml", ".yml") or source.is_dir():
        return load_yolo(source, split, classes)
    raise FileNotFoundError(f"{source}: expected a folder with labels.json, a YOLO data YAML or a YOLO dataset folder")
