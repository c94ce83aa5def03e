"""``fpblur image``: anonymize image files and folders."""

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
)
from fpblur.core.files import IMAGE_EXTS, InputError, plan_outputs
from fpblur.media.images import can_write_image
from fpblur.run.images import run_images, write_json_log


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur image`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "image",
        help="anonymize images (files or folders, recursive)",
        description="Anonymize faces and plates in images. Folders are searched recursively and "
        "their structure is mirrored under OUT.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder (or output file when there is a single input file)",
    )
    add_detector_options(p)
    p.add_argument("--log", metavar="JSON", help="also write the detection log (boxes, scores, regions) here")
    p.add_argument("--keep-metadata", action="store_true", help="keep EXIF/ICC metadata (stripped by default; GPS!)")
    max_pixels_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Anonymize the image files and folders of ``inputs`` into ``--output`` (folders mirrored).

    Outputs are planned before any detection runs: an output that would replace an input, an extension OpenCV
    cannot encode or a ``--log`` path equal to an input or output is one ``fpblur: error:`` line.

    Args:
        args: the parsed ``fpblur image`` command line.

    Returns:
        0 when every image was written, 1 when some failed, 2 when none could be.

    Raises:
        ValueError: contradicting or out-of-range options (e.g. ``--face-conf 2``), before any work;
            :func:`fpblur.cli.main` prints it as one line.
    """
    config = config_from_args(args)  # bad options fail before any work
    jobs, n_errors = collect_or_report(args.inputs, IMAGE_EXTS)
    if not jobs:
        return 2
    try:
        jobs = plan_outputs(jobs, args.output)
    except InputError as exc:
        error(str(exc))
        return 2
    msg = log_path_error(args.log, "--log", jobs)
    if msg:
        error(msg)
        return 2
    # refuse outputs OpenCV has no encoder for (-o out.txt, or an input named with an odd extension)
    # before any detection runs
    writable = [j for j in jobs if can_write_image(j.dst)]
    for job in jobs:
        if job not in writable and job.dst.suffix.lower() in (".heic", ".heif"):
            error(f"{job.src}: HEIF/HEIC images are not supported (no decoder installed); convert to JPEG or PNG first")
        elif job not in writable:
            error(
                f"{job.dst}: cannot write an image with the extension {job.dst.suffix!r} "
                "(use .jpg, .png, .webp, .tif, .bmp or .gif)"
            )
    n_errors += len(jobs) - len(writable)
    jobs = writable
    if not jobs:
        return 2
    anonymizer = build_anonymizer(config)
    report = run_images(
        jobs, anonymizer, keep_metadata=config.image.keep_metadata, max_pixels=config.image.max_pixels, on_error=error
    )
    report.failed += n_errors
    if args.log and report.done:  # nothing anonymized: no log file (an empty one would look like "no detections")
        write_json_log(args.log, report.log)
    print(report.summary(), file=sys.stderr)
    return exit_code(report.done, report.failed)
