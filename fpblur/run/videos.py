"""Anonymize a list of video files (``fpblur video`` / ``fpblur batch``): one failing video never stops the others."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fpblur.config.settings import VideoSettings
from fpblur.core.files import InputError, Job, atomic_output, output_is_file, plan_outputs
from fpblur.media.video_io import CONTAINERS
from fpblur.redact.anonymizer import Anonymizer
from fpblur.run.video import Cancelled, VideoReport, anonymize_video


def _container_suffix(dst: Path) -> str | None:
    """Keep an output extension our muxer writes; anything else (.avi, .webm, …) becomes .mp4."""
    return None if dst.suffix.lower() in CONTAINERS else ".mp4"


def plan_video_outputs(jobs: list[Job], output: str | os.PathLike) -> list[Job]:
    """Like :func:`fpblur.core.files.plan_outputs`; outputs keep .mp4/.mov/.mkv/.m4v, other inputs become .mp4.

    Raises:
        InputError: a single output file whose extension the muxer cannot write, or two inputs planned onto
            one output.
    """
    out = Path(output)
    if output_is_file(jobs, out) and out.suffix.lower() not in CONTAINERS:
        raise InputError(f"{out}: output must end in {', '.join(CONTAINERS)}")
    return plan_outputs(jobs, out, suffix=_container_suffix)


def skip_existing(jobs: list[Job], overwrite: bool) -> tuple[list[Job], int]:
    """``(jobs still to do, number skipped)``: jobs whose output exists are skipped unless ``overwrite``."""
    if overwrite:
        return jobs, 0
    todo = [j for j in jobs if not (j.dst and j.dst.exists())]
    return todo, len(jobs) - len(todo)


@dataclass
class VideoBatch:
    """Totals of :func:`run_videos`: videos done and failed, frames, wall-clock seconds, tracks per label."""

    done: int = 0
    failed: int = 0
    frames: int = 0
    seconds: float = 0.0
    tracks: dict[str, int] = field(default_factory=dict)

    def add(self, report: VideoReport) -> None:
        """Count one finished video (its frames, seconds and tracks)."""
        self.done += 1
        self.frames += report.frames
        self.seconds += report.seconds
        for label, n in report.tracks.items():
            self.tracks[label] = self.tracks.get(label, 0) + n

    def summary(self) -> str:
        """One line: videos, frames, tracks per label, seconds (and failures, if any)."""
        tracks = ", ".join(f"{n} {label} tracks" for label, n in self.tracks.items())
        text = f"fpblur: {self.done} videos, {self.frames} frames, {tracks or 'no tracks'}, {self.seconds:.1f} s"
        return text + (f", {self.failed} failed" if self.failed else "")


def _report_to_stderr(report: VideoReport) -> None:
    print(f"fpblur: {report.summary()}", file=sys.stderr)


def run_videos(
    jobs: list[Job],
    anonymizer: Anonymizer,
    settings: VideoSettings | None = None,
    log_path: str | os.PathLike | None = None,
    *,
    on_error: Callable[[str], None] | None = None,
    on_report: Callable[[VideoReport], None] = _report_to_stderr,
) -> VideoBatch:
    """Anonymize every job (``job.dst`` set) with :func:`fpblur.run.video.anonymize_video`.

    Args:
        jobs: planned inputs and outputs (:func:`plan_video_outputs`).
        anonymizer: detectors, padding and mode.
        settings: video settings (None: ``anonymizer.config.video``).
        log_path: write every frame's record as one JSON line (with ``"video"``: the job's relative path),
            atomically, videos in order; a failed video leaves no lines.
        on_error: receives one line per failed video (the batch goes on).
        on_report: receives each finished video's report (default: its summary on stderr).

    Returns:
        The batch totals.

    Raises:
        Cancelled: a video was cancelled; like ``KeyboardInterrupt`` it stops the batch (nothing partial is
            left: neither that video's output nor the log).
        OSError: the log cannot be written.
    """
    batch = VideoBatch()
    with contextlib.ExitStack() as stack:
        log_file = None
        if log_path:
            log_file = stack.enter_context(open(stack.enter_context(atomic_output(log_path)), "w"))
        for job in jobs:
            assert job.dst is not None, "plan outputs first (plan_video_outputs)"
            rel = job.rel.as_posix()
            with tempfile.TemporaryFile("w+") as part:

                def on_frame(rec: dict, rel: str = rel, part=part) -> None:
                    part.write(json.dumps({"video": rel, **rec}) + "\n")

                try:
                    report = anonymize_video(
                        job.src, job.dst, anonymizer, settings, on_frame=on_frame if log_file else None, desc=rel
                    )
                except Cancelled:
                    raise
                except Exception as exc:  # one line per failed video, the batch goes on
                    batch.failed += 1
                    text = str(exc).strip().splitlines()
                    msg = text[0] if text else type(exc).__name__
                    if on_error is not None:
                        on_error(msg if str(job.src) in msg else f"{job.src}: {msg}")
                    continue
                if log_file:
                    part.seek(0)
                    log_file.write(part.read())
            batch.add(report)
            on_report(report)
    return batch
