"""Video decoding and encoding with PyAV: rotation, timestamps, audio passthrough, odd sizes.

* :class:`VideoReader` yields the video's frames as upright BGR arrays (the display-matrix rotation of
  phone videos applied to the pixels) with their original ``pts`` in the stream's time base, and every
  audio packet unchanged, in demux order.  A file that ends early (truncated) raises :class:`VideoError`.
* :class:`VideoWriter` encodes H.264 (libx264, yuv420p) with the input's time base and each frame's pts
  (variable frame rate safe), copies the audio streams' packets without re-encoding, and picks the
  container from the output's extension (``.mp4``/``.m4v``, ``.mov``, ``.mkv``).

Odd sizes: yuv420p stores chroma at half resolution, so H.264 can only code even widths/heights (its
cropping field also works in 2-pixel steps for 4:2:0).  An odd width or height is therefore padded by one
replicated pixel column/row on the right/bottom: no picture content is lost, and the output is one pixel
wider/taller than the input.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from fpblur.config.settings import DEFAULT_CRF, DEFAULT_PRESET  # x264 defaults of every entry point

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
# AVColorSpace values that swscale understands as conversion matrices (709, 470BG, 170M, 240M, 2020).
_SWS_COLORSPACES = {1, 5, 6, 7, 9}
# Containers whose duration is estimated (from bitrate or timestamps), not announced: no truncation check.
_ESTIMATED_DURATION = {"mpegts", "mpeg", "h264", "hevc", "m4v", "rawvideo", "mjpeg"}
_ROTATE = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}


class VideoError(Exception):
    """A video could not be read or written; ``str()`` is a one-line reason naming the file."""


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().splitlines()[0]


def normalize_rotation(degrees: float | None) -> int:
    """Counter-clockwise display rotation → 0, 90, 180 or 270 (rounded to the nearest quarter turn)."""
    if not degrees:
        return 0
    return int(round(float(degrees) / 90.0)) % 4 * 90


def rotate_image(image: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate pixels counter-clockwise by ``rotation`` degrees (0/90/180/270), the way a player shows them."""
    code = _ROTATE.get(rotation)
    return image if code is None else cv2.rotate(image, code)


def even_size(width: int, height: int) -> tuple[int, int]:
    """``(width, height)`` rounded up to even numbers of pixels (what yuv420p H.264 can code)."""
    return width + (width & 1), height + (height & 1)


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """Replicate the last column/row when the width/height is odd (yuv420p needs even sizes)."""
    h, w = image.shape[:2]
    if not (w & 1 or h & 1):
        return image
    return cv2.copyMakeBorder(image, 0, h & 1, 0, w & 1, cv2.BORDER_REPLICATE)


