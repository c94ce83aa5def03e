"""Pascal VOC XML → YOLO labels, with a report of every object and every image.

* Class names come from a data YAML (``names`` plus optional ``voc_aliases``); other names are reported as
  ``unknown_class`` and skipped.
* ``difficult``/``truncated`` flags are kept in the report (difficult objects are kept unless asked not to).
* Boxes are clipped to the image; boxes empty after clipping are dropped.
* The real image size (EXIF orientation applied, as Ultralytics does) is always used.  When the XML's
  ``<size>`` disagrees the image row says so; if the XML size is a uniform rescale of the real one and the
  boxes only fit the XML's frame, the boxes are rescaled too (they were drawn on a resized copy).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fpblur.core.files import IMAGE_EXTS
from fpblur.training.data.download import link_or_copy
from fpblur.training.data.paths import require_path
from fpblur.training.data.yolo import (
    clip_xyxy,
    normalise_names,
    read_yaml,
    write_data_yaml,
    write_labels,
    xyxy_to_cxcywh,
)
from fpblur.training.eval.datasets import image_size  # displayed size, EXIF orientation applied

OBJECT_COLUMNS = [
    "xml",
    "image",
    "split",
    "name",
    "class_id",
    "difficult",
    "truncated",
    "xmin",
    "ymin",
    "xmax",
    "ymax",
    "clipped",
    "status",
]
IMAGE_COLUMNS = [
    "xml",
    "image",
    "split",
    "xml_width",
    "xml_height",
    "width",
    "height",
    "size_status",
    "fix",
    "objects",
    "kept",
    "status",
]


class VocError(ValueError):
    """An unreadable VOC file; the message names it."""


def norm_name(name: str) -> str:
    """A class name normalised for comparison: stripped, lower case, runs of spaces/hyphens → ``_``
    (``"Licence-Plate"`` → ``"licence_plate"``).
    """
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass
class ClassMap:
    """Class ids by name: ``names`` (``{id: name}``) and ``aliases`` (normalised alias → class name)."""

    names: dict[int, str]
    aliases: dict[str, str] = field(default_factory=dict)

    def id(self, name: str) -> int | None:
        """The class id of a VOC object name (compared after :func:`norm_name`, aliases applied); None when unknown."""
        n = norm_name(name)
        n = norm_name(self.aliases.get(n, n))
        for cid, cname in self.names.items():
            if norm_name(cname) == n:
                return cid
        return None

    @classmethod
    def from_config(cls, config: str | os.PathLike | Mapping) -> ClassMap:
        """From a data YAML path or dict: ``names`` and optional ``voc_aliases`` (alias → class name).

        Raises:
            ValueError: an unreadable, invalid or empty YAML file, or no ``names``.
        """
        data = read_yaml(config) if not isinstance(config, Mapping) else config
        names = normalise_names(data.get("names"))
        if not names:
            raise ValueError(f"{config}: no 'names' in the data config")
        aliases = {norm_name(k): str(v) for k, v in (data.get("voc_aliases") or {}).items()}
        return cls(names, aliases)


@dataclass
class VocObject:
    """One ``<object>``: its ``name``, ``box`` (``xmin, ymin, xmax, ymax`` pixels as written) and the
    ``difficult``/``truncated`` flags.
    """

    name: str
    box: tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in pixels
    difficult: bool = False
    truncated: bool = False


@dataclass
class VocAnnotation:
    """One parsed VOC file: its path, ``<filename>`` and ``<size>`` (None when absent) and objects."""

    xml: Path
    filename: str | None
    width: int | None
    height: int | None
    objects: list[VocObject]


def _num(node: ET.Element | None, tag: str) -> float | None:
    el = node.find(tag) if node is not None else None
    if el is None or el.text is None or not el.text.strip():
        return None
    return float(el.text)


def parse_voc(path: str | os.PathLike) -> VocAnnotation:
    """Parse one Pascal VOC annotation XML.

    Returns:
        The :class:`VocAnnotation`.

    Raises:
        VocError: not readable XML, an object without a complete ``<bndbox>``, or a value that is not a number
            (one line naming the file).
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise VocError(f"{path}: not a readable VOC XML ({exc})") from None
    try:
        size = root.find("size")
        w, h = _num(size, "width"), _num(size, "height")
        objects = []
        for o in root.iter("object"):
            bb = o.find("bndbox")
            coords = [_num(bb, t) for t in ("xmin", "ymin", "xmax", "ymax")]
            if any(c is None for c in coords):
                raise VocError(f"{path}: object without a complete <bndbox>")
            objects.append(
                VocObject(
                    (o.findtext("name") or "").strip(),
                    tuple(coords),  # type: ignore[arg-type]
                    bool(int(_num(o, "difficult") or 0)),
                    bool(int(_num(o, "truncated") or 0)),
                )
            )
    except ValueError as exc:
        raise VocError(f"{path}: bad number ({exc})") from None
    fn = (root.findtext("filename") or "").strip() or None
    return VocAnnotation(path, fn, int(w) if w else None, int(h) if h else None, objects)


