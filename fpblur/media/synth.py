"""Generate small test and benchmark videos with PyAV: camera pans/zooms over a photo, audio, rotation, VFR.

Used by the tests and ``benchmarks/video_speed.py`` so that no video file has to be shipped.  Each frame's
crop window is returned, so that boxes known in the photo can be mapped into every frame.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np


@dataclass(frozen=True)
class Crop:
    """Frame = photo[y0:y0+h, x0:x0+w] resized by ``scale`` (same in x and y)."""

    x0: float
    y0: float
    scale: float

    def map_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Photo-pixel boxes → frame-pixel boxes.

        Args:
            boxes: N×4 ``[x1, y1, x2, y2]`` in photo pixels.

        Returns:
            N×4 float64 boxes in frame pixels (not clipped to the frame).
        """
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return (b - [self.x0, self.y0, self.x0, self.y0]) * self.scale


def pan_zoom_frames(
    photo: np.ndarray, size: tuple[int, int], n: int, zoom: tuple[float, float] = (1.0, 0.7)
) -> Iterator[tuple[np.ndarray, Crop]]:
    """Frames of a smooth camera move over real content: zooming from ``zoom[0]`` to ``zoom[1]`` of the photo
    while panning from its left to its right edge (and gently up and down).

    Args:
        photo: H×W×3 uint8 BGR.
        size: ``(width, height)`` of the frames in pixels.
        n: number of frames.
        zoom: the crop's width at the first and last frame, as fractions of the widest crop of the frames'
            aspect ratio that fits the photo.

    Yields:
        ``(frame, crop)``: an H×W×3 uint8 BGR frame and the :class:`Crop` that maps photo pixels into it.
    """
    W, H = size
    ph, pw = photo.shape[:2]
    for i in range(n):
        t = i / max(1, n - 1)
        frac = zoom[0] + (zoom[1] - zoom[0]) * t
        cw = min(pw, ph * W / H) * frac
        ch = cw * H / W
        x0 = (pw - cw) * t
        y0 = (ph - ch) * (0.5 + 0.3 * np.sin(2 * np.pi * t)) if ph > ch else 0.0
        y0 = float(np.clip(y0, 0, ph - ch))
        scale = W / cw
        m = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]], dtype=np.float64)
        frame = cv2.warpAffine(photo, m, (W, H), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
        yield frame, Crop(x0, y0, scale)


def pattern_frame(width: int, height: int, index: int) -> np.ndarray:
    """An asymmetric pattern that shows orientation: red block top-left, green bar along the top edge,
    plus a moving blue square so consecutive frames differ.

    Args:
        width, height: frame size in pixels.
        index: frame number (moves the square 3 px per frame).

    Returns:
        An H×W×3 uint8 BGR frame.
    """
    img = np.full((height, width, 3), 90, np.uint8)
    img[: height // 3, : width // 3] = (0, 0, 230)
    img[: max(2, height // 10), width // 3 :] = (0, 200, 0)
    x = (index * 3) % max(1, width - 8)
    img[height - 10 : height - 2, x : x + 8] = (230, 0, 0)
    return img


def write_video(
    path: str | os.PathLike,
    frames: Sequence[np.ndarray] | None = None,
    *,
    size: tuple[int, int] = (64, 48),
    n: int = 12,
    fps: int = 12,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    audio: Sequence[str] = (),
    audio_seconds: float | None = None,
    rotation: int = 0,
    codec: str = "libx264",  # odd sizes need e.g. "libx264rgb", "ffv1" or "mjpeg"
    crf: int = 18,
) -> Path:
    """Write a test video with PyAV.

    Args:
        path: the output file (its folder is created; the container follows the extension).
        frames: H×W×3 uint8 BGR frames, all one size (None: ``n`` :func:`pattern_frame` frames of ``size``, or one
            per ``pts``).
        size: ``(width, height)`` of the default frames, pixels.
        n: number of default frames.
        fps: the stream's frame rate.
        pts: each frame's presentation time in ``time_base`` units (variable frame timing); None: evenly spaced.
        time_base: the stream's time base (None: ``1/fps``).
        audio: codecs of audio streams to add (e.g. ``("aac", "aac")``), each a distinct mono 44.1 kHz tone.
        audio_seconds: the tones' length in seconds (None: as long as the video).
        rotation: counter-clockwise degrees stored as the display matrix, the way phones record portrait video.
        codec: the video encoder (odd sizes need e.g. ``"libx264rgb"``, ``"ffv1"`` or ``"mjpeg"``).
        crf: x264 quality (``libx264``/``libx264rgb``, preset ultrafast).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        av.FFmpegError: the encoder or muxer refuses the settings.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if frames is None:
        frames = [pattern_frame(size[0], size[1], i) for i in range(len(pts) if pts is not None else n)]
    frames = list(frames)
    tb = time_base or Fraction(1, fps)
    if pts is None:
        step = int(round(1 / (fps * tb)))
        pts = [i * step for i in range(len(frames))]
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = w, h
        vs.pix_fmt = {"libx264rgb": "bgr24", "png": "rgb24", "ffv1": "yuv444p", "mjpeg": "yuvj444p"}.get(
            codec, "yuv420p"
        )
        vs.time_base = tb
        vs.codec_context.time_base = tb
        if codec in ("libx264", "libx264rgb"):
            vs.options = {"crf": str(crf), "preset": "ultrafast"}
        if rotation:
            vs.set_display_rotation(rotation)
        streams = []
        for k, acodec in enumerate(audio):
            a = out.add_stream(acodec, rate=44100)
            a.layout = "mono"
            streams.append((a, 330.0 * (k + 1)))
        last = pts[-1] + int(round(1 / (fps * tb)))
        seconds = audio_seconds if audio_seconds is not None else float(last * tb)
        for i, img in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            vf.pts = int(pts[i])
            vf.time_base = tb
            for p in vs.encode(vf):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        for a, freq in streams:
            _write_tone(out, a, freq, seconds)
    return path


def _write_tone(out, stream, freq: float, seconds: float) -> None:
    rate, chunk = 44100, 1024
    total = int(round(seconds * rate))
    done = 0
    while done < total:
        k = min(chunk, total - done)
        t = (np.arange(done, done + k) / rate).astype(np.float32)
        samples = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = done
        frame.time_base = Fraction(1, rate)
        for p in stream.encode(frame):
            out.mux(p)
        done += k
    for p in stream.encode(None):
        out.mux(p)


def pan_clip(
    path: str | os.PathLike,
    photo: np.ndarray,
    *,
    size: tuple[int, int] = (320, 180),
    seconds: float = 2.0,
    fps: int = 12,
    zoom: tuple[float, float] = (1.0, 0.7),
    audio: Sequence[str] = (),
    crf: int = 18,
) -> tuple[Path, list[Crop]]:
    """A clip panning/zooming over ``photo`` (:func:`pan_zoom_frames`, :func:`write_video`).

    Args:
        path: the output video.
        photo: H×W×3 uint8 BGR.
        size: ``(width, height)`` of the frames in pixels.
        seconds: the clip's length (at least 2 frames).
        fps: frames per second.
        zoom: the crop's width at the start and end, as fractions (:func:`pan_zoom_frames`).
        audio: codecs of tone audio streams to add.
        crf: x264 quality.

    Returns:
        ``(path, crops)``: the video and every frame's :class:`Crop`, in order.
    """
    n = max(2, int(round(seconds * fps)))
    frames, crops = [], []
    for frame, crop in pan_zoom_frames(photo, size, n, zoom):
        frames.append(frame)
        crops.append(crop)
    return write_video(path, frames, fps=fps, audio=audio, crf=crf), crops


@dataclass
class Probe:
    """What a test wants to know about a video file (see :func:`probe`).

    Attributes:
        format: the container's format name (PyAV's, e.g. ``"mov,mp4,m4a,3gp,3g2,mj2"``).
        width, height: the stored (not rotated) frame size in pixels.
        rotation: the display rotation in counter-clockwise degrees (0, 90, 180, 270).
        codec: the video codec's name.
        times: every frame's pts in seconds, in presentation order.
        duration: the container's duration in seconds (0 if unknown).
        audio: per audio stream, ``(pts, payload)`` of every non-empty packet.
        audio_codecs: per audio stream, its codec's name.
        images: the frames as H×W×3 uint8 BGR arrays, as stored (None unless asked for).
    """

    format: str
    width: int
    height: int
    rotation: int
    codec: str
    times: list[float]
    duration: float
    audio: list[list[tuple[int | None, bytes]]]
    audio_codecs: list[str]
    images: list[np.ndarray] | None = None

    @property
    def frames(self) -> int:
        """The number of decoded frames."""
        return len(self.times)


def probe(path: str | os.PathLike, images: bool = False) -> Probe:
    """Decode ``path`` completely: frame times, size, rotation, audio packets.

    Args:
        path: the video file.
        images: also keep every frame as a BGR array as stored (rotation not applied).

    Returns:
        The :class:`Probe`.

    Raises:
        av.FFmpegError: the file cannot be opened or decoded.
        IndexError: it has no video stream.
    """
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        tb = v.time_base
        codec = v.codec_context.name
        rotation = 0
        times: list[float] = []
        pix: list[np.ndarray] = []
        for f in c.decode(v):
            if not times:
                rotation = int(round(f.rotation or 0)) % 360
            times.append(float(f.pts * tb))
            if images:
                pix.append(f.to_ndarray(format="bgr24", src_color_range=int(f.color_range) or None))
        w, h = v.codec_context.width, v.codec_context.height
        fmt = c.format.name
        duration = (c.duration or 0) / 1_000_000
    with av.open(str(path)) as c:
        streams = list(c.streams.audio)
        index = {s.index: k for k, s in enumerate(streams)}
        audio: list[list[tuple[int | None, bytes]]] = [[] for _ in streams]
        codecs = [s.codec_context.name for s in streams]
        if streams:
            for p in c.demux(*streams):
                if p.size:
                    audio[index[p.stream.index]].append((p.pts, bytes(p)))
    return Probe(fmt, w, h, rotation, codec, times, duration, audio, codecs, pix if images else None)
