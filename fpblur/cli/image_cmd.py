"""``fpblur image``: anonymize image files and folders."""

from __future__ import annotations

import argparse
import sys

from fpblur.cli.common import (add_detector_options, build_anonymizer, collect_or_report, error, exit_code,
                               log_path_error)
from fpblur.core.files import IMAGE_EXTS, InputError, plan_outputs
from fpblur.media.images import DEFAULT_MAX_PIXELS, can_write_image
from fpblur.run.images import run_images, write_json_log


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("image", help="anonymize images (files or folders, recursive)",
                       description="Anonymize faces and plates in images. Folders are searched recursively and "
                                   "their structure is mirrored under OUT.")
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder (or output file when there is a single input file)")
    add_detector_options(p)
    p.add_argument("--log", metavar="JSON", help="also write the detection log (boxes, scores, regions) here")
    p.add_argument("--keep-metadata", action="store_true", help="keep EXIF/ICC metadata (stripped by default; GPS!)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default 100 MP)")
    return p


def run(args: argparse.Namespace) -> int:
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
        if job not in writable:
            error(f"{job.dst}: cannot write an image with the extension {job.dst.suffix!r} "
                  "(use .jpg, .png, .webp, .tif or .bmp)")
    n_errors += len(jobs) - len(writable)
    jobs = writable
    if not jobs:
        return 2
    anonymizer = build_anonymizer(args)
    report = run_images(jobs, anonymizer, keep_metadata=args.keep_metadata, max_pixels=args.max_pixels,
                        on_error=error)
    report.failed += n_errors
    if args.log:
        write_json_log(args.log, report.log)
    print(report.summary(), file=sys.stderr)
    return exit_code(report.done, report.failed)