@dataclass
class VocReport:
    """The outcome of :func:`convert`: one row per object (:data:`OBJECT_COLUMNS`; ``status`` kept,
    ``unknown_class``, ``degenerate``, ``outside`` or ``difficult_dropped``), one row per XML
    (:data:`IMAGE_COLUMNS`; ``status`` ok, ``bad_xml: …``, ``missing_image`` or ``unreadable_image (…)``) and the
    written ``data.yaml`` (None when no image was converted).
    """

    objects: pd.DataFrame
    images: pd.DataFrame
    data_yaml: Path | None = None

    def summary(self) -> pd.Series:
        """Counts: objects and images per status (``object:…``, ``image:…``), images per size status
        (``size:…``) and objects flagged difficult, truncated or clipped.
        """
        s = pd.concat(
            [
                self.objects["status"].value_counts().add_prefix("object:"),
                self.images["status"].value_counts().add_prefix("image:"),
                self.images["size_status"].replace("", pd.NA).value_counts().add_prefix("size:"),
            ]
        )
        s["objects:difficult"] = int(self.objects["difficult"].sum()) if len(self.objects) else 0
        s["objects:truncated"] = int(self.objects["truncated"].sum()) if len(self.objects) else 0
        s["objects:clipped"] = int(self.objects["clipped"].sum()) if len(self.objects) else 0
        return s


