"""A tiny generated detection dataset for smoke runs of training and evaluation (CI, notebooks' SMOKE mode).

Nothing is downloaded.  Faces are real: the four faces in the sample photos shipped with fpblur
(``zidane.jpg``, ``bus.jpg`` from the ``ultralytics`` wheel; :func:`fpblur.models.samples.photo_path`), cropped
with some context, flipped, colour-jittered and pasted at random positions and sizes.  Plates are drawn: a white
rectangle with a dark border and random black characters (``cv2.putText``).  Backgrounds are random gradients
with random shapes and noise, so both detectors learn something that is not noise within one or two epochs.

Two layouts are written:

* YOLO (:func:`make_yolo_dataset`): ``images/{train,val}``, ``labels/{train,val}`` and a ``data.yaml`` whose
  ``path`` is absolute, so Ultralytics finds it from any working directory.
* WIDER-style (:func:`make_wider_dataset`): ``images/`` + ``labels.json`` (``{"name": [[x1, y1, x2, y2]]}``,
  integer pixels, x2/y2 exclusive) + ``flags.json`` (per-box dicts with ``invalid``/``easy``/``medium``/``hard``),
  the layout of the evaluation data described in ``../shared/evaldata/README.md``.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from fpblur.models.samples import photo_path
from fpblur.training.data.yolo import format_labels, write_data_yaml, xyxy_to_cxcywh

#: Face boxes (x1, y1, x2, y2) in the ultralytics sample photos (found with CenterFace, checked by eye).
FACE_SOURCES: tuple[tuple[str, tuple[int, int, int, int]], ...] = (
    ("zidane.jpg", (911, 102, 1053, 277)),
    ("zidane.jpg", (552, 258, 667, 434)),
    ("bus.jpg", (114, 416, 154, 470)),
    ("bus.jpg", (271, 425, 308, 475)),
)
TARGETS = ("face", "plate")
_PLATE_CHARS = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class SyntheticImage:
    """One generated image and its boxes (``N×4`` float xyxy pixels) with their labels."""

    image: np.ndarray
    boxes: np.ndarray
    labels: tuple[str, ...]


@dataclass(frozen=True)
class SyntheticDataset:
    """Where :func:`make_yolo_dataset` wrote a dataset."""

    root: Path
    data_yaml: Path
    names: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)


def _assets_dir() -> Path:
    """The folder of the sample photos shipped with fpblur (byte-identical to the ultralytics wheel's)."""
    return photo_path("zidane.jpg").parent


def face_crops(context: float = 0.25) -> list[tuple[np.ndarray, tuple[int, int, int, int]]]:
    """Crops of the four faces of :data:`FACE_SOURCES` from the shipped sample photos.

    Args:
        context: margin around each face, as a fraction of its width/height on each side (clipped to the photo).

    Returns:
        ``(crop_bgr, face_box_inside_crop)`` per face: an H×W×3 uint8 crop and the face's integer
        ``(x1, y1, x2, y2)`` pixels within it.

    Raises:
        FileNotFoundError: a sample photo is missing from the package.
    """
    assets = _assets_dir()
    cache: dict[str, np.ndarray] = {}
    out = []
    for name, (x1, y1, x2, y2) in FACE_SOURCES:
        if name not in cache:
            img = cv2.imread(str(assets / name))
            if img is None:
                raise FileNotFoundError(f"{assets / name}: sample photo missing from the fpblur package")
            cache[name] = img
        img = cache[name]
        h, w = img.shape[:2]
        mx, my = int((x2 - x1) * context), int((y2 - y1) * context)
        cx1, cy1, cx2, cy2 = max(0, x1 - mx), max(0, y1 - my), min(w, x2 + mx), min(h, y2 + my)
        out.append((img[cy1:cy2, cx1:cx2].copy(), (x1 - cx1, y1 - cy1, x2 - cx1, y2 - cy1)))
    return out


def background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A random ``h × w × 3`` uint8 BGR background: a two-colour gradient, 3–8 rectangles/circles/lines and
    Gaussian noise (σ 6).
    """
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0.0, 1.0, w if rng.random() < 0.5 else h, dtype=np.float32)
    ramp = (c0[None] * (1 - t[:, None]) + c1[None] * t[:, None]).astype(np.uint8)
    img = np.broadcast_to(ramp[None], (h, w, 3)) if len(t) == w else np.broadcast_to(ramp[:, None], (h, w, 3))
    img = np.ascontiguousarray(img)
    for _ in range(int(rng.integers(3, 9))):
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        kind = rng.integers(0, 3)
        if kind == 0:
            x2, y2 = x + int(rng.integers(10, w // 2)), y + int(rng.integers(10, h // 2))
            cv2.rectangle(img, (x, y), (x2, y2), color, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), int(rng.integers(5, max(6, min(w, h) // 4))), color, -1)
        else:
            cv2.line(img, (x, y), (int(rng.integers(0, w)), int(rng.integers(0, h))), color, int(rng.integers(1, 6)))
    noise = rng.normal(0, 6, img.shape).astype(np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def draw_plate(rng: np.random.Generator, width: int) -> np.ndarray:
    """A white plate ``width`` px wide (aspect 3.5–4.7, at least 8 px high) with a dark border and 5–7 random
    black characters (``cv2.putText``), as an H×width×3 uint8 BGR array.
    """
    height = max(8, int(round(width / rng.uniform(3.5, 4.7))))
    plate = np.full((height, width, 3), int(rng.integers(215, 256)), np.uint8)
    cv2.rectangle(plate, (0, 0), (width - 1, height - 1), (20, 20, 20), max(1, width // 60))
    text = "".join(rng.choice(list(_PLATE_CHARS), int(rng.integers(5, 8))))
    scale = 1.0
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
    scale = min(0.84 * width / tw, 0.66 * height / th)
    thick = max(1, int(round(scale * 2)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    org = ((width - tw) // 2, (height + th) // 2)
    cv2.putText(plate, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick, cv2.LINE_AA)
    return plate


def _jitter(rng: np.random.Generator, crop: np.ndarray) -> np.ndarray:
    out = crop.astype(np.float32) * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
    return np.clip(out, 0, 255).astype(np.uint8)


def _place(rng, w, h, ow, oh, taken: list[tuple[int, int, int, int]]) -> tuple[int, int] | None:
    for _ in range(30):
        x, y = int(rng.integers(0, max(1, w - ow))), int(rng.integers(0, max(1, h - oh)))
        if all(x + ow <= a or b <= x or y + oh <= c or d <= y for a, c, b, d in taken):
            return x, y
    return None


def synthetic_image(
    rng: np.random.Generator, size: tuple[int, int] = (320, 320), targets=TARGETS, max_objects: int = 4, crops=None
) -> SyntheticImage:
    """One generated image with 1..``max_objects`` faces and/or plates (objects that do not fit without overlap
    are skipped, so fewer may appear).

    Args:
        rng: the random generator (the only source of randomness).
        size: ``(width, height)`` in pixels.
        targets: what may be pasted (``"face"``, ``"plate"``).
        max_objects: upper bound on the objects tried.
        crops: face crops from :func:`face_crops` (default: read them now).

    Returns:
        A :class:`SyntheticImage` (BGR uint8; float32 xyxy pixel boxes aligned with ``labels``).
    """
    w, h = size
    img = background(rng, w, h)
    crops = crops if crops is not None else face_crops()
    boxes, labels, taken = [], [], []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        target = targets[int(rng.integers(0, len(targets)))]
        if target == "face":
            crop, (fx1, fy1, fx2, fy2) = crops[int(rng.integers(0, len(crops)))]
            face_h = rng.uniform(0.08, 0.35) * h
            s = face_h / (fy2 - fy1)
            obj = cv2.resize(_jitter(rng, crop), None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            box = np.array([fx1, fy1, fx2, fy2], np.float64) * s
            if rng.random() < 0.5:
                obj = obj[:, ::-1]
                box = np.array([obj.shape[1] - box[2], box[1], obj.shape[1] - box[0], box[3]])
        else:
            obj = draw_plate(rng, int(rng.uniform(0.12, 0.45) * w))
            box = np.array([0, 0, obj.shape[1], obj.shape[0]], np.float64)
        oh, ow = obj.shape[:2]
        if ow >= w or oh >= h:
            continue
        pos = _place(rng, w, h, ow, oh, taken)
        if pos is None:
            continue
        x, y = pos
        img[y : y + oh, x : x + ow] = obj
        taken.append((x, y, x + ow, y + oh))
        boxes.append(box + [x, y, x, y])
        labels.append(target)
    arr = np.asarray(boxes, np.float32).reshape(-1, 4)
    return SyntheticImage(img, arr, tuple(labels))


def _generate(n: int, seed: int, size, targets, max_objects) -> list[SyntheticImage]:
    rng = np.random.default_rng(seed)
    crops = face_crops() if "face" in targets else None
    return [synthetic_image(rng, size, targets, max_objects, crops) for _ in range(n)]


def yolo_labels(sample: SyntheticImage, names: tuple[str, ...]) -> str:
    """YOLO label text (``cls cx cy w h`` normalised) of ``sample``'s boxes whose label is in ``names``; the class
    id is the label's index in ``names``.
    """
    h, w = sample.image.shape[:2]
    keep = [i for i, lab in enumerate(sample.labels) if lab in names]
    ids = [names.index(sample.labels[i]) for i in keep]
    return format_labels(ids, xyxy_to_cxcywh(sample.boxes[keep], w, h))


def make_yolo_dataset(
    out_dir: str | Path,
    target: str = "face",
    n_train: int = 16,
    n_val: int = 8,
    size: tuple[int, int] = (320, 320),
    seed: int = 0,
    max_objects: int = 4,
) -> SyntheticDataset:
    """Write a YOLO-layout dataset of ``target`` and its ``data.yaml`` (absolute ``path``).

    Same arguments give byte-identical label files (images are PNG, so pixels are identical too).

    Args:
        out_dir: the dataset folder (created; files of the same names are replaced).
        target: ``"face"``, ``"plate"`` or ``"both"`` (classes 0 face, 1 plate).
        n_train, n_val: images per split.
        size: ``(width, height)`` of every image in pixels.
        seed: the random seed (face and plate sets use different backgrounds).
        max_objects: at most this many objects per image.

    Returns:
        Where it was written (:class:`SyntheticDataset`).

    Raises:
        ValueError: an unknown ``target``.
    """
    if target not in (*TARGETS, "both"):
        raise ValueError(f"unknown target {target!r}; expected face, plate or both")
    names = TARGETS if target == "both" else (target,)
    root = Path(out_dir)
    counts = {}
    offset = 0 if target == "face" else 5_000  # face and plate sets do not share backgrounds
    for split, n, s in (("train", n_train, seed + offset), ("val", n_val, seed + offset + 10_000)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i, sample in enumerate(_generate(n, s, size, names, max_objects)):
            stem = f"{split}_{i:04d}"
            cv2.imwrite(str(root / "images" / split / f"{stem}.png"), sample.image)
            (root / "labels" / split / f"{stem}.txt").write_text(yolo_labels(sample, names))
        counts[split] = n
    yaml_path = write_data_yaml(root / "data.yaml", root.resolve(), names)
    return SyntheticDataset(root, yaml_path, names, counts)


def wider_flags(box: np.ndarray) -> dict:
    """WIDER-style flags for a generated face box (``x1 y1 x2 y2`` pixels): every attribute 0, subsets by
    height (≥ 50 px easy, ≥ 30 px medium, every face hard).
    """
    h = float(box[3] - box[1])
    return {
        "blur": 0,
        "occlusion": 0,
        "invalid": 0,
        "pose": 0,
        "expression": 0,
        "illumination": 0,
        "easy": h >= 50,
        "medium": h >= 30,
        "hard": True,
    }


def make_wider_dataset(
    out_dir: str | Path,
    target: str = "face",
    n: int = 8,
    size: tuple[int, int] = (320, 320),
    seed: int = 100,
    max_objects: int = 4,
    flags: bool = True,
) -> Path:
    """Write ``images/`` + ``labels.json`` (+ ``flags.json``) like the evaluation data.

    Args:
        out_dir: the dataset folder (created).
        target: ``"face"`` or ``"plate"`` (one target per set).
        n: number of images; size: ``(width, height)`` in pixels; seed: the random seed.
        max_objects: at most this many objects per image.
        flags: also write ``flags.json`` (:func:`wider_flags` per box).

    Returns:
        ``out_dir`` as a Path.

    Raises:
        ValueError: an unknown ``target``.
    """
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; expected face or plate")
    root = Path(out_dir)
    (root / "images").mkdir(parents=True, exist_ok=True)
    labels: dict[str, list[list[int]]] = {}
    all_flags: dict[str, list[dict]] = {}
    for i, sample in enumerate(_generate(n, seed, size, (target,), max_objects)):
        name = f"{target}_{i:04d}.png"
        cv2.imwrite(str(root / "images" / name), sample.image)
        boxes = [b for b, lab in zip(sample.boxes, sample.labels) if lab == target]
        labels[name] = [[int(round(v)) for v in b] for b in boxes]
        all_flags[name] = [wider_flags(b) for b in boxes]
    (root / "labels.json").write_text(json.dumps(labels, indent=1))
    if flags:
        (root / "flags.json").write_text(json.dumps(all_flags, indent=1))
    return root
