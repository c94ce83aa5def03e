"""Reading and writing still images safely: EXIF orientation, odd formats, metadata stripping, atomic writes."""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from fpblur.config.settings import DEFAULT_MAX_PIXELS  # larger images are refused (configurable)
from fpblur.core.files import InputError, atomic_output

JPEG_QUALITY = 95

# EXIF orientation → (rotation code, flip) applied to the decoded pixels (PIL's exif_transpose table).
_ORIENT = {
    2: (None, 1),
    3: (cv2.ROTATE_180, None),
    4: (None, 0),
    5: (cv2.ROTATE_90_COUNTERCLOCKWISE, 1),  # transpose: mirror, then rotate
    6: (cv2.ROTATE_90_CLOCKWISE, None),
    7: (cv2.ROTATE_90_CLOCKWISE, 1),  # transverse
    8: (cv2.ROTATE_90_COUNTERCLOCKWISE, None),
}


@dataclass
class LoadedImage:
    """A decoded image file (:func:`read_image`).

    Attributes:
        path: the file.
        pixels: H×W (gray), H×W×3 (BGR) or H×W×4 (BGRA), uint8 or uint16 as stored, EXIF orientation applied
            (upright).
        format: PIL's format name, e.g. ``"JPEG"``, ``"PNG"`` (``""`` if unknown).
        exif: the raw EXIF block (None: none).
        icc_profile: the ICC colour profile (None: none).
    """

    path: Path
    pixels: np.ndarray
    format: str
    exif: bytes | None
    icc_profile: bytes | None


def apply_orientation(pixels: np.ndarray, orientation: int | None) -> np.ndarray:
    """Pixels as a viewer shows them, given their EXIF orientation tag (PIL's ``exif_transpose`` table).

    Args:
        pixels: H×W or H×W×C, any dtype.
        orientation: the EXIF orientation, 1–8 (None or an unknown value: 1, unchanged).

    Returns:
        The flipped and/or rotated pixels (``pixels`` itself for orientation 1).
    """
    rot, flip = _ORIENT.get(orientation or 1, (None, None))
    if flip is not None:
        pixels = cv2.flip(pixels, flip)
    if rot is not None:
        pixels = cv2.rotate(pixels, rot)
    return pixels


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` fully, upright, at its stored depth and channel count.

    PIL validates the file (empty, not an image, truncated, too large) and reads EXIF; OpenCV decodes the
    pixels at their stored depth and channel count (16-bit and alpha survive; formats OpenCV cannot decode
    come from PIL as 8-bit BGR/BGRA, other depths are clipped to 8 bits).

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels (width × height) than this, before decoding.

    Returns:
        The :class:`LoadedImage` (pixels with the EXIF orientation applied, EXIF and ICC kept raw).

    Raises:
        InputError: the file cannot be read, is empty, is not an image, is corrupt or truncated, or exceeds
            ``max_pixels`` (one line naming the file).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    data = path.read_bytes()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise InputError(f"{path}: {w}×{h} image exceeds the pixel limit of {max_pixels:,}")
                fmt = im.format or ""
                exif = im.info.get("exif")
                icc = im.info.get("icc_profile")
                orientation = im.getexif().get(0x0112)
                im.load()  # raises on truncated data
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{path}: image exceeds the pixel limit of {max_pixels:,}") from None
    except (UnidentifiedImageError, ImportError):  # ImportError: a PIL plugin probing an unknown format
        raise InputError(f"{path}: not a readable image file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{path}: corrupt or truncated image ({exc})") from None
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        # Formats OpenCV cannot decode but PIL can (e.g. some TIFF flavours): fall back to PIL, 8-bit.
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGBA" if "A" in im.getbands() else "RGB"))
        pixels = cv2.cvtColor(rgb, cv2.COLOR_RGBA2BGRA if rgb.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    if pixels.dtype not in (np.uint8, np.uint16):
        pixels = np.clip(pixels, 0, 255).astype(np.uint8)
    pixels = apply_orientation(pixels, orientation)
    return LoadedImage(path, pixels, fmt, exif, icc)


def _exif_without_orientation(exif: bytes | None) -> bytes | None:
    if not exif:
        return None
    ex = Image.Exif()
    ex.load(exif)
    ex[0x0112] = 1  # pixels are already upright
    return ex.tobytes()


def encode_image(pixels: np.ndarray, suffix: str, *, exif: bytes | None = None, icc: bytes | None = None) -> bytes:
    """Encode pixels as the format of ``suffix``; without ``exif``/``icc`` no metadata at all is written.

    With metadata, 8-bit JPEG, PNG, WebP and TIFF are written by PIL (EXIF orientation reset to 1: the pixels
    are upright); everything else by OpenCV, without metadata.  JPEG and WebP quality: :data:`JPEG_QUALITY`.

    Args:
        pixels: H×W, H×W×3 (BGR) or H×W×4 (BGRA), uint8 or uint16.
        suffix: the extension with its dot, any case (``".jpg"``).
        exif: an EXIF block to keep.
        icc: an ICC profile to keep.

    Returns:
        The encoded file's bytes.

    Raises:
        InputError: no encoder for ``suffix``, or one that refuses this depth/channel count.
    """
    suffix = suffix.lower()
    if exif or icc:
        if pixels.dtype == np.uint8 and suffix in (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff"):
            if pixels.ndim == 2:
                im = Image.fromarray(pixels)
            elif pixels.shape[2] == 4:
                im = Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGRA2RGBA))
            else:
                im = Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))
            buf = io.BytesIO()
            kw: dict = {}
            if exif:
                kw["exif"] = _exif_without_orientation(exif)
            if icc:
                kw["icc_profile"] = icc
            fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}[
                suffix
            ]
            if fmt in ("JPEG", "WEBP"):
                kw["quality"] = JPEG_QUALITY
            im.save(buf, format=fmt, **kw)
            return buf.getvalue()
    params: list[int] = []
    if suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    elif suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, JPEG_QUALITY]
    try:
        ok, encoded = cv2.imencode(suffix, pixels, params)
    except cv2.error:  # no encoder for the extension, or one that refuses this depth/channel count
        ok = False
    if not ok:
        raise InputError(f"cannot encode an image as {suffix}")
    return encoded.tobytes()


def can_write_image(path: str | os.PathLike) -> bool:
    """Whether OpenCV has an encoder for ``path``'s extension (how :func:`write_image` picks the format)."""
    suffix = Path(path).suffix or ".png"
    try:
        return bool(cv2.haveImageWriter(f"x{suffix}"))
    except cv2.error:
        return False


def write_image(
    dst: str | os.PathLike, pixels: np.ndarray, *, exif: bytes | None = None, icc: bytes | None = None
) -> None:
    """Atomically write ``pixels`` to ``dst`` (format from its extension; none: PNG).

    Args:
        dst: the output file (its folder is created).
        pixels: H×W, H×W×3 (BGR) or H×W×4 (BGRA), uint8 or uint16.
        exif, icc: metadata to keep (:func:`encode_image`); none by default.

    Raises:
        InputError: the pixels cannot be encoded in that format (naming ``dst``).
        OSError: ``dst`` cannot be written.
    """
    dst = Path(dst)
    try:
        data = encode_image(pixels, dst.suffix or ".png", exif=exif, icc=icc)
    except InputError as exc:
        raise InputError(f"{dst}: {exc}") from None
    with atomic_output(dst) as tmp:
        tmp.write_bytes(data)
