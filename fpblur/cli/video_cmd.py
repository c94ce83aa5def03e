"""``fpblur video``: anonymize video files and folders (tracked, audio kept, rotation applied)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fpblur.cli.common import (add_detector_options, build_anonymizer, collect_or_report, error, exit_code,
                               log_path_error)
from fpblur.core.files import VIDEO_EXTS, InputError, Job, atomic_output, output_is_file, plan_outputs
from fpblur.media.video_io import CONTAINERS, DEFAULT_CRF, DEFAULT_PRESET
from fpblur.run.video import VideoSettings, parse_span

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow")


def _span(value: str) -> str:
    try:
        parse_span(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frames (15) or seconds (0.5s), got {value!r}") from None
    return value


def add_video_options(p: argparse.ArgumentParser, with_log: bool = True) -> None:
    g = p.add_argument_group("video")
    g.add_argument("--hold", type=_span, default="0.5s", metavar="N|Ss",
                   help="keep anonymizing a lost track this many frames, or seconds with an s suffix (default 0.5s)")
    g.add_argument("--conf-low", type=float, default=None, metavar="X",
                   help="score that keeps an existing track alive (default: half of --face-conf/--plate-conf); "
                        "a new track needs the full conf")
    g.add_argument("--lookahead", type=_span, default="0.5s", metavar="N|Ss",
                   help="delay output this many frames (or seconds) and anonymize a new track's box in the frames "
                        "before its first detection; 0 disables (default 0.5s)")
    g.add_argument("--full-every", type=_span, default=None, metavar="N|Ss",
                   help="run the full detectors (exactly what `fpblur image` runs) every N frames or S seconds and "
                        "let the tracker carry boxes in between; 1 = every frame (default: the profile's, 0.3s)")
    g.add_argument("--light-every", type=_span, default=None, metavar="N|Ss",
                   help="between full frames, run cheap passes (faces ×0.75, plates 480 px) every N frames or S "
                        "seconds; 0 = none (default: the profile's, 0.08s: every other frame at 25 fps)")
    g.add_argument("--crf", type=float, default=DEFAULT_CRF, help=f"x264 quality, lower is better (default {DEFAULT_CRF})")
    g.add_argument("--preset", choices=PRESETS, default=DEFAULT_PRESET, help=f"x264 speed preset (default {DEFAULT_PRESET})")
    g.add_argument("--batch", type=int, default=4, help="frames per detector call (default 4)")
    if with_log:
        g.add_argument("--log", metavar="JSONL", help="write one JSON line per frame: detections, track ids, regions")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")


def video_settings(args: argparse.Namespace) -> VideoSettings:
    return VideoSettings(hold=args.hold, lookahead=args.lookahead, conf_low=args.conf_low, crf=args.crf,
                         preset=args.preset, batch=args.batch, full_every=args.full_every,
                         light_every=args.light_every)


def _container_suffix(dst: Path) -> str | None:
    """Keep an output extension our muxer writes; anything else (.avi, .webm, …) becomes .mp4."""
    return None if dst.suffix.lower() in CONTAINERS else ".mp4"


def plan_video_outputs(jobs: list[Job], output: str | os.PathLike) -> list[Job]:
    """Like :func:`plan_outputs`; outputs keep .mp4/.mov/.mkv/.m4v and other inputs become .mp4."""
    out = Path(output)
    if output_is_file(jobs, out) and out.suffix.lower() not in CONTAINERS:
        raise InputError(f"{out}: output must end in {', '.join(CONTAINERS)}")
    return plan_outputs(jobs, out, suffix=_container_suffix)


def skip_existing(jobs: list[Job], overwrite: bool) -> tuple[list[Job], int]:
    if overwrite:
        return jobs, 0
    todo = [j for j in jobs if not (j.dst and j.dst.exists())]
    return todo, len(jobs) - len(todo)


@dataclass
class VideoBatch:
    done: int = 0
    failed: int = 0
    frames: int = 0
    seconds: float = 0.0
    tracks: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        tracks = ", ".join(f"{n} {label} tracks" for label, n in self.tracks.items())
        text = f"fpblur: {self.done} videos, {self.frames} frames, {tracks or 'no tracks'}, {self.seconds:.1f} s"
        return text + (f", {self.failed} failed" if self.failed else "")


def run_videos(jobs: list[Job], anonymizer, settings: VideoSettings, log_path: str | None = None) -> VideoBatch:
    """Anonymize every job; one failing video is reported and the others still run."""
    from fpblur.run.video import anonymize_video

    batch = VideoBatch()
    with contextlib.ExitStack() as stack:
        log_file = None
        if log_path:
            log_file = stack.enter_context(open(stack.enter_context(atomic_output(log_path)), "w"))
        for job in jobs:
            with tempfile.TemporaryFile("w+") as part:
                def on_frame(rec: dict, rel=job.rel.as_posix(), part=part) -> None:
                    part.write(json.dumps({"video": rel, **rec}) + "\n")

                try:
                    report = anonymize_video(job.src, job.dst, anonymizer, settings,
                                             on_frame=on_frame if log_file else None, desc=job.rel.as_posix())
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - one line per failed video, the batch goes on
                    batch.failed += 1
                    text = str(exc).strip().splitlines()
                    msg = text[0] if text else type(exc).__name__
                    error(msg if str(job.src) in msg else f"{job.src}: {msg}")
                    continue
                if log_file:
                    part.seek(0)
                    log_file.write(part.read())
            batch.done += 1
            batch.frames += report.frames
            batch.seconds += report.seconds
            for label, n in report.tracks.items():
                batch.tracks[label] = batch.tracks.get(label, 0) + n
            print(f"fpblur: {report.summary()}", file=sys.stderr)
    return batch


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("video", help="anonymize videos (files or folders, recursive)",
                       description="Anonymize faces and plates in videos: detections are tracked across frames "
                                   "(no flicker, no pop-in), audio streams are copied unchanged, phone rotation is "
                                   "applied, timing (variable frame rate) is kept. Folders are searched recursively "
                                   "and mirrored under OUT; existing outputs are skipped unless --overwrite.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="video files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder (or output .mp4/.mov/.mkv file when there is a single input file)")
    add_detector_options(p)
    add_video_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    jobs, n_errors = collect_or_report(args.inputs, VIDEO_EXTS)
    if not jobs:
        return 2
    try:
        jobs = plan_video_outputs(jobs, args.output)
    except InputError as exc:
        error(str(exc))
        return 2
    msg = log_path_error(args.log, "--log", jobs)
    if msg:
        error(msg)
        return 2
    jobs, skipped = skip_existing(jobs, args.overwrite)
    if skipped:
        print(f"fpblur: skipped {skipped} existing output(s); use --overwrite to redo them", file=sys.stderr)
    if not jobs:
        return exit_code(0, n_errors) if n_errors else 0
    anonymizer = build_anonymizer(args)
    batch = run_videos(jobs, anonymizer, video_settings(args), args.log)
    batch.failed += n_errors
    print(batch.summary(), file=sys.stderr)
    return exit_code(batch.done, batch.failed)
