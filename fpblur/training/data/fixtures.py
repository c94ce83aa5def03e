"""Tiny generated data for the notebooks' smoke mode and the tests (no downloads, deterministic).

* :func:`make_mini_wider` — WIDER-format zip archives (zero-face image, invalid, degenerate, tiny and
  out-of-image boxes) plus their :class:`~fpblur.training.data.download.RemoteFile` specs for a local server.
* :func:`make_lazy_page` — a web page that appends images as it is scrolled, with duplicates, a near
  duplicate, non-image URLs and a robots.txt-disallowed image.
* :func:`make_video` — a short video of distinct static scenes (for interval / scene-change sampling).
* :func:`make_voc_set` — VOC XMLs with deliberate errors (wrong ``<size>``, boxes outside, unknown class…).
* :func:`make_flawed_yolo` — a YOLO dataset with one instance of every QA finding.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from fpblur.training.data.download import RemoteFile
from fpblur.training.data.hashing import sha256_file


def pattern(seed: int, width: int = 320, height: int = 240, cells: int = 6) -> np.ndarray:
    """A distinctive ``height × width × 3`` uint8 picture: a ``cells × cells`` random colour grid and one disc
    (perceptual hashes of different seeds differ); written as RGB by :func:`save_jpeg`.
    """
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 256, (cells, cells, 3), dtype=np.uint8)
    img = cv2.resize(grid, (width, height), interpolation=cv2.INTER_NEAREST)
    cv2.circle(
        img,
        (int(rng.integers(width)), int(rng.integers(height))),
        max(width, height) // 6,
        tuple(int(v) for v in rng.integers(0, 256, 3)),
        -1,
    )
    return img


def save_jpeg(rgb: np.ndarray, path: str | os.PathLike, quality: int = 90) -> Path:
    """Write an RGB uint8 array as a JPEG (``quality`` 0–100), creating the folder; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, "JPEG", quality=quality)
    return path


