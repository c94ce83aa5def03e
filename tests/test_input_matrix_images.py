"""The image input matrix: formats × modes × EXIF orientation, plus animations and multi-page TIFF.  One
`fpblur image` run over a folder of generated specimens (a real face on a flat background); each cell checks
that the output displays like the input (size, orientation, colour, alpha, gray stays gray), is in the same
format with every frame, and has the face anonymized."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from fpblur.cli import main
from fpblur.media.specimens import face_picture, pil_mode, write_specimen_image

SIZE = (240, 180)
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tif", "BMP": "bmp", "GIF": "gif", "AVIF": "avif"}
MODES = ("L", "LA", "P", "RGB", "RGBA", "I;16", "CMYK")
EXIF_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "AVIF")  # formats that store an EXIF orientation
LOSSY = {"JPEG": 5, "WEBP": 5, "AVIF": 6, "GIF": 8}  # allowed mean colour difference away from the face


def _storable(fmt: str, mode: str) -> bool:
    """Whether PIL writes ``mode`` as ``fmt`` as such (else no camera or editor file of that kind is made here)."""
    if fmt == "AVIF" and not _has_avif():
        return False
    if mode == "I;16" and fmt not in ("PNG", "TIFF"):
        return False  # PIL clips 16-bit gray to 8-bit RGB for these: no such file exists
    try:
        buf = io.BytesIO()
        pil_mode(Image.new("RGB", (8, 8), (10, 20, 30)), mode).save(buf, format=fmt)
    except (OSError, ValueError, KeyError):
        return False
    return True


def _has_avif() -> bool:
    from PIL import features

    return bool(features.check("avif"))


CELLS = [
    (fmt, mode, orientation)
    for fmt in FORMATS
    for mode in MODES
    if _storable(fmt, mode)
    for orientation in ((1, 6) if fmt in EXIF_FORMATS else (1,))
] + [(fmt, "RGB", o) for fmt in ("JPEG", "TIFF") for o in (2, 3, 4, 5, 7, 8)]
ANIMATED = {"gif": "GIF", "png": "PNG", "webp": "WEBP", "tif": "TIFF"}


def cell_name(fmt: str, mode: str, orientation: int) -> str:
    return f"{mode.replace(';', '')}_o{orientation}.{FORMATS[fmt]}"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    src = tmp_path_factory.mktemp("in")
    boxes = {}
    for fmt, mode, orientation in CELLS:
        path, box = write_specimen_image(
            src / fmt / cell_name(fmt, mode, orientation), format=fmt, mode=mode, orientation=orientation, size=SIZE
        )
        boxes[path.relative_to(src).as_posix()] = box
    for ext, fmt in ANIMATED.items():
        kw = {} if fmt == "TIFF" else {"durations": [80, 120, 200], "loop": 0}
        path, box = write_specimen_image(src / "anim" / f"anim.{ext}", format=fmt, frames=3, size=SIZE, **kw)
        boxes[path.relative_to(src).as_posix()] = box
    out = tmp_path_factory.mktemp("out")
    rc = main(["image", str(src), "-o", str(out), "--targets", "face"])
    return rc, src, out, boxes


def upright(path: Path) -> list[Image.Image]:
    """Every frame as a viewer shows it (decoded first: PIL's TIFF reader applies the tag on load)."""
    frames = []
    with Image.open(path) as im:
        for k in range(getattr(im, "n_frames", 1)):
            im.seek(k)
            im.load()
            frames.append(ImageOps.exif_transpose(im.copy()))
    return frames


def rgb(im: Image.Image) -> np.ndarray:
    if im.mode.startswith("I;16") or im.mode == "I":
        gray = (np.asarray(im).astype(np.uint32) >> 8).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2).astype(int)
    return np.asarray(im.convert("RGB")).astype(int)


def test_every_file_was_written(run):
    rc, src, out, boxes = run
    assert rc == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(boxes)


def expected(mode: str) -> Image.Image:
    """What the input shows, by construction: the upright specimen picture in ``mode`` (PIL's TIFF reader cannot
    be the reference: for some modes it drops the orientation tag without turning the pixels)."""
    import cv2

    picture, _ = face_picture(*SIZE)
    return pil_mode(Image.fromarray(cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)), mode)


