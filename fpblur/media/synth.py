"""Generate small test and benchmark videos with PyAV: camera pans/zooms over a photo, audio, rotation, VFR, and
objects moving over a background (:func:`motion_frames`: faces or plates cut from real photos, moving with
changing speed and direction, stopping suddenly, under camera shake or zoom).

Used by the tests and the video benchmarks so that no video file has to be shipped.  Each frame's crop window
(pan/zoom) or each object's box (moving objects) is returned, so every frame has known boxes.
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


# -- moving objects ---------------------------------------------------------------------------------------
MOTIONS = ("still", "constant", "sine", "zigzag", "stop")  # object motions of :func:`motion_path`
CAMERAS = ("static", "shake", "zoom")  # camera motions of :func:`camera_path`


@dataclass(frozen=True)
class Sprite:
    """An object cut from a photo with some context around it, to paste over other pictures.

    Attributes:
        image: h×w×3 uint8 BGR pixels.
        alpha: h×w float32 opacity in [0, 1] (an ellipse with a soft edge, so no rectangle seam is pasted).
        box: the object's ``[x1, y1, x2, y2]`` inside ``image`` (float64 pixels): what a detector should find.
        label: ``"face"`` or ``"plate"``.
    """

    image: np.ndarray
    alpha: np.ndarray
    box: np.ndarray
    label: str = "face"

    @classmethod
    def cut(cls, photo: np.ndarray, box: Sequence[float], context: float = 0.35, label: str = "face") -> Sprite:
        """The object at ``box`` (``[x1, y1, x2, y2]`` photo pixels) with ``context`` × its size around it on every
        side (clipped to the photo), inside a soft-edged ellipse."""
        b = np.asarray(box, dtype=np.float64)
        w, h = b[2] - b[0], b[3] - b[1]
        ph, pw = photo.shape[:2]
        x0, y0 = max(0, int(b[0] - context * w)), max(0, int(b[1] - context * h))
        x1, y1 = min(pw, int(np.ceil(b[2] + context * w))), min(ph, int(np.ceil(b[3] + context * h)))
        image = np.ascontiguousarray(photo[y0:y1, x0:x1])
        ch, cw = image.shape[:2]
        yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
        r = np.hypot((xx + 0.5 - cw / 2) / (cw / 2), (yy + 0.5 - ch / 2) / (ch / 2))
        alpha = np.clip((1.0 - r) / 0.15, 0.0, 1.0).astype(np.float32)  # opaque inside, 15 % soft rim
        return cls(image, alpha, b - [x0, y0, x0, y0], label)

    def scaled(self, factor: float) -> Sprite:
        """The sprite resized by ``factor`` (same in x and y)."""
        h, w = self.image.shape[:2]
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        fx, fy = size[0] / w, size[1] / h
        interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        return Sprite(
            cv2.resize(self.image, size, interpolation=interp),
            cv2.resize(self.alpha, size, interpolation=cv2.INTER_LINEAR),
            self.box * [fx, fy, fx, fy],
            self.label,
        )

    def rotated(self, quarter_turns: int) -> Sprite:
        """The sprite turned by ``quarter_turns`` × 90° counter-clockwise (a face lying on its side)."""
        k = int(quarter_turns) % 4
        out = self
        for _ in range(k):
            h, w = out.image.shape[:2]
            x1, y1, x2, y2 = out.box
            box = np.array([y1, w - x2, y2, w - x1], dtype=np.float64)  # (x, y) → (y, w - x)
            out = Sprite(np.ascontiguousarray(np.rot90(out.image)), np.ascontiguousarray(np.rot90(out.alpha)), box)
        return Sprite(out.image, out.alpha, out.box, self.label)

    @property
    def size(self) -> tuple[float, float]:
        """The object's ``(width, height)`` in pixels."""
        return float(self.box[2] - self.box[0]), float(self.box[3] - self.box[1])