def jpeg_bytes(rgb: np.ndarray, quality: int = 90) -> bytes:
    """An RGB uint8 array encoded as JPEG bytes (``quality`` 0–100)."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# WIDER FACE


# (split, rel path, image size, [(x, y, w, h, blur, expression, illumination, invalid, occlusion, pose)])
_WIDER = [
    (
        "train",
        "0--Parade/0_Parade_a_1.jpg",
        (320, 240),
        [(40, 50, 60, 70, 0, 0, 0, 0, 0, 0), (150, 60, 50, 60, 1, 0, 0, 0, 1, 0)],
    ),
    ("train", "0--Parade/0_Parade_b_2.jpg", (320, 240), []),  # no face: one all-zero line
    (
        "train",
        "1--Handshaking/1_Handshaking_c_3.jpg",
        (300, 200),
        [
            (10, 10, 40, 40, 0, 0, 0, 1, 0, 0),  # invalid
            (100, 100, 0, 30, 0, 0, 0, 0, 0, 0),  # degenerate (w = 0)
            (200, 20, 3, 3, 2, 0, 0, 0, 0, 0),  # tiny
            (270, 150, 60, 60, 0, 1, 1, 0, 2, 1),
        ],
    ),  # sticks out of the image: clipped
    ("val", "0--Parade/0_Parade_d_4.jpg", (320, 240), [(60, 40, 80, 90, 0, 0, 0, 0, 0, 0)]),
    ("val", "2--Demonstration/2_Demonstration_e_5.jpg", (256, 256), []),
]


@dataclass
class MiniWider:
    """What :func:`make_mini_wider` wrote: the ``folder`` and its archives by key (``train``, ``val``, ``split``)."""

    folder: Path
    files: dict[str, Path]  # key (train/val/split) → archive path

    def sources(self, base_url: str) -> dict[str, RemoteFile]:
        """RemoteFiles (size + sha256) for the archives served from ``base_url`` (the folder's root)."""
        return {
            k: RemoteFile(p.name, (f"{base_url}/{p.name}",), p.stat().st_size, f"sha256:{sha256_file(p)}")
            for k, p in self.files.items()
        }


def wider_annotation_text(split: str) -> str:
    """The ``wider_face_<split>_bbx_gt.txt`` text of the mini set's ``split`` (``"train"`` or ``"val"``), in
    WIDER's format (an image without faces gets one all-zero line).
    """
    lines = []
    for s, rel, _, boxes in _WIDER:
        if s != split:
            continue
        lines += [rel, str(len(boxes))]
        lines += [" ".join(str(v) for v in b) + " " for b in boxes] or ["0 0 0 0 0 0 0 0 0 0 "]
    return "\n".join(lines) + "\n"


def make_mini_wider(folder: str | os.PathLike) -> MiniWider:
    """Write ``WIDER_train.zip``, ``WIDER_val.zip`` and ``wider_face_split.zip`` (the real archives' layout) into
    ``folder``: five images with a zero-face image and invalid, degenerate, tiny and out-of-image boxes.

    Returns:
        The :class:`MiniWider` describing them.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for split in ("train", "val"):
        path = folder / f"WIDER_{split}.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for i, (s, rel, (w, h), boxes) in enumerate(_WIDER):
                if s == split:
                    img = pattern(100 + i, w, h)
                    for x, y, bw, bh, *_ in boxes:
                        if bw > 0 and bh > 0:
                            cv2.ellipse(
                                img,
                                (int(x + bw / 2), int(y + bh / 2)),
                                (max(1, bw // 2), max(1, bh // 2)),
                                0,
                                0,
                                360,
                                (224, 172, 140),
                                -1,
                            )
                    zf.writestr(f"WIDER_{split}/images/{rel}", jpeg_bytes(img))
        files[split] = path
    path = folder / "wider_face_split.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for split in ("train", "val"):
            zf.writestr(f"wider_face_split/wider_face_{split}_bbx_gt.txt", wider_annotation_text(split))
    files["split"] = path
    return MiniWider(folder, files)


# ---------------------------------------------------------------------------------------------------------------
# lazy-loading web page


@dataclass
class LazyPage:
    """What :func:`make_lazy_page` wrote: the folder to serve and the URL paths a scraper should keep,
    de-duplicate, reject or skip.
    """

    root: Path  # serve this folder
    page: str  # path of the page, e.g. "/gallery/index.html"
    unique: list[str]  # paths of the distinct images a scraper should keep
    exact_duplicates: list[str]  # same bytes as one of ``unique`` under another URL
    near_duplicates: list[str]  # re-encoded / resized copies
    non_images: list[str]  # URLs referenced as images that are not images
    disallowed: list[str]  # blocked by robots.txt
    all_urls: list[str] = field(default_factory=list)


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>plates</title>
<style>body{{margin:0;font:16px sans-serif}} .card{{height:70vh;border-bottom:1px solid #ccc}} img{{width:200px;height:150px}}</style>
</head><body>
<h1>Street photos</h1>
<div class="card"><img src="img/photo_0.jpg" alt="0"></div>
<div class="card"><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" data-src="img/photo_1.jpg" class="lazy" alt="1"></div>
<div id="feed"></div>
<script>
const batches = {batches};
let next = 0, busy = false;
const io = new IntersectionObserver(es => es.forEach(e => {{
  if (e.isIntersecting && e.target.dataset.src) {{ e.target.src = e.target.dataset.src; io.unobserve(e.target); }}
}}));
document.querySelectorAll('img.lazy').forEach(i => io.observe(i));
function more() {{
  if (busy || next >= batches.length) return;
  busy = true;
  setTimeout(() => {{
    for (const item of batches[next]) {{
      const card = document.createElement('div'); card.className = 'card';
      const img = document.createElement('img');
      if (item.mode === 'srcset') img.setAttribute('srcset', item.url + ' 1x');
      else if (item.mode === 'lazy') {{ img.className = 'lazy'; img.dataset.src = item.url; io.observe(img); }}
      else img.src = item.url;
      card.appendChild(img); document.getElementById('feed').appendChild(card);
    }}
    next += 1; busy = false;
  }}, 150);
}}
window.addEventListener('scroll', () => {{
  if (window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 50) more();
}});
</script></body></html>
"""


def make_lazy_page(folder: str | os.PathLike, n_unique: int = 7) -> LazyPage:
    """A gallery page whose images appear only as it is scrolled to the bottom (4 batches, 150 ms apart), with
    an exact and a near duplicate, a non-image under an image URL, an HTML link and a robots.txt-disallowed image.

    Args:
        folder: the folder to write (serve it as the site root).
        n_unique: distinct images on the page.

    Returns:
        The :class:`LazyPage` listing what a scraper should find.
    """
    root = Path(folder)
    img_dir = root / "gallery" / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    unique = []
    for i in range(n_unique):
        save_jpeg(pattern(i, 320, 240), img_dir / f"photo_{i}.jpg")
        unique.append(f"/gallery/img/photo_{i}.jpg")
    shutil.copyfile(img_dir / "photo_2.jpg", img_dir / "copy_of_2.jpg")
    near = cv2.resize(pattern(3, 320, 240), (400, 300), interpolation=cv2.INTER_LINEAR)
    save_jpeg(near, img_dir / "photo_3_large.jpg", quality=70)
    (img_dir / "fake.jpg").write_text("<html><body>not an image</body></html>\n")
    (root / "gallery" / "about.html").write_text("<html><body>about</body></html>\n")
    (root / "private").mkdir(exist_ok=True)
    save_jpeg(pattern(99), root / "private" / "secret.jpg")
    (root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    rest = [f"img/photo_{i}.jpg" for i in range(2, n_unique)]
    items = [
        {"url": u, "mode": ("srcset" if k % 3 == 1 else "lazy" if k % 3 == 2 else "src")} for k, u in enumerate(rest)
    ]
    items += [
        {"url": "img/copy_of_2.jpg", "mode": "src"},
        {"url": "img/photo_3_large.jpg", "mode": "lazy"},
        {"url": "img/fake.jpg", "mode": "src"},
        {"url": "about.html", "mode": "src"},
        {"url": "/private/secret.jpg", "mode": "src"},
        {"url": "img/photo_0.jpg", "mode": "src"},
    ]
    batches = [items[i::4] for i in range(4)]
    (root / "gallery" / "index.html").write_text(_PAGE.format(batches=json.dumps(batches)))
    return LazyPage(
        root=root,
        page="/gallery/index.html",
        unique=unique,
        exact_duplicates=["/gallery/img/copy_of_2.jpg"],
        near_duplicates=["/gallery/img/photo_3_large.jpg"],
        non_images=["/gallery/img/fake.jpg", "/gallery/about.html"],
        disallowed=["/private/secret.jpg"],
        all_urls=unique
        + [
            "/gallery/img/copy_of_2.jpg",
            "/gallery/img/photo_3_large.jpg",
            "/gallery/img/fake.jpg",
            "/gallery/about.html",
            "/private/secret.jpg",
        ],
    )


# ---------------------------------------------------------------------------------------------------------------
# video


def make_video(
    path: str | os.PathLike,
    scenes: int = 3,
    scene_s: float = 2.0,
    fps: int = 10,
    size: tuple[int, int] = (160, 120),
    seed: int = 0,
) -> Path:
    """Write an MPEG-4 video of ``scenes`` static pictures with sensor noise, ``scene_s`` seconds each.

    Args:
        path: the output file (folder created).
        scenes: distinct scenes; scene_s: seconds per scene; fps: frames per second.
        size: ``(width, height)`` in pixels (even numbers for yuv420p).
        seed: the random seed.

    Returns:
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"qscale": "3"}
        n = int(round(scene_s * fps))
        rng = np.random.default_rng(seed)
        for s in range(scenes):
            base = pattern(seed * 100 + s, w, h).astype(np.int16)
            for _ in range(n):  # sensor noise only: the frames of one scene are near-duplicates
                img = np.clip(base + rng.integers(-4, 5, base.shape), 0, 255).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


# ---------------------------------------------------------------------------------------------------------------
# VOC


def voc_xml(filename: str, size: tuple[int, int] | None, objects: list[dict]) -> str:
    """A Pascal VOC annotation XML for ``filename``.

    Args:
        filename: the image's file name.
        size: ``(width, height)`` for ``<size>`` (None: no ``<size>`` element).
        objects: dicts with ``name``, ``box`` (``xmin, ymin, xmax, ymax`` pixels) and optional ``truncated`` /
            ``difficult``.
    """
    objs = []
    for o in objects:
        objs.append(
            f"  <object><name>{o['name']}</name><pose>Unspecified</pose>"
            f"<truncated>{int(o.get('truncated', 0))}</truncated><difficult>{int(o.get('difficult', 0))}</difficult>"
            f"<bndbox><xmin>{o['box'][0]}</xmin><ymin>{o['box'][1]}</ymin><xmax>{o['box'][2]}</xmax><ymax>{o['box'][3]}</ymax></bndbox></object>"
        )
    size_xml = f"  <size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>\n" if size else ""
    return (
        f"<annotation>\n  <folder>images</folder>\n  <filename>{filename}</filename>\n{size_xml}"
        + "\n".join(objs)
        + "\n</annotation>\n"
    )


@dataclass
class VocSet:
    """What :func:`make_voc_set` wrote: the ``images`` and ``annotations`` folders, the stems whose ``<size>`` is
    wrong and the XMLs without an image.
    """

    images: Path
    annotations: Path
    wrong_size: list[str]  # stems whose <size> disagrees with the image
    missing_image: list[str]


def make_voc_set(folder: str | os.PathLike) -> VocSet:
    """Plate images from three "videos" and one web page, with VOC XMLs containing deliberate errors (wrong or
    missing ``<size>``, a box leaving the image, an unknown class, a zero-width box, an alias class name, a copied
    frame in another source group, an XML without an image).

    Returns:
        The :class:`VocSet`.
    """
    folder = Path(folder)
    images, ann = folder / "images", folder / "annotations"
    images.mkdir(parents=True, exist_ok=True)
    ann.mkdir(parents=True, exist_ok=True)
    specs = []  # (stem, image seed, real size, xml size, objects)
    k = 0
    for video in ("dashA", "dashB", "dashC"):
        for t in range(3):
            objs = [{"name": "plate", "box": (60 + 10 * t, 120, 150 + 10 * t, 150)}]
            specs.append((f"{video}_t{t:03d}", 10 * k + t, (320, 240), (320, 240), objs))
        k += 1
    specs += [
        ("dashA_t100", 50, (320, 240), (640, 480), [{"name": "plate", "box": (20, 30, 110, 60)}]),  # wrong <size> (2×)
        (
            "dashB_t100",
            51,
            (320, 240),
            (240, 320),
            [{"name": "licence-plate", "box": (200, 100, 290, 130)}],
        ),  # swapped <size>, alias
        (
            "dashC_t100",
            52,
            (320, 240),
            (320, 240),
            [
                {"name": "plate", "box": (280, 200, 360, 260), "truncated": 1},  # leaves the image: clipped
                {"name": "plate", "box": (40, 40, 120, 70), "difficult": 1},
                {"name": "car", "box": (10, 10, 300, 230)},  # not in the class map
                {"name": "plate", "box": (100, 100, 100, 120)},  # zero width
            ],
        ),
        ("web_p1_0", 53, (320, 240), None, [{"name": "Plate", "box": (130, 90, 210, 118)}]),  # no <size> at all
    ]
    for stem, seed, real, xml_size, objs in specs:
        img = pattern(seed, *real)
        for o in objs:
            if o["name"].lower() != "car":
                x0, y0, x1, y1 = o["box"]
                cv2.rectangle(img, (x0, y0), (x1, y1), (250, 250, 250), -1)
        save_jpeg(img, images / f"{stem}.jpg")
        (ann / f"{stem}.xml").write_text(voc_xml(f"{stem}.jpg", xml_size, objs))
    # a frame of video A copied into video C's folder: byte-identical, but from another source group
    shutil.copyfile(images / "dashA_t000.jpg", images / "dashC_t200.jpg")
    (ann / "dashC_t200.xml").write_text(
        voc_xml("dashC_t200.jpg", (320, 240), [{"name": "plate", "box": (60, 120, 150, 150)}])
    )
    (ann / "lost_0.xml").write_text(voc_xml("lost_0.jpg", (320, 240), [{"name": "plate", "box": (1, 1, 50, 20)}]))
    return VocSet(images, ann, ["dashA_t100", "dashB_t100"], ["lost_0"])


# ---------------------------------------------------------------------------------------------------------------
# YOLO dataset with every QA finding


def make_flawed_yolo(root: str | os.PathLike) -> Path:
    """Write a YOLO dataset (``names: {0: plate}``) holding every QA finding of
    :data:`fpblur.training.data.qa.CHECKS` at least once.

    Returns:
        ``root`` as a Path.
    """
    root = Path(root)
    for sub in ("images/train", "images/val", "labels/train", "labels/val"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)

    def put(split: str, name: str, seed: int, lines: list[str] | None, size=(320, 240)) -> None:
        save_jpeg(pattern(seed, *size), root / "images" / split / f"{name}.jpg")
        if lines is not None:
            (root / "labels" / split / f"{name}.txt").write_text("".join(f"{ln}\n" for ln in lines))

    # ordinary plates: aspect 3:1 ± 15 %, width 16–26 % of the image
    for i in range(12):
        w = 0.16 + 0.10 * i / 11
        h = w / 3 * 320 / 240 * (1 + 0.15 * (rng.random() - 0.5) * 2)
        put("train" if i < 9 else "val", f"ok_{i}", 200 + i, [f"0 0.5 0.5 {w:.4f} {h:.4f}"])
    put(
        "train",
        "flaws",
        300,
        [
            "0 0.30 0.30 0.25 0.11",
            "0 0.30 0.30 0.25 0.11",  # duplicate_box
            "0 1.05 0.50 0.25 0.11",  # out_of_range
            "0 0.50 0.50 0.00 0.10",  # degenerate
            "0 0.70 0.80 0.008 0.004",  # tiny_box (2.6 × 1 px)
            "3 0.50 0.70 0.25 0.11",  # unknown_class
            "0 0.5 0.5",  # malformed
            "0 0.50 0.15 0.04 0.25",  # aspect_outlier (tall and thin)
            "0 0.50 0.50 0.95 0.42",  # size_outlier (huge)
        ],
    )
    put("train", "no_label", 301, None)  # image_without_label
    (root / "labels" / "train" / "orphan.txt").write_text("0 0.5 0.5 0.2 0.1\n")  # label_without_image
    (root / "images" / "train" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")  # unreadable_image
    (root / "labels" / "train" / "broken.txt").write_text("0 0.5 0.5 0.2 0.1\n")
    # leakage: val copies of train images
    shutil.copyfile(root / "images/train/ok_0.jpg", root / "images/val/copy_of_ok_0.jpg")  # duplicate_across_splits
    shutil.copyfile(root / "labels/train/ok_0.txt", root / "labels/val/copy_of_ok_0.txt")
    near = cv2.resize(pattern(201, 320, 240), (480, 360))
    save_jpeg(near, root / "images/val/resized_ok_1.jpg", quality=60)  # near_duplicate_across_splits
    shutil.copyfile(root / "labels/train/ok_1.txt", root / "labels/val/resized_ok_1.txt")
    (root / "data.yaml").write_text(
        f"path: {root.resolve()}\ntrain: images/train\nval: images/val\nnames:\n  0: plate\n"
    )
    return root