@pytest.mark.parametrize(("fmt", "mode", "orientation"), CELLS, ids=lambda v: str(v))
def test_cell(run, fmt, mode, orientation):
    _, src, out, boxes = run
    rel = f"{fmt}/{cell_name(fmt, mode, orientation)}"
    with Image.open(src / rel) as a, Image.open(out / rel) as b:
        assert b.format == a.format
        assert b.getexif().get(0x0112, 1) == 1  # upright pixels, no tag left to turn them again
        in_mode, out_mode = a.mode, b.mode
    (b_img,) = upright(out / rel)
    want = expected(mode)
    assert b_img.size == SIZE  # displays upright at the input's size
    # gray stays gray (16-bit stays 16-bit), alpha is kept, CMYK and palettes become RGB(A) (GIF: a palette again)
    if in_mode == "L" or in_mode.startswith("I;16"):
        assert out_mode in ("L", "I;16", "P" if fmt == "GIF" else "L"), out_mode
        if in_mode.startswith("I;16"):
            assert out_mode.startswith("I;16")
    if in_mode == "CMYK":
        assert out_mode == "RGB"
    alpha_in = np.asarray(upright(src / rel)[0].convert("RGBA"))[:, :, 3].astype(int)
    alpha_out = np.asarray(b_img.convert("RGBA"))[:, :, 3].astype(int)
    # same transparency (compared as sorted values: PIL's TIFF reader may leave the input's pixels turned)
    assert np.abs(np.sort(alpha_out.ravel()) - np.sort(alpha_in.ravel())).mean() < 1
    pa, pb = rgb(want), rgb(b_img)
    x1, y1, x2, y2 = boxes[rel]
    assert np.abs(pb[y1:y2, x1:x2] - pa[y1:y2, x1:x2]).mean() > 8, "face not anonymized"
    rest = np.ones(pa.shape[:2], bool)
    rest[max(0, y1 - 10) : y2 + 10, max(0, x1 - 10) : x2 + 10] = False
    tolerance = LOSSY.get(fmt, 2 if mode == "P" else 1)
    assert np.abs(pb[rest] - pa[rest]).mean() < tolerance, "picture, orientation or colour changed"


@pytest.mark.parametrize("ext", ANIMATED)
def test_animation_or_pages(run, ext):
    _, src, out, boxes = run
    rel = f"anim/anim.{ext}"
    x1, y1, x2, y2 = boxes[rel]
    with Image.open(src / rel) as a, Image.open(out / rel) as b:
        assert b.format == a.format and b.n_frames == a.n_frames == 3
        for k in range(3):
            a.seek(k)
            b.seek(k)
            a.load()
            b.load()
            assert b.info.get("duration") == a.info.get("duration")
            assert b.info.get("loop") == a.info.get("loop")
            pa, pb = rgb(a), rgb(b)
            assert np.abs(pb[y1:y2, x1:x2] - pa[y1:y2, x1:x2]).mean() > 8, f"frame {k} not anonymized"


def test_matrix_covers_what_the_issue_lists():
    covered = {(f, m) for f, m, _ in CELLS}
    for fmt in ("JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF"):
        assert any(f == fmt for f, _ in covered), fmt
    for mode in MODES:
        assert any(m == mode for _, m in covered), mode
    assert {o for f, _, o in CELLS if f == "JPEG"} == set(range(1, 9))


def test_heif_is_a_clear_refusal(tmp_path, capsys):
    """No wheel in this install decodes HEIC; such a file is named as what it is."""
    heic = tmp_path / "phone.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    for output in (tmp_path / "out", tmp_path / "out" / "phone.jpg"):  # as .heic (no encoder), or as JPEG
        assert main(["image", str(heic), "-o", str(output), "--targets", "face"]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
        assert len(err) == 1 and "HEIF/HEIC images are not supported" in err[0] and "phone.heic" in err[0], err
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_face_picture_box_is_inside(tmp_path):
    img, (x1, y1, x2, y2) = face_picture(*SIZE)
    assert img.shape[:2] == (SIZE[1], SIZE[0]) and x2 <= SIZE[0] and y2 <= SIZE[1]
