"""Video decoding and encoding with PyAV: rotation, timestamps, audio passthrough, odd sizes.

* :class:`VideoReader` yields the video's frames as upright BGR arrays (the display-matrix rotation of
  phone videos applied to the pixels) with their original ``pts`` and duration in the stream's time base, and
  every audio and subtitle packet unchanged, in demux order.  A file that ends before what its container
  announces (frame count, stream and container durations, an incomplete last packet, a cut MPEG-TS packet)
  raises :class:`VideoError` when it is exhausted: truncated inputs fail closed.
* :class:`VideoWriter` encodes H.264 (libx264, yuv420p) with the input's time base, each frame's pts and
  duration (variable frame rate safe, the last frame's duration included), copies the audio and subtitle
  streams' packets without re-encoding (with their language, title and disposition flags, and the
  codec's trim: initial padding and skip-samples side data), keeps the picture's sample aspect ratio and
  colour description and the chapters, and picks the container from the output's extension
  (``.mp4``/``.m4v``, ``.mov``, ``.mkv``).  Data streams (timecode, GPS/telemetry), attachments and the
  container's own metadata (e.g. a phone's location tag) are dropped.

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
    """An audio (or subtitle) packet to copy unchanged.

    Attributes:
        packet: the demuxed PyAV packet.
        stream: the index of its stream in the input file.
        kind: ``"audio"`` or ``"subtitle"``.
    """

    packet: av.Packet
    stream: int
    kind: str = "audio"


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
        sample_aspect_ratio: the pixels' shape (width/height of one pixel) of the upright frames, None when
            square or unknown; kept in the output so it displays at the input's aspect ratio.
        subtitle_streams: number of subtitle streams (copied by :class:`VideoWriter`).
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
    sample_aspect_ratio: Fraction | None = None
    subtitle_streams: int = 0

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


def _stream_duration(stream, container, fallback: bool = True) -> float | None:
    """A stream's announced duration in seconds: its own, Matroska's per-stream ``DURATION`` tag, or (with
    ``fallback``, for a file without audio) the container's; None when none is announced."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    tag = (stream.metadata or {}).get("DURATION") or (stream.metadata or {}).get("duration")
    if tag:  # Matroska writes "HH:MM:SS.nnnnnnnnn" per stream: where the stream ends, counted from 0, not its start
        try:
            hh, mm, ss = tag.split(":")
            end = int(hh) * 3600 + int(mm) * 60 + float(ss)
        except ValueError:
            pass
        else:
            start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
            return max(0.0, end - start)
    if fallback and not container.streams.audio and container.duration:
        return container.duration / 1_000_000
    return None