def paste(frame: np.ndarray, sprite: Sprite, center: Sequence[float]) -> np.ndarray:
    """Paste ``sprite`` into ``frame`` (in place) so that its object's centre lands at ``center``.

    Args:
        frame: H×W×3 uint8 BGR, modified.
        sprite: what to paste (parts outside the frame are cut off).
        center: ``(x, y)`` of the object's centre in frame pixels.

    Returns:
        The object's ``[x1, y1, x2, y2]`` in frame pixels (float64, not clipped).
    """
    b = sprite.box
    ox = int(round(center[0] - (b[0] + b[2]) / 2))
    oy = int(round(center[1] - (b[1] + b[3]) / 2))
    h, w = sprite.image.shape[:2]
    H, W = frame.shape[:2]
    fx0, fy0, fx1, fy1 = max(0, ox), max(0, oy), min(W, ox + w), min(H, oy + h)
    if fx0 < fx1 and fy0 < fy1:
        src = sprite.image[fy0 - oy : fy1 - oy, fx0 - ox : fx1 - ox].astype(np.float32)
        a = sprite.alpha[fy0 - oy : fy1 - oy, fx0 - ox : fx1 - ox, None]
        dst = frame[fy0:fy1, fx0:fx1].astype(np.float32)
        frame[fy0:fy1, fx0:fx1] = np.clip(a * src + (1.0 - a) * dst + 0.5, 0, 255).astype(np.uint8)
    return b + [ox, oy, ox, oy]


