"""Small specimen files of the kinds cameras, phones and editors write, generated with PyAV and Pillow: the
input matrix of ``tests/test_input_matrix_*.py`` and the examples of ``tests/test_files_examples.py``.

Every specimen shows a real face (cut from the shipped ``zidane.jpg``) at a known place on a flat background,
so a test can check that the face was anonymized and that everything else (size, orientation, colour, timing,
streams) came through as the input shows it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from fpblur.models.samples import photo_path

# zidane.jpg's larger face, by hand (x1, y1, x2, y2), with some margin
_FACE_BOX = (885, 70, 1080, 310)
BACKGROUND = (70, 140, 200)  # BGR of the flat background


@dataclass(frozen=True)
class AudioTrack:
    """An audio stream to add to a specimen video.

    Attributes:
        codec: the encoder (``"aac"``, ``"libmp3lame"``, ``"libopus"``, ``"pcm_s16le"``…).
        language: ISO 639-2 code stored as the stream's language (None: none).
        title: the stream's title (None: none).
        default: set the default disposition flag.
    """

    codec: str
    language: str | None = None
    title: str | None = None
    default: bool = False


def face_picture(width: int, height: int, face_height: float = 0.6) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A flat :data:`BACKGROUND` picture with zidane.jpg's face pasted left of the centre.

    Args:
        width, height: the picture's size in pixels.
        face_height: the face crop's height as a fraction of ``height``.

    Returns:
        ``(pixels, box)``: H×W×3 uint8 BGR, and the pasted face's box ``(x1, y1, x2, y2)`` in pixels.
    """
    photo = cv2.imread(str(photo_path("zidane.jpg")))
    if photo is None:
        raise FileNotFoundError(photo_path("zidane.jpg"))
    x1, y1, x2, y2 = _FACE_BOX
    face = photo[y1:y2, x1:x2]
    fh = max(8, int(round(height * face_height)))
    fw = max(8, int(round(fh * face.shape[1] / face.shape[0])))
    face = cv2.resize(face, (fw, fh), interpolation=cv2.INTER_AREA)
    img = np.full((height, width, 3), BACKGROUND, np.uint8)
    x0, y0 = max(0, width // 3 - fw // 2), (height - fh) // 2
    img[y0 : y0 + fh, x0 : x0 + fw] = face[: height - y0, : width - x0]
    return img, (x0, y0, min(width, x0 + fw), min(height, y0 + fh))


def write_specimen_video(
    path: str | os.PathLike,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    size: tuple[int, int] = (160, 120),
    n: int = 6,
    fps: int = 12,
    pts: Sequence[int] | None = None,
    end: int | None = None,
    time_base: Fraction | None = None,
    audio: Sequence[AudioTrack] = (),
    rotation: int = 0,
    sample_aspect_ratio: Fraction | None = None,
    container_options: dict[str, str] | None = None,
) -> Path:
    """Write a short specimen video: the face picture with a moving stripe along its bottom edge, stored the
    way phones store portrait video (pixels turned clockwise by ``rotation``, the display matrix turning them
    back), so that a player shows it upright at ``size``.

    Args:
        path: the output (container from the extension; the folder is created).
        codec, pix_fmt: the video encoder and its pixel format.
        size: ``(width, height)`` as displayed, pixels (stored swapped for 90/270).
        n: frames (when ``pts`` is None).
        fps: the nominal frame rate.
        pts: each frame's pts in ``time_base`` units (variable frame rate); None: evenly spaced.
        end: where the last frame ends, in ``time_base`` units (None: one nominal frame after its pts); every
            other frame lasts until the next one.
        time_base: the video stream's time base (None: ``1/fps``).
        audio: audio streams, each a distinct tone as long as the video.
        rotation: counter-clockwise display rotation stored in the display matrix.
        sample_aspect_ratio: the pixels' shape (None: square).
        container_options: muxer options (``{"movflags": "faststart"}``…).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        av.FFmpegError: the encoder or muxer refuses the settings.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tb = time_base or Fraction(1, fps)
    step = max(1, int(round(1 / (fps * tb))))
    times = list(pts) if pts is not None else [i * step for i in range(n)]
    ends = [*times[1:], end if end is not None else times[-1] + step]
    durations = {p: e - p for p, e in zip(times, ends)}
    picture, _ = face_picture(*size)
    turns = (rotation // 90) % 4  # phones store the picture turned clockwise; the display matrix turns it back
    stored = size if turns % 2 == 0 else (size[1], size[0])
    with av.open(str(path), "w", container_options=container_options) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = stored
        vs.pix_fmt = pix_fmt
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if codec == "libx264":
            vs.options = {"preset": "ultrafast"}
        elif codec == "libx265":
            vs.options = {"preset": "ultrafast", "x265-params": "log-level=none"}
        elif codec == "libsvtav1":
            vs.options = {"preset": "12"}
        if sample_aspect_ratio is not None:
            vs.codec_context.sample_aspect_ratio = sample_aspect_ratio
        if rotation:
            vs.set_display_rotation(rotation)
        streams = []
        for k, track in enumerate(audio):
            rate = 48000 if track.codec in ("libopus", "opus") else 44100
            a = out.add_stream(track.codec, rate=rate)
            a.layout = "stereo" if track.codec == "vorbis" else "mono"  # FFmpeg's own Vorbis encoder: stereo only
            if track.codec == "vorbis":
                a.codec_context.options = {"strict": "experimental"}
            if track.language:
                a.metadata["language"] = track.language
            if track.title:
                a.metadata["title"] = track.title
            if track.default:
                a.disposition = av.stream.Disposition.default
            streams.append((a, 330.0 * (k + 1), rate))

        def mux(packets) -> None:
            for p in packets:
                if p.pts in durations:  # the encoders leave durations to the muxer: the last frame's would be nominal
                    p.duration = durations[p.pts]
                out.mux(p)

        for i, t in enumerate(times):
            img = picture.copy()
            x = (i * 7) % max(1, size[0] - 6)
            img[-6:, x : x + 6] = (255, 255, 255)
            img = np.ascontiguousarray(np.rot90(img, -turns))
            vf = av.VideoFrame.from_ndarray(img, format="bgr24")
            if pix_fmt != "yuv420p":
                vf = vf.reformat(format=pix_fmt)
            vf.pts = int(t)
            vf.time_base = tb
            mux(vs.encode(vf))
        mux(vs.encode(None))
        seconds = float(ends[-1] * tb)
        for a, freq, rate in streams:
            _tone(out, a, freq, rate, seconds)
    return path


def _tone(out, stream, freq: float, rate: int, seconds: float) -> None:
    total = int(round(seconds * rate))
    chunk = stream.codec_context.frame_size or 1024
    done = 0
    while done < total:
        k = min(chunk, total - done)
        t = np.arange(done, done + k) / rate
        samples = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]
        layout = stream.codec_context.layout.name
        if layout == "stereo":
            samples = np.repeat(samples, 2, axis=0)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = done
        frame.time_base = Fraction(1, rate)
        for p in stream.encode(frame):
            out.mux(p)
        done += k
    for p in stream.encode(None):
        out.mux(p)


# EXIF orientation → the transpose that stores an upright picture so that applying the tag shows it upright
_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def pil_mode(rgb: Image.Image, mode: str) -> Image.Image:
    """``rgb`` converted to ``mode`` (``"I;16"``: 16-bit gray spanning the full range; ``"LA"``/``"RGBA"``: a
    half-transparent band at the top; ``"P"``: adaptive palette)."""
    if mode == "I;16":
        gray = np.asarray(rgb.convert("L")).astype(np.uint16) * 257
        return Image.fromarray(gray)  # Pillow picks I;16 for uint16
    if mode == "P":
        return rgb.convert("P", palette=Image.Palette.ADAPTIVE)
    im = rgb.convert(mode)
    if mode in ("LA", "RGBA"):
        alpha = np.full((rgb.height, rgb.width), 255, np.uint8)
        alpha[: rgb.height // 8] = 128
        im.putalpha(Image.fromarray(alpha))
    return im


def write_specimen_image(
    path: str | os.PathLike,
    *,
    format: str,
    mode: str = "RGB",
    orientation: int = 1,
    size: tuple[int, int] = (240, 180),
    frames: int = 1,
    durations: Sequence[int] | None = None,
    loop: int | None = None,
) -> tuple[Path, tuple[int, int, int, int]]:
    """Write the face picture as an image file the way cameras store it: pixels turned for ``orientation``
    with the EXIF tag that turns them back; several ``frames`` make an animation (GIF, PNG = APNG, WebP) or a
    multi-page TIFF (each frame with the stripe elsewhere).

    Args:
        path: the output file.
        format: PIL's format name (``"JPEG"``, ``"PNG"``, ``"WEBP"``, ``"TIFF"``, ``"BMP"``, ``"GIF"``, ``"AVIF"``).
        mode: the stored PIL mode (:func:`pil_mode`).
        orientation: the EXIF orientation tag, 1–8 (1: none written).
        size: the upright ``(width, height)``.
        frames, durations, loop: animation frames, milliseconds per frame, loop count.

    Returns:
        ``(path, face box)``: the face's box in the upright picture.

    Raises:
        OSError, ValueError: PIL cannot store ``mode`` in ``format``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    picture, box = face_picture(*size)
    images = []
    for i in range(frames):
        img = picture.copy()
        if frames > 1:
            x = (i * 37) % max(1, size[0] - 10)
            img[-10:, x : x + 10] = (255, 255, 255)
        rgb = Image.fromarray(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
        turn = _STORE[orientation]
        images.append(pil_mode(rgb if turn is None else rgb.transpose(turn), mode))
    kw: dict = {}
    if orientation != 1:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kw["exif"] = exif.tobytes()
    if format in ("JPEG", "WEBP", "AVIF"):
        kw["quality"] = 95
    if frames > 1:
        kw.update(save_all=True, append_images=images[1:])
        if durations is not None:
            kw["duration"] = list(durations)
        if loop is not None:
            kw["loop"] = loop
    images[0].save(path, format=format, **kw)
    return path, box
