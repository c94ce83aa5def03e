"""Reading and writing images safely: one decoding path (PIL) owning EXIF orientation for every format, every
frame of animations and multi-page TIFFs, odd modes, the user's pixel limit, metadata stripping, atomic writes."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms, UnidentifiedImageError

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


# Animated / multi-page formats whose every frame is read and written back (PIL's save_all writers).
MULTI_FRAME_SUFFIXES = {".gif": "GIF", ".png": "PNG", ".apng": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
# Formats written by PIL, not OpenCV: GIF (palette quantization) and APNG have no OpenCV encoder we rely on.
_PIL_ONLY_SUFFIXES = {".gif": "GIF", ".apng": "PNG"}
# ISO-BMFF brands of HEIF/HEIC files (Pillow reads AVIF, but has no HEVC-in-HEIF decoder).
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
# PIL's decompression-bomb limit is a process-wide setting: while one read replaces it by the caller's
# ``max_pixels``, other reads wait (our own limit is checked on the header, before decoding).
_PIL_LIMIT_LOCK = threading.Lock()


@dataclass
class LoadedImage:
    """A decoded image file (:func:`read_image`).

    Attributes:
        path: the file.
        pixels: the first frame: H×W (gray), H×W×3 (BGR) or H×W×4 (BGRA), uint8 or uint16 as stored, EXIF
            orientation applied (upright).
        format: PIL's format name, e.g. ``"JPEG"``, ``"PNG"`` (``""`` if unknown).
        exif: the raw EXIF block (None: none).
        icc_profile: the ICC colour profile of ``pixels`` (None: none, or dropped because the pixels were
            converted to sRGB, e.g. from CMYK).
        frames: every frame (animated GIF/WebP/APNG) or page (multi-page TIFF), each like ``pixels``
            (``frames[0] is pixels``); one element for a still image.
        durations: per frame, how long it is shown in milliseconds (None: not animated).
        loop: the animation's loop count (0: forever; None: not given, i.e. played once for GIF).
        mode: PIL's mode of the stored pixels (``"RGB"``, ``"CMYK"``, ``"I;16"`` …).
        converted: how the pixels were converted from ``mode`` (``""``: not converted), e.g.
            ``"CMYK → RGB"``.
    """

    path: Path
    pixels: np.ndarray
    format: str
    exif: bytes | None
    icc_profile: bytes | None
    frames: list[np.ndarray] = field(default_factory=list)
    durations: list[float] | None = None
    loop: int | None = None
    mode: str = ""
    converted: str = ""

    def __post_init__(self) -> None:
        if not self.frames:
            self.frames = [self.pixels]

    @property
    def animated(self) -> bool:
        """Whether there is more than one frame/page."""
        return len(self.frames) > 1


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


@contextlib.contextmanager
def _pil_pixel_limit(max_pixels: int) -> Iterator[None]:
    """Make PIL's decompression-bomb check the caller's limit (warnings silenced: we refuse above
    ``max_pixels`` ourselves, from the header), then restore PIL's setting."""
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max(int(max_pixels), 1)  # PIL errors only above twice this
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _pil_to_array(im: Image.Image) -> tuple[np.ndarray, str]:
    """One loaded PIL frame → ``(pixels, how it was converted)``: gray uint8/uint16, BGR or BGRA uint8.

    L, RGB, RGBA and I;16 are kept as they are; 1 → L; LA/La/PA/P with transparency/RGBa → BGRA (gray or
    palette colours expanded); P without transparency, RGBX, YCbCr, LAB, HSV → BGR; CMYK → BGR through its ICC
    profile when it has one (else PIL's plain conversion); I (32-bit) → uint16 (clipped).

    Raises:
        InputError: 32-bit float pixels (no faithful 8/16-bit picture); the caller adds the file name.
    """
    mode = im.mode
    if mode == "L":
        return np.asarray(im), ""
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im.convert("I")).clip(0, 65535).astype(np.uint16), ""
    if mode == "I":
        return np.asarray(im).clip(0, 65535).astype(np.uint16), "I (32-bit) → 16-bit gray (clipped)"
    if mode == "F":
        raise InputError("32-bit floating-point images are not supported")
    if mode == "1":
        return np.asarray(im.convert("L")), "1 → L"
    if mode == "CMYK":
        icc = im.info.get("icc_profile")
        if icc:
            try:
                rgb = ImageCms.profileToProfile(
                    im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), ImageCms.createProfile("sRGB"), outputMode="RGB"
                )
                assert rgb is not None
                return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR), "CMYK → sRGB (its ICC profile)"
            except (ImageCms.PyCMSError, OSError, ValueError):
                pass  # a broken profile: PIL's plain conversion below
        return cv2.cvtColor(np.asarray(im.convert("RGB")), cv2.COLOR_RGB2BGR), "CMYK → RGB"
    has_alpha = "A" in im.getbands() or mode in ("RGBa", "La", "PA") or "transparency" in im.info
    if mode == "RGB":
        return cv2.cvtColor(np.asarray(im), cv2.COLOR_RGB2BGR), ""
    if mode == "RGBA":
        return cv2.cvtColor(np.asarray(im), cv2.COLOR_RGBA2BGRA), ""
    if has_alpha:
        return cv2.cvtColor(np.asarray(im.convert("RGBA")), cv2.COLOR_RGBA2BGRA), f"{mode} → RGBA"
    return cv2.cvtColor(np.asarray(im.convert("RGB")), cv2.COLOR_RGB2BGR), f"{mode} → RGB"


