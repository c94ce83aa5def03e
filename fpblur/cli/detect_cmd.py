"""``fpblur detect``: write the detection log without changing any image."""

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
    max_pixels_option,
    pad_text,
)
from fpblur.config.settings import default_config
from fpblur.core.files import IMAGE_EXTS
from fpblur.run.images import run_images, write_json_log


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur detect`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "detect",
        help="detect faces/plates and write a JSON log (no images written)",
        description='Writes {"relative/path.jpg": [{"box": [x1,y1,x2,y2], "score": s, "label": '
        '"face", "region": [x1,y1,x2,y2]}, ...]} with boxes in original pixels; '
        '"region" is the padded area the anonymizer would cover.',
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    p.add_argument("--json", required=True, metavar="OUT.json", help="where to write the log")
    p.add_argument(
        "--conf", type=float, default=None, help="score threshold for every target (overrides --face-conf/--plate-conf)"
    )
    add_detector_options(p, with_mode=False)
    p.add_argument(
        "--pad",
        type=float,
        default=None,
        help=f"padding used to compute each region (default: the profile's, {pad_text(default_config(), 's')})",
    )
    max_pixels_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Detect in every image of ``inputs`` and write the JSON log to ``--json``; no image is written.

    Boxes and regions in the log are ``[x1, y1, x2, y2]`` pixels of the upright image; ``--conf`` replaces both
    targets' thresholds.

    Args:
        args: the parsed ``fpblur detect`` command line.

    Returns:
        0 when every image was read, 1 when some failed, 2 when none could be (no log is written then) or the log
        path would replace an input.

    Raises:
        ValueError: contradicting or out-of-range options (before any work); :func:`fpblur.cli.main` prints it
            as one line.
    """
    config = config_from_args(args, mode="boxes")  # --conf wins over --face-conf/--plate-conf; bad options fail here
    jobs, n_errors = collect_or_report(args.inputs, IMAGE_EXTS)
    if not jobs:
        return 2
    msg = log_path_error(args.json, "--json", jobs)
    if msg:
        error(msg)
        return 2
    anonymizer = build_anonymizer(config)
    report = run_images(jobs, anonymizer, write=False, max_pixels=config.image.max_pixels, on_error=error)
    report.failed += n_errors
    if report.done:  # nothing read: no log file (an empty one would look like "no detections")
        write_json_log(args.json, report.log)
    print(report.summary(), file=sys.stderr)
    return exit_code(report.done, report.failed)