class VideoReader:
    """Demux and decode a video file.  Iterate (once) to get :class:`Frame` and :class:`AudioPacket` items in
    demux order; use it as a context manager, or call :meth:`close`.

    The first frame is decoded when the reader is opened (its display matrix gives the rotation and the
    upright size); any audio packets read before it are replayed first when iterating.  The first video stream
    is decoded (FFmpeg's frame and slice threads); every audio and subtitle stream is passed through.

    When the file is exhausted it is compared with what its container announces (:meth:`_check_complete`):
    the video's frame count (its packets), every stream's and the container's duration, an incomplete last
    packet, and for MPEG-TS a size that is not a whole number of TS packets.  Anything short is a
    :class:`VideoError`, so a truncated file never yields a shorter output.

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
        self.subtitles = list(self.container.streams.subtitles)
        self.time_base = Fraction(self.video.time_base) if self.video.time_base else Fraction(1, 90000)
        rate = self.video.average_rate or self.video.guessed_rate or self.video.base_rate
        self.rate = Fraction(rate) if rate else Fraction(25)
        self._default_duration = max(1, int(round(1 / (self.rate * self.time_base))))
        self.decoded = 0
        self._last_pts: int | None = None
        self._last_end: int | None = None
        self._decoded_end: int | None = None  # the last frame's end by its packet, before the announced end
        self._held: Frame | None = None  # the newest frame: its duration may still come from the next one
        self._held_known = True  # whether the held frame's duration came from its packet
        self._video_packets = 0
        self._ends: dict[int, float] = {}  # per stream: end of its last packet, seconds
        self._last_corrupt: dict[int, bool] = {}  # per stream: whether its last packet was flagged corrupt
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
        sar = self.video.codec_context.sample_aspect_ratio
        sar = Fraction(sar) if sar and sar.numerator > 0 and sar != 1 else None
        if sar is not None and self.rotation in (90, 270):
            sar = 1 / sar  # the pixels were turned: their width is now their height
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
            sample_aspect_ratio=sar,
            subtitle_streams=len(self.subtitles),
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
        dur = int(frame.duration or 0)
        image = self._to_bgr(frame)
        out = Frame(self.decoded, int(pts), dur or self._default_duration, image)
        self.decoded += 1
        self._last_pts = out.pts
        self._last_end = out.pts + out.duration
        return out

    def _hold(self, frame: Frame, known: bool) -> Frame | None:
        """Keep ``frame`` back one step and return the frame held before it, lasting until ``frame``'s pts.

        A frame is shown until the next one: that gap is its duration (variable frame rate).  The packet
        durations FFmpeg attaches are in decode order, and with B-frames belong to other frames."""
        prev = self._held
        self._held, self._held_known = frame, known
        if prev is not None and frame.pts > prev.pts:
            prev.duration = frame.pts - prev.pts
        return prev

    def _last_frame(self) -> Frame | None:
        """The held (last) frame; it ends where the container announces the video stream to end, when it does
        (MP4's edit list, Matroska's per-stream duration), else it keeps its packet's duration or the frame
        rate's."""
        last, self._held = self._held, None
        if last is not None:
            self._decoded_end = last.pts + last.duration  # what the packets say (the truncation check's)
            estimated = set(self.container.format.name.split(",")) & _ESTIMATED_DURATION
            end = None if estimated else _stream_duration(self.video, self.container, fallback=False)
            if end is not None:
                start = self.video.start_time or 0
                end_pts = start + int(round(end / self.time_base))
                slack = max(0.25, 3 / float(self.rate or 25)) / self.time_base  # farther: truncated, not trimmed
                if last.pts < end_pts <= self._decoded_end + slack:
                    last.duration = end_pts - last.pts
            self._last_end = last.pts + last.duration
        return last

    def _note_packet(self, packet) -> None:
        """Remember where each stream's packets end and whether the last one was incomplete."""
        index = packet.stream.index
        self._last_corrupt[index] = bool(packet.is_corrupt)
        if packet.pts is not None and packet.time_base:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            start = packet.stream.start_time
            if start is not None and packet.stream.time_base:
                end -= float(start * packet.stream.time_base)
            self._ends[index] = max(end, self._ends.get(index, end))

    def _generate(self) -> Iterator[Frame | AudioPacket]:
        audio_ids = {s.index for s in self.audio}
        sub_ids = {s.index for s in self.subtitles}
        where = "reading"
        try:
            for packet in self.container.demux(self.video, *self.audio, *self.subtitles):
                index = packet.stream.index
                if not packet.size and packet.pts is None and packet.dts is None:
                    if index in audio_ids or index in sub_ids:
                        continue  # the empty packet at the end only flushes a decoder
                else:
                    self._note_packet(packet)
                if index in audio_ids or index in sub_ids:
                    if packet.size:
                        yield AudioPacket(packet, index, "audio" if index in audio_ids else "subtitle")
                    continue
                if packet.size or packet.pts is not None:
                    self._video_packets += 1
                where = f"decoding frame {self.decoded + 1}"
                for frame in packet.decode():
                    out = self._hold(self._frame(frame), known=bool(getattr(frame, "duration", 0)))
                    if out is not None:
                        yield out
                where = "reading"
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: {where} failed ({_reason(exc)})") from None
        last = self._last_frame()
        if last is not None:
            yield last
        self._check_complete()

    def _short(self, what: str) -> VideoError:
        return VideoError(f"{self.path}: truncated or corrupt: {what} (decoded {self.decoded} frames)")

    def _check_complete(self) -> None:
        """Raise if the file ended before what its container announces (a truncated or damaged file).

        Checked, where the container gives them: an incomplete last packet of any stream; for MPEG-TS, a file
        size that is not a whole number of 188/192/204-byte packets; the video's announced frame count (e.g. an
        AVI header) against its demuxed packets; every stream's announced duration against where its packets
        end; the container's duration against where the streams end.  Formats that only estimate a duration
        (:data:`_ESTIMATED_DURATION`) are checked for the first two only.

        Raises:
            VideoError: one line naming the file and what was short.
        """
        formats = set(self.container.format.name.split(","))
        names = {s.index: f"{s.type} stream {s.index}" for s in self.container.streams}
        for index, corrupt in self._last_corrupt.items():
            if corrupt:
                raise self._short(f"the last packet of {names[index]} is incomplete")
        if "mpegts" in formats:
            size = self.path.stat().st_size
            if all(size % unit for unit in (188, 192, 204)):
                raise self._short(f"{size} bytes is not a whole number of MPEG-TS packets")
        if formats & _ESTIMATED_DURATION:
            return  # these formats have no duration in a header, only an estimate
        tolerance = max(0.25, 3 / float(self.rate or 25))
        ends = dict(self._ends)
        if self._decoded_end is not None:
            start = float((self.video.start_time or 0) * self.time_base)
            ends[self.video.index] = max(
                ends.get(self.video.index, 0.0), float(self._decoded_end * self.time_base) - start
            )
        announced = int(self.video.frames or 0)
        # AVI counts frame slots (a skipped slot has no packet): enough packets, or packets reaching the last slot
        slots = ends.get(self.video.index, 0.0) * float(self.rate)
        if announced and self._video_packets < announced and slots < announced - 0.5:
            raise self._short(f"{self._video_packets} of {announced} announced video frames present")
        for stream in [self.video, *self.audio]:
            expected = _stream_duration(stream, self.container, fallback=stream is self.video)
            got = ends.get(stream.index)
            if expected is not None and got is not None and expected - got > tolerance:
                raise self._short(f"{names[stream.index]} ends at {got:.2f} s of {expected:.2f} s")
        if self.container.duration and ends:
            expected = self.container.duration / 1_000_000
            got = max(ends.values())
            if expected - got > tolerance:
                raise self._short(f"the streams end at {got:.2f} s of the container's {expected:.2f} s")

    def __iter__(self) -> Iterator[Frame | AudioPacket]:
        """Every frame (upright BGR) and non-empty audio/subtitle packet, in demux order (a frame is yielded
        once the next one is decoded, so that its duration is known).

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
    """Encode upright BGR frames to H.264 and copy the reader's audio and subtitle streams into ``path``.

    libx264, yuv420p, the reader's time base, frame rate, colour description and sample aspect ratio; odd sizes
    are padded to even (:func:`pad_to_even`).  Every frame keeps its pts and duration (the output's packets get
    the input frames' durations, so the last frame, and the file, end where the input's do).  Copied streams
    keep their codec parameters (including the trim of Opus/AAC/Vorbis: initial padding, and the
    skip-samples side data of their packets), language, title and disposition flags (default, forced…); the
    video stream keeps its language, title and flags too, and the chapters are copied.  Call :meth:`write`
    per frame and :meth:`write_audio` per audio/subtitle packet, in any interleaving, then :meth:`finish`;
    :meth:`close` after an error.

    Args:
        path: the output (``.mp4``/``.m4v``, ``.mov`` or ``.mkv``: :data:`CONTAINERS`).
        reader: the input: its :class:`VideoInfo`, audio and subtitle streams.
        crf: x264 quality (lower: better and bigger).
        preset: x264 speed preset (``"veryfast"``…).
        threads: encoder threads (0: FFmpeg's choice).

    Raises:
        VideoError: an unsupported extension, the file cannot be created, or an audio or subtitle codec the
            container cannot store without re-encoding (the message suggests ``.mkv`` or ``.mp4``).
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
            _copy_properties(reader.video, self.stream)
            self.audio = {}
            self._stream_ends: dict[int, int] = {}
            self._last_audio: dict[int, tuple[bytes, int | None, Fraction | None]] = {}  # (_trim_end)
            self._mov = fmt in ("mp4", "mov")
            supported = self.container.supported_codecs
            for s in [*reader.audio, *getattr(reader, "subtitles", [])]:
                name = s.codec_context.name
                if name not in supported:
                    other = ".mp4" if fmt == "matroska" else ".mkv"
                    raise VideoError(  # named by the input: the output is still a temporary file here
                        f"{info.path}: its {name} {s.type} stream cannot be stored in a {self.path.suffix} file "
                        f"without re-encoding; use {other}"
                    )
                try:
                    out = self.container.add_stream_from_template(s)
                except ValueError as exc:
                    raise VideoError(
                        f"{self.path}: the {name} {s.type} of {info.path.name} cannot be stored "
                        f"in {self.path.suffix} without re-encoding; use .mkv ({_reason(exc)})"
                    ) from None
                _copy_properties(s, out)
                self.audio[s.index] = out
                if s.type == "audio" and s.duration:  # where an edit list (MP4/MOV) ends the stream
                    self._stream_ends[s.index] = (s.start_time or 0) + s.duration
            chapters = reader.container.chapters()
            if chapters:
                self.container.set_chapters(chapters)
        except BaseException:
            self.container.close()
            raise
        self.color = info.color
        self._durations: dict[int, int] = {}  # pts → duration of frames given to the encoder
        self._end: int | None = None  # where the last frame written so far ends (pts + duration)
        self._held: av.Packet | None = None  # the newest video packet (muxed once the next one comes)
        self._start: int | None = None  # the first frame's pts
        self._first: tuple[int, int] | None = None  # (first pts, first packet's dts)
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
        if info.sample_aspect_ratio is not None:
            ctx.sample_aspect_ratio = info.sample_aspect_ratio
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
        self._durations[frame.pts] = frame.duration
        self._start = frame.pts if self._start is None else min(self._start, frame.pts)
        self._end = frame.pts + frame.duration  # frames come in presentation order: the last one ends the stream
        self._mux(self.stream.encode(vf))
        self.frames += 1

    def write_audio(self, item: AudioPacket) -> None:
        """Copy one audio or subtitle packet, unchanged (side data included), into the matching output stream.

        Raises:
            VideoError: writing to the file failed.
        """
        packet = item.packet
        end = self._stream_ends.get(item.stream)
        if (
            end is not None
            and packet.pts is not None
            and packet.duration
            and packet.pts < end < packet.pts + packet.duration
        ):
            # the input's edit list ends the stream inside its last packet (encoder padding): the muxer derives
            # the output's edit list from the packets, so the last one must end there too, or the audio grows
            packet.duration = end - packet.pts
        if self._mov and item.kind == "audio":
            self._trim_end(item)
        packet.stream = self.audio[item.stream]
        self._mux([packet])

    def _trim_end(self, item: AudioPacket) -> None:
        """MP4/MOV cannot store a packet's skip-samples side data: the samples Matroska/WebM discards at the end
        of the last Opus/Vorbis packet (encoder padding) are expressed there by a shorter last packet (the edit
        list ends there).  How many samples that packet keeps is what the decoder gives for it, so the packet
        before it and the packet itself are decoded (in the input stream's unused decoder)."""
        packet = item.packet
        skip = _skip_samples(packet)
        previous = self._last_audio.get(item.stream)
        self._last_audio[item.stream] = (bytes(packet), packet.pts, packet.time_base)
        if skip is None or skip[1] <= 0 or previous is None or packet.pts is None or not packet.time_base:
            return
        template = packet.stream
        try:
            decoder = template.codec_context
            prime = av.Packet(previous[0])
            prime.pts, prime.time_base = previous[1], previous[2] or packet.time_base
            last = av.Packet(bytes(packet))
            last.pts, last.time_base = packet.pts, packet.time_base
            last.set_sidedata(av.packet.PacketSideData.from_packet(packet, "skip_samples"))
            decoder.decode(prime)
            kept = sum(frame.samples for frame in decoder.decode(last))
        except (av.FFmpegError, ValueError, TypeError):
            return  # keep the packet as it is: at worst the padding plays
        rate = template.codec_context.sample_rate
        if kept > 0 and rate:
            duration = max(1, int(round(Fraction(kept, rate) / packet.time_base)))
            if not packet.duration or duration < packet.duration:
                packet.duration = duration

    def _mux(self, packets) -> None:
        try:
            for p in packets:
                if p.stream.index == self.stream.index and p.pts is not None:
                    # libx264 does not carry frame durations to its packets: the muxer would give the last
                    # frame the nominal duration (a VFR file grows); the input frame's duration is exact
                    duration = self._durations.pop(p.pts, None)
                    if duration:
                        p.duration = duration
                    if self._first is None and p.dts is not None:
                        self._first = (self._start if self._start is not None else p.pts, p.dts)
                    # the stream ends with the packet muxed last (decode order, B-frames reorder): hold it back
                    p, self._held = self._held, p
                    if p is None:
                        continue
                self.container.mux(p)
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: writing failed ({_reason(exc)})") from None

    def finish(self) -> None:
        """Flush the encoder, write the trailer and close the file.  The packet muxed last gets the duration
        that makes the video stream end where the input's last frame ends (pts + duration).

        Raises:
            VideoError: writing or closing the file failed.
        """
        self._mux(self.stream.encode(None))
        last, self._held = self._held, None
        if last is not None:
            if self._first is not None and last.dts is not None and self._end is not None and self._mov:
                # MP4/MOV: the track lasts from the first to the last dts plus the last packet's duration, and the
                # edit list then skips the encoder's dts shift; make that span the input's, first pts to end
                first_pts, first_dts = self._first
                duration = self._end - first_pts - (last.dts - first_dts)
                if duration > 0:
                    last.duration = duration
            try:
                self.container.mux(last)
            except av.FFmpegError as exc:
                raise VideoError(f"{self.path}: writing failed ({_reason(exc)})") from None
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


def _skip_samples(packet) -> tuple[int, int] | None:
    """A packet's skip-samples side data: ``(samples to skip at its start, samples to discard at its end)``."""
    if not packet.has_sidedata("skip_samples"):
        return None
    data = bytes(av.packet.PacketSideData.from_packet(packet, "skip_samples"))
    if len(data) < 8:
        return None
    return int.from_bytes(data[0:4], "little"), int.from_bytes(data[4:8], "little")


# Stream tags a player shows or uses to pick a track; MP4/MOV demuxers report the track title as "name".
_KEPT_TAGS = {"language": "language", "title": "title", "name": "title", "handler_name": "handler_name"}


def _copy_properties(src, dst) -> None:
    """Give output stream ``dst`` the language, title and disposition flags (default, forced, hearing
    impaired…) of input stream ``src``."""
    for key, value in (src.metadata or {}).items():
        kept = _KEPT_TAGS.get(key.lower())
        if kept and value and kept not in dst.metadata:
            dst.metadata[kept] = value
    dst.disposition = src.disposition