def _deep_pixels(data: bytes, upright8: np.ndarray, orientation: int | None) -> np.ndarray | None:
    """16-bit colour PNG/TIFF pixels (PIL holds colour at 8 bits only), decoded by OpenCV.

    OpenCV's TIFF reader applies the orientation tag itself, its PNG reader does not: rather than trusting
    either, the decode (as is, or with ``orientation`` applied) must agree with PIL's upright 8-bit decode
    ``upright8`` (same size, high bytes within 1), else None (the caller keeps the 8-bit pixels).
    """
    deep = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if deep is None or deep.dtype != np.uint16 or deep.ndim != upright8.ndim:
        return None
    for candidate in (apply_orientation(deep, orientation), deep):
        if candidate.shape == upright8.shape:
            high = (candidate.astype(np.int32) // 256).astype(np.int16)
            if np.abs(high - upright8.astype(np.int16)).max() <= 1:
                return candidate
    return None


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` fully, upright: every frame of an animation or page of a multi-page TIFF.

    One path for every format: PIL decodes, then the EXIF orientation that PIL has not applied itself (its TIFF
    reader applies and removes the tag; JPEG, PNG, WebP… keep it) is applied here, so no format is turned twice.
    Modes are mapped as :func:`_pil_to_array` says; 16-bit colour PNG/TIFF keep 16 bits (OpenCV decodes those,
    checked against PIL's decode).  The pixel limit is ``max_pixels`` alone: checked on the header of every
    frame before it is decoded, and PIL's own decompression-bomb limit is set to it while reading.

    Args:
        path: the image file.
        max_pixels: refuse images whose width × height (of any frame) exceeds this, before decoding.

    Returns:
        The :class:`LoadedImage` (upright pixels, frame durations and loop count of animations, EXIF and ICC raw).

    Raises:
        InputError: the file cannot be read, is empty, is not an image (HEIF/HEIC named as such), is corrupt or
            truncated, has float pixels, or exceeds ``max_pixels`` (one line naming the file).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    data = path.read_bytes()
    frames: list[np.ndarray] = []
    durations: list[float] = []
    converted = ""
    try:
        with _pil_pixel_limit(max_pixels), Image.open(io.BytesIO(data)) as im:
            fmt = im.format or ""
            mode = im.mode
            exif = im.info.get("exif")
            icc = im.info.get("icc_profile")
            n = int(getattr(im, "n_frames", 1) or 1)
            animated = fmt in ("GIF", "PNG", "WEBP") and n > 1
            loop = im.info.get("loop") if animated else None
            for k in range(n):
                if k:
                    im.seek(k)
                w, h = im.size
                if w * h > max_pixels:
                    what = f"frame {k + 1} ({w}×{h})" if n > 1 else f"{w}×{h} image"
                    raise InputError(f"{path}: {what} exceeds the pixel limit of {max_pixels:,}")
                deep = fmt in ("PNG", "TIFF") and n == 1 and any(";16" in str(t.args) for t in im.tile)
                im.load()  # raises on truncated data; PIL's TIFF reader applies (and drops) the orientation here
                orientation = im.getexif().get(0x0112)  # what is left for us to apply
                pixels, how = _pil_to_array(im)
                converted = converted or how
                pixels = apply_orientation(pixels, orientation)
                if deep and pixels.ndim == 3 and pixels.dtype == np.uint8:
                    deep_pixels = _deep_pixels(data, pixels, orientation)
                    pixels = pixels if deep_pixels is None else deep_pixels  # None: OpenCV disagrees, 8 bits
                frames.append(np.ascontiguousarray(pixels))
                if animated:
                    durations.append(float(im.info.get("duration") or 0))
            if "→ sRGB" in converted:
                icc = None  # the profile described the CMYK pixels, not the converted ones
    except InputError as exc:
        msg = str(exc)
        raise InputError(msg if msg.startswith(f"{path}:") else f"{path}: {msg}") from None
    except Image.DecompressionBombError:
        raise InputError(f"{path}: image exceeds the pixel limit of {max_pixels:,}") from None
    except (UnidentifiedImageError, ImportError):  # ImportError: a PIL plugin probing an unknown format
        if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
            raise InputError(
                f"{path}: HEIF/HEIC images are not supported (no decoder installed); convert to JPEG or PNG first"
            ) from None
        raise InputError(f"{path}: not a readable image file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputError(f"{path}: corrupt or truncated image ({exc})") from None
    return LoadedImage(
        path,
        frames[0],
        fmt,
        exif,
        icc,
        frames=frames,
        durations=durations or None,
        loop=None if loop is None else int(loop),
        mode=mode,
        converted=converted,
    )


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
    are upright); GIF and ``.apng`` always by PIL (GIF: adaptive palette); everything else by OpenCV, without
    metadata.  JPEG and WebP quality: :data:`JPEG_QUALITY`.

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
    pil_format = _PIL_ONLY_SUFFIXES.get(suffix)
    if pil_format is None and (exif or icc) and pixels.dtype == np.uint8:
        pil_format = {
            ".jpg": "JPEG",
            ".jpeg": "JPEG",
            ".png": "PNG",
            ".webp": "WEBP",
            ".tif": "TIFF",
            ".tiff": "TIFF",
        }.get(suffix)
    if pil_format is not None:
        return _pil_save([pixels], pil_format, exif=exif, icc=icc)
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


def _pil_image(pixels: np.ndarray) -> Image.Image:
    """H×W (uint8/uint16 gray), H×W×3 BGR or H×W×4 BGRA uint8 → a PIL image (L, I;16, RGB, RGBA).

    Raises:
        InputError: 16-bit colour (PIL has no such mode).
    """
    if pixels.ndim == 2:
        return Image.fromarray(pixels)
    if pixels.dtype != np.uint8:
        raise InputError("16-bit colour cannot be written here (only 8-bit colour or 16-bit gray)")
    code = cv2.COLOR_BGRA2RGBA if pixels.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return Image.fromarray(cv2.cvtColor(pixels, code))


def _pil_save(
    frames: Sequence[np.ndarray],
    fmt: str,
    *,
    durations: Sequence[float] | None = None,
    loop: int | None = None,
    exif: bytes | None = None,
    icc: bytes | None = None,
) -> bytes:
    """Encode one frame, or several (``save_all``: an animation, or TIFF pages), with PIL in format ``fmt``."""
    images = [_pil_image(f) for f in frames]
    kw: dict = {}
    if len(images) > 1:
        kw["save_all"] = True
        kw["append_images"] = images[1:]
    if durations is not None and len(images) > 1:
        # GIF stores centiseconds, WebP milliseconds, APNG a fraction: PIL rounds; inputs read from these
        # formats come back exactly
        kw["duration"] = [int(round(d)) if fmt != "PNG" else d for d in durations]
    if loop is not None and fmt != "TIFF":
        kw["loop"] = int(loop)
    if exif:
        kw["exif"] = _exif_without_orientation(exif)
    if icc:
        kw["icc_profile"] = icc
    if fmt in ("JPEG", "WEBP"):
        kw["quality"] = JPEG_QUALITY
    buf = io.BytesIO()
    try:
        images[0].save(buf, format=fmt, **kw)
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot encode as {fmt} ({exc})") from None
    return buf.getvalue()


def encode_frames(
    frames: Sequence[np.ndarray],
    suffix: str,
    *,
    durations: Sequence[float] | None = None,
    loop: int | None = None,
    exif: bytes | None = None,
    icc: bytes | None = None,
) -> bytes:
    """Encode the frames of an animation (GIF, APNG as ``.png``/``.apng``, WebP) or the pages of a multi-page
    TIFF with PIL; a single frame goes through :func:`encode_image`.

    Args:
        frames: each H×W, H×W×3 (BGR) or H×W×4 (BGRA); uint8 (16-bit only as gray TIFF/PNG pages).
        suffix: the extension with its dot, any case.
        durations: per frame, milliseconds shown (animations; kept exactly up to the format's unit).
        loop: loop count (0: forever; None: not written, i.e. played once for GIF).
        exif, icc: metadata to keep (none by default).

    Returns:
        The encoded file's bytes.

    Raises:
        InputError: ``suffix`` is a single-image format (JPEG, BMP…), or the frames cannot be encoded.
    """
    if len(frames) == 1:
        return encode_image(frames[0], suffix, exif=exif, icc=icc)
    suffix = suffix.lower()
    fmt = MULTI_FRAME_SUFFIXES.get(suffix)
    if fmt is None:
        raise InputError(
            f"{len(frames)} frames cannot be written as {suffix or 'an image without extension'} "
            "(a single-image format); use .gif, .png, .webp or .tif"
        )
    return _pil_save(frames, fmt, durations=durations, loop=loop, exif=exif, icc=icc)


def can_write_image(path: str | os.PathLike) -> bool:
    """Whether there is an encoder for ``path``'s extension (OpenCV's, or PIL's for GIF/APNG; how
    :func:`write_image` picks the format)."""
    suffix = Path(path).suffix or ".png"
    if suffix.lower() in _PIL_ONLY_SUFFIXES:
        return True
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


def write_frames(
    dst: str | os.PathLike,
    frames: Sequence[np.ndarray],
    *,
    durations: Sequence[float] | None = None,
    loop: int | None = None,
    exif: bytes | None = None,
    icc: bytes | None = None,
) -> None:
    """Atomically write every frame (an animation or multi-page TIFF: :func:`encode_frames`) to ``dst``.

    Raises:
        InputError: the frames cannot be encoded in that format (naming ``dst``).
        OSError: ``dst`` cannot be written.
    """
    dst = Path(dst)
    try:
        data = encode_frames(frames, dst.suffix or ".png", durations=durations, loop=loop, exif=exif, icc=icc)
    except InputError as exc:
        raise InputError(f"{dst}: {exc}") from None
    with atomic_output(dst) as tmp:
        tmp.write_bytes(data)