def motion_path(
    kind: str,
    n: int,
    fps: float,
    size: tuple[int, int],
    obj: tuple[float, float],
    *,
    speed: float = 0.8,
    start: tuple[float, float] | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Where a moving object's centre is on each of ``n`` frames.

    Kinds (:data:`MOTIONS`); speeds are in object heights per frame:

    * ``still``: does not move;  ``constant``: a straight line at ``speed`` / 2 (bouncing off the edges);
    * ``sine``: x and y oscillate (periods 1 s and 0.7 s), peaking at ``speed`` in x: speed and direction change
      all the time, the way a head moves;
    * ``zigzag``: straight segments of 3–8 frames, each in a new random direction at a new random speed up to
      ``speed``: abrupt turns;
    * ``stop``: fast (``speed``) for 6–12 frames, then a dead stop for 4–10 frames, and again (stop-and-go).

    Args:
        kind: one of :data:`MOTIONS`.
        n: frames.  fps: frames per second (``sine``'s periods are in seconds).
        size: ``(width, height)`` of the frame in pixels; the object's box is kept inside it (reflected at edges).
        obj: the object's ``(width, height)`` in pixels.
        speed: the fastest motion, in object heights per frame.
        start: the first centre (None: the frame's centre).
        seed: random seed (``zigzag``, ``stop``).

    Returns:
        n×2 float64 centres ``(x, y)`` in frame pixels.

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind not in MOTIONS:
        raise ValueError(f"unknown motion {kind!r}; expected one of {', '.join(MOTIONS)}")
    W, H = size
    ow, oh = obj
    lo = np.array([ow / 2 + 2, oh / 2 + 2])
    hi = np.array([W - ow / 2 - 2, H - oh / 2 - 2])
    p0 = np.array(start if start is not None else (W / 2, H / 2), dtype=np.float64)
    rng = np.random.default_rng(seed)
    step = speed * oh  # pixels per frame at full speed
    if kind == "sine":
        t = np.arange(n) / fps
        ax = min(step * fps / (2 * np.pi), (hi[0] - lo[0]) / 2)
        ay = min(0.3 * ax, (hi[1] - lo[1]) / 2)
        c = np.clip(p0, lo + [ax, ay], hi - [ax, ay])
        return np.stack([c[0] + ax * np.sin(2 * np.pi * t), c[1] + ay * np.sin(2 * np.pi * t / 0.7)], axis=1)
    out = np.empty((n, 2))
    p = p0.copy()
    v = np.zeros(2)
    left = 0  # frames left in the current segment
    moving = True
    for i in range(n):
        out[i] = p
        if kind == "still":
            continue
        if left <= 0:
            if kind == "constant":
                v = np.array([0.5 * step, 0.15 * step]) if not v.any() else v
                left = n
            elif kind == "zigzag":
                angle = rng.uniform(0, 2 * np.pi)
                v = rng.uniform(0.3, 1.0) * step * np.array([np.cos(angle), np.sin(angle)])
                left = int(rng.integers(3, 9))
            else:  # stop
                moving = not moving if i else True
                angle = rng.uniform(0, 2 * np.pi)
                v = step * np.array([np.cos(angle), np.sin(angle)]) if moving else np.zeros(2)
                left = int(rng.integers(6, 13) if moving else rng.integers(4, 11))
        left -= 1
        p = p + v
        for k in range(2):  # bounce off the edges
            if p[k] < lo[k]:
                p[k], v[k] = 2 * lo[k] - p[k], -v[k]
            elif p[k] > hi[k]:
                p[k], v[k] = 2 * hi[k] - p[k], -v[k]
        p = np.clip(p, lo, hi)
    return out


def camera_path(
    kind: str, n: int, fps: float, size: tuple[int, int], *, strength: float = 1.0, seed: int = 0
) -> np.ndarray:
    """The camera's view on each frame, as 2×3 matrices mapping scene pixels onto frame pixels.

    Kinds (:data:`CAMERAS`): ``static`` (identity); ``shake``: a handheld camera jerking by a random offset of
    about 2 % of the frame width (× ``strength``) and up to 1° every frame; ``zoom``: zooming in about the
    frame's centre to 1 + 0.8 × ``strength`` and back out over the clip (objects grow, shrink and move outward).

    Args:
        kind: one of :data:`CAMERAS`.
        n: frames.  fps: frames per second.  size: ``(width, height)`` of the frame in pixels.
        strength: scales the motion.
        seed: random seed (``shake``).

    Returns:
        n×2×3 float64 matrices (scene → frame; for ``cv2.warpAffine`` and
        :func:`fpblur.core.boxes.transform_boxes`).

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind not in CAMERAS:
        raise ValueError(f"unknown camera motion {kind!r}; expected one of {', '.join(CAMERAS)}")
    W, H = size
    c = np.array([W / 2, H / 2])
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 2, 3))
    for i in range(n):
        if kind == "shake":
            s = 1.0 + 0.02 * strength  # zoomed in a little, so the reflected border rarely shows
            angle = np.deg2rad(rng.uniform(-1.0, 1.0) * strength)
            shift = rng.normal(0.0, 0.02 * strength * W, size=2).clip(-0.05 * W, 0.05 * W)
        elif kind == "zoom":
            s = 1.0 + 0.8 * strength * np.sin(np.pi * i / max(1, n - 1))
            angle, shift = 0.0, np.zeros(2)
        else:
            s, angle, shift = 1.0, 0.0, np.zeros(2)
        rot = s * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        out[i, :, :2] = rot
        out[i, :, 2] = c - rot @ c + shift
    return out


@dataclass(frozen=True)
class SceneFrame:
    """The known objects of one generated frame (:func:`motion_frames`).

    Attributes:
        boxes: N×4 float64 ``[x1, y1, x2, y2]`` in frame pixels, clipped to the frame (objects less than half
            inside the picture, or more than half hidden behind a moving object, are left out).
        labels: N labels (``"face"``, ``"plate"``).
        ids: N object ids, stable across frames (moving objects first, then the background's).
    """

    boxes: np.ndarray
    labels: np.ndarray
    ids: np.ndarray


def clipped_share(boxes: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """N×4 boxes clipped to a ``width`` × ``height`` frame, and the share of each box's area inside the frame."""
    clipped = np.stack(
        [
            boxes[:, 0].clip(0, width),
            boxes[:, 1].clip(0, height),
            boxes[:, 2].clip(0, width),
            boxes[:, 3].clip(0, height),
        ],
        axis=1,
    )
    area = np.prod((boxes[:, 2:] - boxes[:, :2]).clip(min=1e-9), axis=1)
    return clipped, np.prod((clipped[:, 2:] - clipped[:, :2]).clip(min=0), axis=1) / area


def motion_frames(
    background: np.ndarray,
    objects: Sequence[tuple[Sprite, np.ndarray]],
    *,
    camera: np.ndarray | None = None,
    background_boxes: np.ndarray | None = None,
    background_labels: Sequence[str] = (),
) -> Iterator[tuple[np.ndarray, SceneFrame]]:
    """Frames of objects moving over a background, seen by a (possibly moving) camera, with their boxes.

    Args:
        background: H×W×3 uint8 BGR scene, the frame's size.
        objects: ``(sprite, centres)`` per moving object: ``centres`` n×2 scene pixels (:func:`motion_path`);
            all of the same length n.  Later objects are pasted over earlier ones.
        camera: n×2×3 scene → frame matrices (:func:`camera_path`; None: a static camera).
        background_boxes: M×4 boxes of objects that are part of the background (e.g. a photo's faces), scene
            pixels; they move only with the camera.
        background_labels: their M labels.

    Yields:
        ``(frame, truth)`` per frame: H×W×3 uint8 BGR pixels and the :class:`SceneFrame`.
    """
    H, W = background.shape[:2]
    n = len(objects[0][1]) if objects else (len(camera) if camera is not None else 1)
    still = np.asarray(background_boxes if background_boxes is not None else np.zeros((0, 4)), np.float64)
    still = still.reshape(-1, 4)
    labels = np.array([s.label for s, _ in objects] + [str(x) for x in background_labels][: len(still)], dtype=object)
    ids = np.arange(len(labels))
    for i in range(n):
        scene = background.copy()
        moving = [paste(scene, sprite, path[i]) for sprite, path in objects]
        boxes = np.array(moving + list(still), np.float64).reshape(-1, 4)
        # an object mostly hidden behind one pasted later is not visible on this frame
        visible = np.ones(len(boxes), bool)
        for k in range(len(boxes)):
            over = boxes[k + 1 : len(moving)] if k < len(moving) else boxes[: len(moving)]
            visible[k] = intersection_share(boxes[k], over) <= 0.5
        if camera is not None:
            m = camera[i]
            frame = cv2.warpAffine(scene, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            corners = np.stack(
                [boxes[:, [0, 1]], boxes[:, [2, 1]], boxes[:, [0, 3]], boxes[:, [2, 3]]], axis=1
            )  # N×4 corners×2
            moved = corners @ m[:, :2].T + m[:, 2]
            boxes = np.concatenate([moved.min(axis=1), moved.max(axis=1)], axis=1) if len(boxes) else boxes
        else:
            frame = scene
        clipped, inside = clipped_share(boxes, W, H) if len(boxes) else (boxes, np.zeros(0))
        keep = visible & (inside >= 0.5)
        yield frame, SceneFrame(clipped[keep], labels[keep].astype(str), ids[keep])


def intersection_share(box: np.ndarray, others: np.ndarray) -> float:
    """The largest share of ``box``'s area that one of ``others`` (K×4) covers (0 when there are none)."""
    if not len(others):
        return 0.0
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = (x2 - x1).clip(min=0) * (y2 - y1).clip(min=0)
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    return float(inter.max() / area)


def motion_clip(
    path: str | os.PathLike,
    background: np.ndarray,
    objects: Sequence[tuple[Sprite, np.ndarray]],
    *,
    fps: int = 25,
    camera: np.ndarray | None = None,
    background_boxes: np.ndarray | None = None,
    background_labels: Sequence[str] = (),
    crf: int = 18,
) -> tuple[Path, list[SceneFrame]]:
    """Write a :func:`motion_frames` clip with :func:`write_video`.

    Returns:
        ``(path, truth)``: the video and every frame's :class:`SceneFrame`, in order.
    """
    frames, truth = [], []
    for frame, t in motion_frames(
        background, objects, camera=camera, background_boxes=background_boxes, background_labels=background_labels
    ):
        frames.append(frame)
        truth.append(t)
    return write_video(path, frames, fps=fps, crf=crf), truth


def fit_background(photo: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``photo`` scaled to cover a ``size`` = ``(width, height)`` frame and cropped at its centre.

    Returns:
        ``(frame, m)``: the H×W×3 image and the 2×3 matrix mapping photo pixels into it (for its boxes).
    """
    W, H = size
    ph, pw = photo.shape[:2]
    s = max(W / pw, H / ph)
    x0, y0 = (pw * s - W) / 2, (ph * s - H) / 2
    m = np.array([[s, 0.0, -x0], [0.0, s, -y0]])
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(photo, m, (W, H), flags=interp, borderMode=cv2.BORDER_REFLECT), m


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
