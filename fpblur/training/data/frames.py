"""Frames from (dashcam) videos: sample every N seconds and/or on scene changes, drop near-duplicates.

Every kept frame is written as a JPEG and described in a manifest (file, source video, timestamp, frame
index, why it was sampled, pHash) so that train/val can later be split by source video
(:func:`fpblur.training.data.split.split_frame` with ``group="video"``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
import pandas as pd
from PIL import Image
from tqdm.auto import tqdm

from fpblur.core.files import atomic_output
from fpblur.training.data.hashing import DedupIndex, phash
from fpblur.training.data.paths import require_path

MANIFEST_COLUMNS = ["file", "video", "timestamp", "frame_index", "reason", "phash", "width", "height"]
DROPPED_COLUMNS = ["video", "timestamp", "frame_index", "reason", "duplicate_of"]


@dataclass
class FrameConfig:
    """How frames are sampled (the two rules combine: a frame is kept when either fires).

    Attributes:
        every_s: keep a frame every N seconds of video time (None: off).
        scene_threshold: keep a frame whose 32×18 grey thumbnail differs from the previous frame's by at least
            this mean absolute difference (0–1 scale) — a cut (None: off).
        phash_threshold: a frame within this many pHash bits of a kept frame is dropped as a near-duplicate.
        dedup_across_videos: compare with the frames kept from other videos too (:func:`extract_many`).
        max_frames: at most this many kept frames per video (None: no limit).
        jpeg_quality: quality of the written JPEGs (0–100).
    """

    every_s: float | None = 1.0  # sample a frame every N seconds (None: off)
    scene_threshold: float | None = 0.15  # mean |Δ| of small grey thumbnails (0–1) that counts as a cut (None: off)
    phash_threshold: int = 6  # ≤ this many differing bits = near-duplicate of a kept frame
    dedup_across_videos: bool = False  # compare with frames of other videos too
    max_frames: int | None = None  # per video
    jpeg_quality: int = 92


@dataclass
class FramesResult:
    """What :func:`extract_many` wrote: the kept frames (``manifest``, :data:`MANIFEST_COLUMNS`), the dropped
    ones (``dropped``, :data:`DROPPED_COLUMNS`) and the path of ``manifest.csv``.
    """

    manifest: pd.DataFrame
    dropped: pd.DataFrame
    manifest_csv: Path


def _thumb(rgb: np.ndarray) -> np.ndarray:
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.resize(gray, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


def extract_frames(
    video: str | os.PathLike,
    out_dir: str | os.PathLike,
    cfg: FrameConfig | None = None,
    *,
    index: DedupIndex | None = None,
    prefix: str | None = None,
    progress: bool = False,
) -> tuple[list[dict], list[dict]]:
    """Sample one video into JPEGs named ``<prefix>_t<milliseconds>ms.jpg``.

    Args:
        video: the video file (decoded with PyAV).
        out_dir: the folder for the JPEGs (created).
        cfg: the sampling rules (default :class:`FrameConfig`).
        index: a shared de-duplication index (default: a new one for this video).
        prefix: file-name prefix (default: the video's stem).
        progress: show a tqdm bar over the frames.

    Returns:
        ``(kept rows, dropped rows)``, dicts with the keys of :data:`MANIFEST_COLUMNS` / :data:`DROPPED_COLUMNS`
        (timestamps in seconds).

    Raises:
        FileNotFoundError: no such video file (one line, checked first).
        ValueError: neither ``every_s`` nor ``scene_threshold`` is set, or the file cannot be opened or decoded or
            has no video stream (one line naming it); the JPEGs this call had written are deleted again (and
            ``index`` forgets them).
    """
    require_path(video, "file")
    created: list[Path] = []
    seen = len(index.hashes) if index is not None else 0
    try:
        return _extract(video, out_dir, cfg, index, prefix, progress, created)
    except BaseException:
        _remove(created)
        if index is not None:
            del index.hashes[seen:]
        raise


def _remove(paths: Iterable[Path]) -> None:
    for p in paths:
        with contextlib.suppress(OSError):
            p.unlink()


def _extract(
    video,
    out_dir,
    cfg: FrameConfig | None,
    index: DedupIndex | None,
    prefix: str | None,
    progress: bool,
    created: list[Path],
) -> tuple[list[dict], list[dict]]:
    """:func:`extract_frames` proper; appends every JPEG it creates (not the ones it overwrites) to ``created``."""
    cfg = cfg or FrameConfig()
    if cfg.every_s is None and cfg.scene_threshold is None:
        raise ValueError("frame sampling needs every_s and/or scene_threshold")
    video, out_dir = Path(video), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = index if index is not None else DedupIndex(cfg.phash_threshold)
    prefix = prefix or video.stem
    kept: list[dict] = []
    dropped: list[dict] = []
    next_t = 0.0
    prev: np.ndarray | None = None
    try:
        container = av.open(str(video))
    except (av.FFmpegError, OSError) as exc:
        raise ValueError(f"{video}: cannot open video ({exc})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{video}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = float(stream.average_rate or stream.guessed_rate or 25)
        total = stream.frames or None
        try:
            for i, frame in enumerate(
                tqdm(container.decode(stream), total=total, desc=video.name, disable=not progress, leave=False)
            ):
                t = float(frame.time) if frame.time is not None else i / rate
                reasons = []
                rgb = None
                if cfg.every_s is not None and t + 1e-6 >= next_t:
                    reasons.append("interval")
                    next_t = (np.floor(t / cfg.every_s + 1e-6) + 1) * cfg.every_s
                if cfg.scene_threshold is not None:
                    rgb = frame.to_ndarray(format="rgb24")
                    th = _thumb(rgb)
                    if (
                        prev is None or float(np.abs(th - prev).mean()) >= cfg.scene_threshold
                    ):  # the first frame opens a scene
                        reasons.append("scene")
                    prev = th
                if not reasons:
                    continue
                rgb = rgb if rgb is not None else frame.to_ndarray(format="rgb24")
                ph = phash(rgb)
                dup = index.match(None, ph)
                if dup is not None:
                    dropped.append(
                        {
                            "video": str(video),
                            "timestamp": round(t, 3),
                            "frame_index": i,
                            "reason": "+".join(reasons),
                            "duplicate_of": dup[1],
                        }
                    )
                    continue
                name = f"{prefix}_t{int(round(t * 1000)):09d}ms.jpg"
                existed = (out_dir / name).exists()
                with atomic_output(out_dir / name) as tmp:
                    Image.fromarray(rgb).save(tmp, "JPEG", quality=cfg.jpeg_quality)
                if not existed:
                    created.append(out_dir / name)
                index.add(name, None, ph)
                kept.append(
                    {
                        "file": name,
                        "video": str(video),
                        "timestamp": round(t, 3),
                        "frame_index": i,
                        "reason": "+".join(reasons),
                        "phash": ph,
                        "width": rgb.shape[1],
                        "height": rgb.shape[0],
                    }
                )
                if cfg.max_frames is not None and len(kept) >= cfg.max_frames:
                    break
        except av.FFmpegError as exc:
            raise ValueError(f"{video}: cannot decode ({_one_line(exc)})") from None
    return kept, dropped


def _one_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def extract_many(
    videos: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    cfg: FrameConfig | None = None,
    *,
    progress: bool = True,
) -> FramesResult:
    """Sample every video into ``out_dir`` and write ``out_dir/manifest.csv`` and ``dropped.csv``.

    Two videos with the same stem get prefixes ``stem`` and ``stem-2``.

    Args:
        videos: the video files.
        out_dir: the output folder.
        cfg: the sampling rules (default :class:`FrameConfig`).
        progress: show a tqdm bar over the videos.

    Returns:
        The :class:`FramesResult`.

    Raises:
        ValueError: a video fails (see :func:`extract_frames`); the JPEGs this call had created are deleted again
            and no manifest is written, so ``out_dir`` holds no frames a manifest omits.
    """
    cfg = cfg or FrameConfig()
    out_dir = Path(out_dir)
    shared = DedupIndex(cfg.phash_threshold) if cfg.dedup_across_videos else None
    kept, dropped, prefixes = [], [], set()
    created: list[Path] = []
    try:
        for video in tqdm(list(videos), desc="videos", disable=not progress):
            video = Path(video)
            prefix, n = video.stem, 1
            while prefix in prefixes:  # two videos with the same name in different folders
                n += 1
                prefix = f"{video.stem}-{n}"
            prefixes.add(prefix)
            k, d = _extract(video, out_dir, cfg, shared, prefix, False, created)
            kept += k
            dropped += d
    except BaseException:
        _remove(created)
        raise
    manifest = pd.DataFrame(kept, columns=MANIFEST_COLUMNS)
    manifest_csv = out_dir / "manifest.csv"
    with atomic_output(manifest_csv) as tmp:
        manifest.to_csv(tmp, index=False)
    dropped_df = pd.DataFrame(dropped, columns=DROPPED_COLUMNS)
    with atomic_output(out_dir / "dropped.csv") as tmp:
        dropped_df.to_csv(tmp, index=False)
    return FramesResult(manifest, dropped_df, manifest_csv)