def _find_images(image_dir: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    by_name, by_stem = {}, {}
    for p in sorted(image_dir.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_EXTS:
            by_name.setdefault(p.name, p)
            by_stem.setdefault(p.stem, p)
    return by_name, by_stem


def convert(
    ann_dir: str | os.PathLike,
    image_dir: str | os.PathLike,
    out: str | os.PathLike,
    class_map: ClassMap,
    *,
    split_of: Callable[[str], str] | Mapping[str, str] | None = None,
    keep_difficult: bool = True,
    link: str = "auto",
) -> VocReport:
    """Convert every ``*.xml`` under ``ann_dir`` into ``out/{images,labels}/<split>/`` and ``out/data.yaml``.

    The image is found by the XML's ``<filename>``, else by its stem or the XML's stem, anywhere under
    ``image_dir``; its real size (EXIF orientation applied) is used, boxes are clipped to it and rescaled when the
    XML's ``<size>`` is a uniform rescale the boxes were drawn on.  The dataset is built in a temporary folder
    beside ``out`` and moved into place at the end, so a failure leaves ``out`` as it was and a re-run replaces the
    previous conversion whole (no images or labels of an earlier split survive).

    Args:
        ann_dir: the folder of VOC XMLs (searched recursively).
        image_dir: the folder of images (searched recursively).
        out: the output dataset folder.
        class_map: class ids by name (:meth:`ClassMap.from_config`).
        split_of: image stem → split, as a callable or a mapping (default: everything in ``train``).
        keep_difficult: keep objects flagged difficult.
        link: how images are placed (:func:`~fpblur.training.data.download.link_or_copy`).

    Returns:
        The :class:`VocReport`.

    Raises:
        FileNotFoundError: no such annotation or image folder (one line, checked first).
        ValueError: ``out`` overlaps an input folder, is a file, or holds anything but a converted dataset
            (``images/``, ``labels/``, ``data.yaml``).
    """
    ann_dir, image_dir, out = require_path(ann_dir, "folder"), require_path(image_dir, "folder"), Path(out)
    _check_output(out, ann_dir, image_dir)
    by_name, by_stem = _find_images(image_dir)
    pick = split_of if callable(split_of) else (lambda stem: (split_of or {}).get(stem, "train"))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        build = tmp / out.name  # made with mkdir, not mkdtemp, so that it gets the usual permissions
        build.mkdir()
        objects, images, splits = _convert_into(build, ann_dir, by_name, by_stem, pick, class_map, keep_difficult, link)
        data_yaml = None
        if splits:
            write_data_yaml(
                build / "data.yaml",
                out.resolve(),
                class_map.names,
                splits=sorted(splits, key=lambda s: (s != "train", s)),
            )
            data_yaml = out / "data.yaml"
        _replace_dir(build, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return VocReport(objects, images, data_yaml)


_CONVERTED = {"images", "labels", "data.yaml"}  # what convert writes; an existing out holding only these is replaced


def _check_output(out: Path, ann_dir: Path, image_dir: Path) -> None:
    r_out = out.resolve()
    for what, folder in (("image", image_dir), ("annotation", ann_dir)):
        r_in = folder.resolve()
        if r_out == r_in or r_out in r_in.parents:
            raise ValueError(
                f"{out}: output folder contains the input {what} folder {folder}; give a separate output folder"
            )
    if image_dir.resolve() in r_out.parents:
        raise ValueError(
            f"{out}: output folder lies inside the input image folder {image_dir}; give a separate output folder"
        )
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: output exists and is not a folder")
    if out.is_dir():
        other = sorted(p.name for p in out.iterdir() if p.name not in _CONVERTED)
        if other:
            raise ValueError(
                f"{out}: output folder holds other files than a converted dataset ({', '.join(other[:3])}"
                f"{', …' if len(other) > 3 else ''}); give a new or empty folder"
            )


def _replace_dir(build: Path, out: Path) -> None:
    """Move the finished folder ``build`` to ``out``; an earlier ``out`` goes to ``build``'s (temporary) parent
    folder, which the caller deletes, and is put back if the move fails."""
    if not (out.exists() or out.is_symlink()):
        os.rename(build, out)
        return
    old = build.with_name(build.name + ".old")
    os.rename(out, old)
    try:
        os.rename(build, out)
    except BaseException:
        os.rename(old, out)
        raise


def _convert_into(
    out: Path, ann_dir: Path, by_name, by_stem, pick, class_map: ClassMap, keep_difficult: bool, link: str
):
    """The conversion proper, writing into the new folder ``out``; returns ``(objects, images, splits)``."""
    obj_rows, img_rows, splits = [], [], set()
    for xml in sorted(ann_dir.rglob("*.xml")):
        row = {
            "xml": str(xml.relative_to(ann_dir)),
            "image": "",
            "split": "",
            "xml_width": None,
            "xml_height": None,
            "width": None,
            "height": None,
            "size_status": "",
            "fix": "",
            "objects": 0,
            "kept": 0,
            "status": "ok",
        }
        try:
            ann = parse_voc(xml)
        except VocError as exc:
            img_rows.append({**row, "status": f"bad_xml: {exc}"})
            continue
        src = (
            by_name.get(ann.filename or "") or by_stem.get(Path(ann.filename or xml.name).stem) or by_stem.get(xml.stem)
        )
        row.update(xml_width=ann.width, xml_height=ann.height, objects=len(ann.objects))
        if src is None:
            img_rows.append({**row, "image": ann.filename or xml.stem, "status": "missing_image"})
            continue
        split = pick(src.stem)
        row.update(image=src.name, split=split)
        try:
            W, H = image_size(src)
        except Exception as exc:  # PIL raises many types for bad files
            img_rows.append({**row, "status": f"unreadable_image ({type(exc).__name__})"})
            continue
        row.update(width=W, height=H)
        boxes = np.array([o.box for o in ann.objects], dtype=np.float64).reshape(-1, 4)
        row["size_status"], row["fix"], boxes = _reconcile_size(ann, W, H, boxes)
        ids, keep_boxes = [], []
        for o, b in zip(ann.objects, boxes):
            cid = class_map.id(o.name)
            clipped = clip_xyxy(b, W, H)[0]
            was_clipped = bool(np.any(np.abs(clipped - b) > 1e-6))
            if cid is None:
                status = "unknown_class"
            elif not (b[2] > b[0] and b[3] > b[1]):
                status = "degenerate"
            elif not (clipped[2] > clipped[0] and clipped[3] > clipped[1]):
                status = "outside"
            elif o.difficult and not keep_difficult:
                status = "difficult_dropped"
            else:
                status = "kept"
                ids.append(cid)
                keep_boxes.append(clipped)
            obj_rows.append(
                {
                    "xml": row["xml"],
                    "image": src.name,
                    "split": split,
                    "name": o.name,
                    "class_id": cid,
                    "difficult": o.difficult,
                    "truncated": o.truncated,
                    "xmin": b[0],
                    "ymin": b[1],
                    "xmax": b[2],
                    "ymax": b[3],
                    "clipped": was_clipped and status == "kept",
                    "status": status,
                }
            )
        row["kept"] = len(ids)
        write_labels(
            out / "labels" / split / f"{src.stem}.txt", ids, xyxy_to_cxcywh(np.array(keep_boxes).reshape(-1, 4), W, H)
        )
        link_or_copy(src, out / "images" / split / src.name, link)
        splits.add(split)
        img_rows.append(row)
    objects = pd.DataFrame(obj_rows, columns=OBJECT_COLUMNS).astype({"class_id": "Int64"})
    images = pd.DataFrame(img_rows, columns=IMAGE_COLUMNS).astype(
        {c: "Int64" for c in ("xml_width", "xml_height", "width", "height")}
    )
    return objects, images, splits


def _reconcile_size(ann: VocAnnotation, W: int, H: int, boxes: np.ndarray) -> tuple[str, str, np.ndarray]:
    """``(size_status, fix, boxes)``: compare the XML ``<size>`` with the real one and rescale boxes if needed."""
    if not ann.width or not ann.height:
        return "missing", "size_from_image", boxes
    if (ann.width, ann.height) == (W, H):
        return "ok", "", boxes
    sx, sy = W / ann.width, H / ann.height
    uniform = abs(sx - sy) <= 0.01 * max(sx, sy)
    if len(boxes) and uniform:
        beyond_real = np.any((boxes[:, 2] > W + 1) | (boxes[:, 3] > H + 1))
        inside_xml = np.all((boxes[:, 2] <= ann.width + 1) & (boxes[:, 3] <= ann.height + 1))
        if beyond_real and inside_xml:
            return "mismatch", f"size_from_image+boxes_rescaled_x{sx:.3g}", boxes * np.array([sx, sy, sx, sy])
    return "mismatch", "size_from_image", boxes
