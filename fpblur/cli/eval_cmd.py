"""``fpblur eval``: Ultralytics metrics + privacy metrics for detectors on labelled data, logged to CSV."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from fpblur.cli.common import _scales, _sizes, pad_text
from fpblur.config.profiles import DEFAULT_PROFILE, PROFILES
from fpblur.config.settings import default_config
from fpblur.models.extras import TRAIN_MODULES, require

# = fpblur.training.eval.log.DEFAULT_LOG, not imported: fpblur.training needs the [train] extra and `fpblur --help`
# must work in the core install (tests/test_offline.py checks that the two agree)
DEFAULT_LOG = Path("runs") / "eval_log.csv"

TABLE = (
    "model",
    "dataset",
    "n_images",
    "n_boxes",
    "P",
    "R",
    "mAP50",
    "mAP50-95",
    "recall",
    "fp_per_img",
    "coverage",
    "wider_hard",
    "ms_per_img",
)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur eval`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    base = default_config()
    face, plate = base.spec("face"), base.spec("plate")
    p = sub.add_parser(
        "eval",
        help="evaluate detectors on labelled data (mAP, coverage recall, FP/img) and log a CSV row",
        description="For each --model on each --data: P, R, mAP50, mAP50-95 (Ultralytics' metric code on fpblur's "
        "detections), AP50, recall, precision, FP/img and coverage recall by face size at --conf (fpblur's "
        "privacy metrics), WIDER easy/medium/hard AP when the data has WIDER flags, ms/img.  Appends "
        "one row per run to the CSV log and saves PR curves under --out.  The default models run with "
        f"the profile's settings (--profile; default {DEFAULT_PROFILE}), as in fpblur image; options given "
        "here win.",
    )
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="M",
        help="centerface, plate-yolov8n, default, or a .pt/.onnx weights file (repeatable)",
    )
    p.add_argument(
        "--data",
        action="append",
        required=True,
        metavar="D",
        help="labels.json folder (WIDER format), YOLO data YAML or YOLO dataset folder (repeatable)",
    )
    p.add_argument("--target", choices=("face", "plate"), help="what the data labels (default: guessed)")
    p.add_argument("--split", default="val", help="split of a YOLO dataset (default val)")
    p.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default=None,
        help=f"detector settings and padding of the default models (default {DEFAULT_PROFILE}); options below win",
    )
    p.add_argument(
        "--conf",
        type=float,
        default=None,
        help=f"operating threshold (default: {face.conf:g} faces, {plate.conf:g} plates)",
    )
    p.add_argument(
        "--sweep-conf",
        type=float,
        default=None,
        help="threshold of the detection pass AP/mAP come from (default: 0.001 YOLO, 0.01 CenterFace)",
    )
    p.add_argument(
        "--iou",
        type=float,
        default=None,
        help=f"NMS IoU (default: the profile's, {face.iou:g} faces, {plate.iou:g} plates)",
    )
    p.add_argument(
        "--imgsz",
        type=int,
        default=None,
        help="inference size of YOLO models (default: the profile's, "
        f"{_sizes(plate.imgsz)} merged, for the default plate model and --faces/--plates weights alike)",
    )
    p.add_argument(
        "--pad",
        type=float,
        default=None,
        help=f"region padding for coverage (default: the anonymizer's, {pad_text(base, 's')})",
    )
    p.add_argument(
        "--face-scales",
        type=_scales,
        default=None,
        metavar="S[,S..]",
        help="CenterFace passes merged by NMS: scale factors, Npx or S@MAX "
        f"(default: the profile's, {','.join(map(str, face.scales))})",
    )
    p.add_argument("--device", default=None, help="YOLO device: cpu, 0 … (default: CUDA if available)")
    p.add_argument("--half", action="store_true", help="half precision for YOLO models on CUDA")
    p.add_argument("--max-images", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--timing-images", type=int, default=20, help="images timed for ms/img (0: skip; default 20)")
    p.add_argument("--out", default="runs/eval", help="folder for PR curves and metrics.json (default runs/eval)")
    p.add_argument("--log", default=str(DEFAULT_LOG), help=f"CSV log to append to (default {DEFAULT_LOG})")
    p.add_argument("--no-log", action="store_true", help="do not append to the CSV log")
    p.add_argument("--no-plots", action="store_true", help="do not draw PR curves")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return p


def _fmt(v) -> str:
    if v is None or v == "":
        return "-"
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.3f}" if abs(v) < 100 else f"{v:.0f}"
    return str(v)


def print_table(rows: list[dict], file=None) -> None:
    """Print eval-log rows as an aligned text table of the :data:`TABLE` columns.

    Args:
        rows: rows as :func:`fpblur.training.eval.evaluation.evaluate_model` logs them.
        file: where to print (default: stdout).  Floats are shown with 3 decimals (none from 100 on), missing
            values and NaN as ``-``.
    """
    file = file or sys.stdout
    cells = [[_fmt(r.get(c)) for c in TABLE] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(TABLE)]
    print("  ".join(c.ljust(w) for c, w in zip(TABLE, widths)).rstrip(), file=file)
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip(), file=file)


def run(args: argparse.Namespace) -> int:
    """Evaluate each ``--model`` on each ``--data`` (:func:`~fpblur.training.eval.evaluation.evaluate_model`),
    append one CSV-log row per pair and print the table.

    Args:
        args: the parsed ``fpblur eval`` command line.

    Returns:
        0.

    Raises:
        fpblur.models.extras.MissingExtra: the ``[train]`` extra is not installed.
        FileNotFoundError, ValueError: unreadable data or weights, an unknown target, a model for the other
            target (all printed by :func:`fpblur.cli.main` as one line).
    """
    require("fpblur eval", "train", *TRAIN_MODULES)
    # optional: [train] extra (fpblur.training.eval imports pyyaml; it scores with Ultralytics' metrics)
    from fpblur.training.eval.evaluation import evaluate_model

    rows = []
    for data in args.data:
        for model in args.model:
            res = evaluate_model(
                model,
                data,
                target=args.target,
                split=args.split,
                conf=args.conf,
                iou=args.iou,
                imgsz=args.imgsz,
                pad=args.pad,
                device=args.device,
                half=args.half,
                scales=args.face_scales,
                max_images=args.max_images,
                sweep_conf=args.sweep_conf,
                timing_images=args.timing_images,
                out_dir=args.out,
                profile=args.profile,
                log=None if args.no_log else args.log,
                plots=not args.no_plots,
            )
            rows.append(res.row)
            where = f"; row appended to {res.log_path}" if res.log_path else ""
            print(f"{res.row['model']} on {res.row['dataset']}: results in {res.out_dir}{where}", file=sys.stderr)
    print_table(rows)
    return 0
