"""``fpblur detect``: write the detection log without changing any image."""

from __future__ import annotations

import argparse
import sys

from fpblur.cli.common import (add_detector_options, build_anonymizer, collect_or_report, error, exit_code,
                               log_path_error)
from fpblur.core.files import IMAGE_EXTS
from fpblur.media.images import DEFAULT_MAX_PIXELS
from fpblur.run.images import run_images, write_json_log


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("detect", help="detect faces/plates and write a JSON log (no images written)",
                       description='Writes {"relative/path.jpg": [{"box": [x1,y1,x2,y2], "score": s, "label": '
                                   '"face", "region": [x1,y1,x2,y2]}, ...]} with boxes in original pixels; '
                                   '"region" is the padded area the anonymizer would cover.')
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files or folders")
    p.add_argument("--json", required=True, metavar="OUT.json", help="where to write the log")
    p.add_argument("--conf", type=float, default=None, help="score threshold for every target (overrides --face-conf/--plate-conf)")
    add_detector_options(p, with_mode=False)
    p.add_argument("--pad", type=float, default=None,
                   help="padding used to compute each region (default: the profile's, faces 0.22, plates 0.25)")
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default 100 MP)")
    return p


def run(args: argparse.Namespace) -> int:
    jobs, n_errors = collect_or_report(args.inputs, IMAGE_EXTS)
    if not jobs:
        return 2
    msg = log_path_error(args.json, "--json", jobs)
    if msg:
        error(msg)
        return 2
    anonymizer = build_anonymizer(args, conf_override=args.conf, mode="boxes")
    report = run_images(jobs, anonymizer, write=False, max_pixels=args.max_pixels, on_error=error)
    report.failed += n_errors
    write_json_log(args.json, report.log)
    print(report.summary(), file=sys.stderr)
    return exit_code(report.done, report.failed)