def container_format(path: str | os.PathLike) -> str:
    """The FFmpeg muxer for an output path's extension (:data:`CONTAINERS`: ``.mp4``/``.m4v`` → ``"mp4"``,
    ``.mov`` → ``"mov"``, ``.mkv`` → ``"matroska"``; any case).

    Raises:
        VideoError: another extension.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in CONTAINERS:
        raise VideoError(f"{path}: output must be one of {', '.join(CONTAINERS)} (H.264)")
    return CONTAINERS[suffix]


@dataclass
class Frame:
    """One decoded frame: upright BGR pixels and its timing in the input stream's time base.

    Attributes:
        index: 0-based position in decoding order.
        pts: presentation time in the stream's time base (strictly increasing; made up when missing).
        duration: the frame's duration in the same units (the frame rate's when the file gives none).
        image: H×W×3 uint8 BGR, the display rotation applied.
    """

    index: int
    pts: int
    duration: int
    image: np.ndarray


@dataclass
class AudioPacket:
    """An audio packet to copy unchanged.

    Attributes:
        packet: the demuxed PyAV packet.
        stream: the index of its stream in the input file.
    """

    packet: av.Packet
    stream: int


@dataclass
class VideoInfo:
    """What :class:`VideoReader` knows about its video once the first frame is decoded.

    Attributes:
        path: the file.
        width, height: the displayed frame size in pixels (after rotation).
        rotation: counter-clockwise degrees applied to the stored pixels (0, 90, 180, 270).
        time_base: the video stream's time base (seconds per pts unit).
        rate: frame rate in frames per second (the stream's average rate, else FFmpeg's guess; 25 when none).
        frames: frame count the container announces (0 if unknown).
        duration: video stream duration in seconds, if known.
        audio_streams: number of audio streams (copied by :class:`VideoWriter`).
        codec: the video codec's name.
        color: colour description of the first frame (``colorspace``, ``color_range``, ``color_primaries``,
            ``color_trc``: FFmpeg's enum values; None where unspecified or unusable), kept in the output.
    """

    path: Path
    width: int
    height: int
    rotation: int
    time_base: Fraction
    rate: Fraction
    frames: int
    duration: float | None
    audio_streams: int = 0
    codec: str = ""
    color: dict = field(default_factory=dict)

    @property
    def fps(self) -> float:
        """:attr:`rate` as a float (0.0 if unknown)."""
        return float(self.rate) if self.rate else 0.0

    @property
    def expected_frames(self) -> int:
        """Announced frame count, else an estimate from duration × fps (0 if neither is known)."""
        if self.frames:
            return self.frames
        if self.duration and self.fps:
            return int(round(self.duration * self.fps))
        return 0


def _stream_duration(stream, container) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = (stream.metadata or {}).get("DURATION") or (stream.metadata or {}).get("duration")
    if tag:  # Matroska writes "HH:MM:SS.nnnnnnnnn" per stream
        try:
            hh, mm, ss = tag.split(":")
            return int(hh) * 3600 + int(mm) * 60 + float(ss)
        except ValueError:
            pass
    if not container.streams.audio and container.duration:
        return container.duration / 1_000_000
    return None


class VideoReader:
    """Demux and decode a video file.  Iterate (once) to get :class:`Frame` and :class:`AudioPacket` items in
    demux order; use it as a context manager, or call :meth:`close`.

    The first frame is decoded when the reader is opened (its display matrix gives the rotation and the
    upright size); any audio packets read before it are replayed first when iterating.  The first video stream
    is decoded (FFmpeg's frame and slice threads); every audio stream is passed through.

    Args:
        path: the video file.

    Attributes:
        info: the :class:`VideoInfo`.
        decoded: frames decoded so far.

    Raises:
        VideoError: the file is missing, empty, not a video, has no video stream or no decodable frame (one line
            naming the file); while iterating, a decoding error or a file that ends before its announced
            duration or frame count (truncated).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such file")
        if self.path.stat().st_size == 0:
            raise VideoError(f"{self.path}: empty file (0 bytes)")
        try:
            self.container = av.open(str(self.path), metadata_errors="ignore")
        except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
            raise VideoError(f"{self.path}: cannot open as a video ({_reason(exc)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise VideoError(f"{self.path}: no video stream")
        self.video = self.container.streams.video[0]
        self.video.thread_type = "AUTO"  # frame + slice threads in the decoder
        self.audio = list(self.container.streams.audio)
        self.time_base = Fraction(self.video.time_base) if self.video.time_base else Fraction(1, 90000)
        rate = self.video.average_rate or self.video.guessed_rate or self.video.base_rate
        self.rate = Fraction(rate) if rate else Fraction(25)
        self._default_duration = max(1, int(round(1 / (self.rate * self.time_base))))
        self.decoded = 0
        self._last_pts: int | None = None
        self._last_end: int | None = None
        self._pending: list = []
        self._items = self._generate()
        self.rotation = 0
        self.color: dict = {}
        try:
            for item in self._items:
                self._pending.append(item)
                if isinstance(item, Frame):
                    break
        except VideoError:
            self.close()
            raise
        first = next((i for i in self._pending if isinstance(i, Frame)), None)
        if first is None:
            self.close()
            raise VideoError(f"{self.path}: no decodable video frame")
        h, w = first.image.shape[:2]
        self.info = VideoInfo(
            path=self.path,
            width=w,
            height=h,
            rotation=self.rotation,
            time_base=self.time_base,
            rate=self.rate,
            frames=int(self.video.frames or 0),
            duration=_stream_duration(self.video, self.container),
            audio_streams=len(self.audio),
            codec=self.video.codec_context.name,
            color=dict(self.color),
        )

    # -- decoding -------------------------------------------------------------------------------
    def _to_bgr(self, frame) -> np.ndarray:
        if self.decoded == 0:
            self.rotation = normalize_rotation(frame.rotation)
            cs = int(frame.colorspace)
            self.color = {
                "colorspace": cs if cs in _SWS_COLORSPACES else None,
                "color_range": int(frame.color_range) or None,
                "color_primaries": int(frame.color_primaries),
                "color_trc": int(frame.color_trc),
            }
        kwargs = {}
        if self.color.get("colorspace"):
            kwargs["src_colorspace"] = self.color["colorspace"]
        if self.color.get("color_range"):
            kwargs["src_color_range"] = self.color["color_range"]
        image = frame.to_ndarray(format="bgr24", **kwargs)
        return rotate_image(image, self.rotation)

    def _frame(self, frame) -> Frame:
        pts = frame.pts
        if pts is None:  # some containers (raw streams, old AVI) carry no timestamps
            pts = 0 if self._last_end is None else self._last_end
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1  # the encoder needs strictly increasing timestamps
        dur = int(frame.duration or 0) or self._default_duration
        image = self._to_bgr(frame)
        out = Frame(self.decoded, int(pts), dur, image)
        self.decoded += 1
        self._last_pts = out.pts
        self._last_end = out.pts + dur
        return out

    def _generate(self) -> Iterator[Frame | AudioPacket]:
        audio_ids = {s.index for s in self.audio}
        where = "reading"
        try:
            for packet in self.container.demux(self.video, *self.audio):
                if packet.stream.index in audio_ids:
                    if packet.size:  # the empty packet at the end only flushes a decoder
                        yield AudioPacket(packet, packet.stream.index)
                    continue
                where = f"decoding frame {self.decoded + 1}"
                for frame in packet.decode():
                    yield self._frame(frame)
                where = "reading"
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: {where} failed ({_reason(exc)})") from None
        self._check_complete()

    def _check_complete(self) -> None:
        """Raise if the file ended before the frames/duration its header announces (truncated file)."""
        info = getattr(self, "info", None)
        if set(self.container.format.name.split(",")) & _ESTIMATED_DURATION:
            return  # these formats have no duration in a header, only an estimate
        expected = _stream_duration(self.video, self.container)
        if expected is None or self._last_end is None:
            announced = int(self.video.frames or 0)
            if announced and self.decoded < announced:
                raise VideoError(f"{self.path}: truncated or corrupt: decoded {self.decoded} of {announced} frames")
            return
        start = float((self.video.start_time or 0) * self.time_base)
        got = float(self._last_end * self.time_base) - start
        tolerance = max(0.25, 3 / float(self.rate or 25))
        if expected - got > tolerance:
            total = f" of {info.frames}" if info is not None and info.frames else ""
            raise VideoError(
                f"{self.path}: truncated or corrupt: video ends at {got:.2f} s of {expected:.2f} s "
                f"(decoded {self.decoded}{total} frames)"
            )

    def __iter__(self) -> Iterator[Frame | AudioPacket]:
        """Every frame (upright BGR) and non-empty audio packet, in demux order.

        Raises:
            VideoError: decoding failed, or the file is truncated (checked at its end).
        """
        while self._pending:
            yield self._pending.pop(0)
        yield from self._items

    def close(self) -> None:
        """Close the file."""
        self.container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoWriter:
    """Encode upright BGR frames to H.264 and copy the reader's audio streams into ``path``.

    libx264, yuv420p, the reader's time base, frame rate and colour description; odd sizes are padded to even
    (:func:`pad_to_even`).  Call :meth:`write` per frame and :meth:`write_audio` per audio packet, in any
    interleaving, then :meth:`finish`; :meth:`close` after an error.

    Args:
        path: the output (``.mp4``/``.m4v``, ``.mov`` or ``.mkv``: :data:`CONTAINERS`).
        reader: the input: its :class:`VideoInfo` and audio streams.
        crf: x264 quality (lower: better and bigger).
        preset: x264 speed preset (``"veryfast"``…).
        threads: encoder threads (0: FFmpeg's choice).

    Raises:
        VideoError: an unsupported extension, the file cannot be created, or an audio codec the container
            cannot store without re-encoding (use ``.mkv``).
    """

    def __init__(
        self,
        path: str | os.PathLike,
        reader: VideoReader,
        crf: float = DEFAULT_CRF,
        preset: str = DEFAULT_PRESET,
        threads: int = 0,
    ) -> None:
        self.path = Path(path)
        fmt = container_format(self.path)
        info = reader.info
        self.width, self.height = even_size(info.width, info.height)
        try:
            # Matroska would otherwise shift every timestamp by the AAC priming delay (negative first pts).
            options = {"avoid_negative_ts": "disabled"} if fmt == "matroska" else None
            self.container = av.open(str(self.path), "w", format=fmt, container_options=options)
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.path}: cannot create ({_reason(exc)})") from None
        try:
            self.stream = self._add_video(info, crf, preset, threads)
            self.audio = {}
            for s in reader.audio:
                try:
                    self.audio[s.index] = self.container.add_stream_from_template(s)
                except ValueError as exc:
                    raise VideoError(
                        f"{self.path}: the {s.codec_context.name} audio of {info.path.name} cannot be stored "
                        f"in {self.path.suffix} without re-encoding; use .mkv ({_reason(exc)})"
                    ) from None
        except BaseException:
            self.container.close()
            raise
        self.color = info.color
        self.frames = 0
        self.closed = False

    def _add_video(self, info: VideoInfo, crf: float, preset: str, threads: int):
        stream = self.container.add_stream("libx264", rate=info.rate)
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = "yuv420p"
        stream.time_base = info.time_base
        ctx = stream.codec_context
        ctx.time_base = info.time_base
        ctx.framerate = info.rate
        if threads:
            ctx.thread_count = threads
        for name, unspecified in (("colorspace", 2), ("color_range", 0), ("color_primaries", 2), ("color_trc", 2)):
            value = info.color.get(name)
            if value and value != unspecified:
                setattr(ctx, name, value)
        stream.options = {"crf": str(crf), "preset": str(preset)}
        return stream

    def write(self, frame: Frame, image: np.ndarray) -> None:
        """Encode one frame at the input frame's timing.

        Args:
            frame: the input frame whose ``pts`` and ``duration`` the output frame keeps.
            image: the pixels to write, H×W×3 uint8 BGR at the reader's upright size.

        Raises:
            VideoError: writing to the file failed.
        """
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(pad_to_even(image)), format="bgr24")
        kwargs: dict[str, Any] = {"format": "yuv420p"}
        if self.color.get("colorspace"):
            kwargs["dst_colorspace"] = self.color["colorspace"]
        if self.color.get("color_range"):
            kwargs["dst_color_range"] = self.color["color_range"]
        vf = vf.reformat(**kwargs)
        vf.pts = frame.pts
        vf.duration = frame.duration
        vf.time_base = self.stream.codec_context.time_base
        self._mux(self.stream.encode(vf))
        self.frames += 1

    def write_audio(self, item: AudioPacket) -> None:
        """Copy one audio packet, unchanged, into the matching output stream.

        Raises:
            VideoError: writing to the file failed.
        """
        packet = item.packet
        packet.stream = self.audio[item.stream]
        self._mux([packet])

    def _mux(self, packets) -> None:
        try:
            for p in packets:
                self.container.mux(p)
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: writing failed ({_reason(exc)})") from None

    def finish(self) -> None:
        """Flush the encoder, write the trailer and close the file.

        Raises:
            VideoError: writing or closing the file failed.
        """
        self._mux(self.stream.encode(None))
        self.closed = True
        try:
            self.container.close()
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: finishing failed ({_reason(exc)})") from None

    def close(self) -> None:
        """Release the file without finishing it (after an error); no-op after :meth:`finish`."""
        if self.closed:
            return
        self.closed = True
        try:
            self.container.close()
        except Exception:  # best effort; the caller deletes the file anyway
            pass
