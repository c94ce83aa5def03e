"""``fpblur video``: anonymize video files and folders (tracked, audio kept, rotation applied)."""

from __future__ import annotations

import argparse
import sys

from fpblur.cli.common import (
    add_detector_options,
    build_anonymizer,
    collect_or_report,
    config_from_args,
    error,
    exit_code,
    log_path_error,
)
from fpblur.config.settings import X264_PRESETS, VideoSettings, default_config
from fpblur.core.files import VIDEO_EXTS, InputError
from fpblur.run.video import parse_span
from fpblur.run.videos import plan_video_outputs, run_videos, skip_existing


def _span(value: str) -> str:
    try:
        parse_span(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected frames (15) or seconds (0.5s), got {value!r}") from None
    return value


def add_video_options(p: argparse.ArgumentParser, with_log: bool = True) -> None:
    """Add the ``video`` option group (tracking hold, look-ahead, frame schedule, x264 settings) to ``p``.

    Defaults and help texts are the default profile's :class:`~fpblur.config.settings.VideoSettings`; spans
    (``--hold`` …) are frames (``15``) or seconds (``0.5s``).

    Args:
        p: the parser to extend.
        with_log: also add ``--log`` (one JSON line per frame); ``fpblur batch`` has none.
    """
    video = default_config().video  # defaults and help text: the default profile's video settings
    light = []
    if video.light.face_passes:
        light.append(f"faces ×{','.join(video.light.face_passes)}")
    if video.light.plate_imgsz:
        light.append(f"plates {'+'.join(map(str, video.light.plate_imgsz))} px")
    g = p.add_argument_group("video")
    g.add_argument(
        "--hold",
        type=_span,
        default=video.hold,
        metavar="N|Ss",
        help=f"keep anonymizing a lost track this many frames, or seconds with an s suffix (default {video.hold})",
    )
    g.add_argument(
        "--conf-low",
        type=float,
        default=None,
        metavar="X",
        help="score that keeps an existing track alive (default: half of --face-conf/--plate-conf); "
        "a new track needs the full conf",
    )
    g.add_argument(
        "--lookahead",
        type=_span,
        default=video.lookahead,
        metavar="N|Ss",
        help="delay output this many frames (or seconds) and anonymize a new track's box in the frames "
        f"before its first detection; 0 disables (default {video.lookahead})",
    )
    g.add_argument(
        "--full-every",
        type=_span,
        default=None,
        metavar="N|Ss",
        help="run the full detectors (exactly what `fpblur image` runs) every N frames or S seconds and "
        f"let the tracker carry boxes in between; 1 = every frame (default: the profile's, "
        f"{video.full_every})",
    )
    g.add_argument(
        "--deep-every",
        type=int,
        default=None,
        metavar="N",
        help="run the deep passes of the full detectors (upscaled and rotated faces) on every N-th full frame, "
        f"the full frames between at x1 and upright; 1 = every full frame (default {video.full.deep_every})",
    )
    g.add_argument(
        "--light-every",
        type=_span,
        default=None,
        metavar="N|Ss",
        help=f"between full frames, run cheap passes ({', '.join(light)}) every N frames or S "
        f"seconds; 0 = none (default: the profile's, {video.light_every}: every other frame at 25 fps)",
    )
    g.add_argument(
        "--crf", type=float, default=video.crf, help=f"x264 quality, lower is better (default {video.crf:g})"
    )
    g.add_argument(
        "--preset", choices=X264_PRESETS, default=video.preset, help=f"x264 speed preset (default {video.preset})"
    )
    g.add_argument("--batch", type=int, default=video.batch, help=f"frames per detector call (default {video.batch})")
    if with_log:
        g.add_argument("--log", metavar="JSONL", help="write one JSON line per frame: detections, track ids, regions")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: skip them)")


def video_settings(args: argparse.Namespace) -> VideoSettings:
    """The video settings a parsed ``fpblur video``/``batch`` command line asks for (see :func:`config_from_args`)."""
    return config_from_args(args).video


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur video`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "video",
        help="anonymize videos (files or folders, recursive)",
        description="Anonymize faces and plates in videos: detections are tracked across frames "
        "(no flicker, no pop-in), audio and subtitle streams are copied unchanged (with their "
        "language, title and flags), phone rotation is applied, timing (variable frame rate) is "
        "kept; truncated inputs are refused. Folders are searched recursively and mirrored under "
        "OUT; existing outputs are skipped unless --overwrite.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="video files or folders")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder (or output .mp4/.mov/.mkv file when there is a single input file)",
    )
    add_detector_options(p)
    add_video_options(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Anonymize the video files and folders of ``inputs`` into ``--output`` (tracked, audio copied).

    Existing outputs are skipped unless ``--overwrite``; each bad input is one ``fpblur: error:`` line.

    Args:
        args: the parsed ``fpblur video`` command line.

    Returns:
        0 when every video was written (or skipped as existing), 1 when some failed, 2 when none could be.

    Raises:
        ValueError: contradicting or out-of-range options (before any work); :func:`fpblur.cli.main` prints it
            as one line.
    """
    config = config_from_args(args)  # bad options fail before any work
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
    anonymizer = build_anonymizer(config)
    batch = run_videos(jobs, anonymizer, config.video, args.log, on_error=error)
    batch.failed += n_errors
    print(batch.summary(), file=sys.stderr)
    return exit_code(batch.done, batch.failed)
