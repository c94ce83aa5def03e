"""``fpblur export``: export trained weights (ONNX by default) and verify the export."""

from __future__ import annotations

import argparse
import sys

from fpblur.models.extras import TRAIN_MODULES, require


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur export`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "export",
        help="export trained YOLO weights (ONNX) and verify them against torch",
        description="Exports with Ultralytics (offline), then for ONNX picks a sample image on which the .pt "
        "weights find something (fpblur's zidane.jpg, bus.jpg and drawn car, or --image), checks that fpblur's YOLO "
        "detector loads the file and finds the same boxes and scores there, and compares ONNX Runtime's raw "
        "outputs with torch's within a tolerance.  Exit status 1 when a check fails or when the weights find "
        "nothing on any image (nothing compared).",
    )
    p.add_argument("--weights", required=True, metavar="BEST.pt", help="trained weights (.pt)")
    p.add_argument("--format", default="onnx", help="Ultralytics export format (default onnx; only onnx is verified)")
    p.add_argument(
        "--imgsz", type=int, default=None, help="export size (default: the size the weights were trained at)"
    )
    p.add_argument("--output", metavar="PATH", help="where to put the exported file (default: next to the weights)")
    p.add_argument("--half", action="store_true", help="FP16 export (looser verification tolerances)")
    p.add_argument("--dynamic", action="store_true", help="dynamic input size and batch")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default: Ultralytics' choice)")
    p.add_argument("--device", default="cpu", help="device used for exporting (default cpu)")
    p.add_argument("--conf", type=float, default=0.1, help="score threshold of the detector check (default 0.1)")
    p.add_argument("--box-atol", type=float, default=None, help="tolerance on box outputs in pixels (default 0.05)")
    p.add_argument("--score-atol", type=float, default=None, help="tolerance on score outputs (default 1e-3)")
    p.add_argument(
        "--image",
        action="append",
        default=None,
        metavar="IMG",
        help="verify on this image instead of fpblur's samples (repeatable; the first one the weights find "
        "something on is used)",
    )
    p.add_argument("--no-verify", action="store_true", help="export only")
    p.add_argument("--verbose", action="store_true", help="show Ultralytics' export log")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return p


def run(args: argparse.Namespace) -> int:
    """Export ``--weights`` with Ultralytics and, for ONNX, verify the export
    (:func:`~fpblur.training.export.export_and_verify`); prints the checks' summaries.

    Args:
        args: the parsed ``fpblur export`` command line.

    Returns:
        0 when the export matches the ``.pt`` weights (or ``--no-verify``), 1 when a check fails or the weights
        find nothing on any verification image (nothing compared).

    Raises:
        fpblur.models.extras.MissingExtra: the ``[train]`` extra is not installed.
        FileNotFoundError, ValueError, fpblur.core.files.InputError: missing or non-``.pt`` weights, a missing
            or unreadable ``--image``, an output equal to the weights (printed by :func:`fpblur.cli.main` as one
            line).
    """
    require("fpblur export", "train", *TRAIN_MODULES)
    # optional: [train] extra (fpblur.training.export imports pyyaml; it exports with torch and Ultralytics)
    from fpblur.training.export import export_and_verify

    res = export_and_verify(
        args.weights,
        format=args.format,
        imgsz=args.imgsz,
        half=args.half,
        dynamic=args.dynamic,
        opset=args.opset,
        device=args.device,
        output=args.output,
        verify=not args.no_verify,
        conf=args.conf,
        box_atol=args.box_atol,
        score_atol=args.score_atol,
        verbose=args.verbose,
        images=args.image,
    )
    print(f"exported: {res.exported} ({res.format}, imgsz {res.imgsz})")
    if res.verify is not None:
        print(res.verify.summary())
    if res.detector is not None and not res.detector.compared:  # one line instead of "0 boxes vs 0"
        print(f"fpblur: error: export not verified, {res.detector.summary()}", file=sys.stderr)
        return 1
    if res.detector is not None:
        print(res.detector.summary())
    elif args.format == "onnx" and not args.no_verify:
        print("not verified", file=sys.stderr)
    if not res.ok:
        print("fpblur: error: the export does not match the .pt weights", file=sys.stderr)
        return 1
    return 0
