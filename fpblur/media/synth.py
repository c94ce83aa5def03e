"""Generate small test and benchmark videos with PyAV: camera pans/zooms over a photo, audio, rotation, VFR.

Used by the tests and ``benchmarks/video_speed.py`` so that no video file has to be shipped.  Each frame's
crop window is returned, so that boxes known in the photo can be mapped into every frame.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class Crop:
    """Frame = photo[y0:y0+h, x0:x0+w] resized by ``scale`` (same in x and y)."""

    x0: float
    y0: float
    scale: float

    def map_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Photo-pixel boxes → frame-pixel boxes."""
        b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        return (b - [self.x0, self.y0, self.x0, self.y0]) * self.scale


def pan_zoom_frames(photo: np.ndarray, size: tuple[int, int], n: int, zoom: tuple[float, float] = (1.0, 0.7)):
    """Yield ``(frame, crop)`` for ``n`` frames that zoom from ``zoom[0]`` to ``zoom[1]`` of the photo while
    panning from its left to its right edge (a smooth camera move over real content)."""
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
    plus a moving blue square so consecutive frames differ."""
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

    ``frames`` (BGR) default to :func:`pattern_frame`; ``pts`` (in ``time_base``, default 1/fps) gives
    variable frame timing; ``audio`` lists codecs of audio streams to add (e.g. ``("aac", "aac")``), each
    a distinct tone lasting the video; ``rotation`` (counter-clockwise degrees) is stored as the display
    matrix, the way phones record portrait video.
    """
    import av

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
        vs.pix_fmt = {"libx264rgb": "bgr24", "png": "rgb24", "ffv1": "yuv444p", "mjpeg": "yuvj444p"}.get(codec, "yuv420p")
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
    import av

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
    """A clip panning/zooming over ``photo``; returns the path and every frame's :class:`Crop`."""
    n = max(2, int(round(seconds * fps)))
    frames, crops = [], []
    for frame, crop in pan_zoom_frames(photo, size, n, zoom):
        frames.append(frame)
        crops.append(crop)
    return write_video(path, frames, fps=fps, audio=audio, crf=crf), crops


@dataclass
class Probe:
    """What a test wants to know about a video file (see :func:`probe`)."""

    format: str
    width: int
    height: int
    rotation: int
    codec: str
    times: list[float]  # every frame's pts in seconds, in presentation order
    duration: float  # container duration, seconds
    audio: list[list[tuple[int | None, bytes]]]  # per audio stream: (pts, payload) of every packet
    audio_codecs: list[str]
    images: list[np.ndarray] | None = None

    @property
    def frames(self) -> int:
        return len(self.times)


def probe(path: str | os.PathLike, images: bool = False) -> Probe:
    """Decode ``path`` completely: frame times, size, rotation, audio packets (optionally the frames as
    BGR arrays as stored, without applying rotation)."""
    import av

    with av.open(str(path)) as c:
        v = c.streams.video[0]
        tb = v.time_base
        codec = v.codec_context.name
        rotation, times, pix = 0, [], []
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
