"""``fpblur train``: train a YOLO detector from a recipe (``configs/*_train.yaml``) plus ``key=value`` overrides."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fpblur.models.extras import TRAIN_MODULES, require


class _IntermixedParser(argparse.ArgumentParser):
    """Lets ``key=value`` overrides and options come in any order (``--device 0,1 epochs=3 --quiet``)."""

    _inner = False

    def parse_known_args(self, args=None, namespace=None):
        if self._inner:
            return super().parse_known_args(args, namespace)
        self._inner = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._inner = False


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur train`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "train",
        help="train a face or plate YOLO detector from a YAML recipe (offline)",
        description="Merges the recipe with key=value overrides (Ultralytics train arguments, typed like the yolo "
        "CLI; unknown keys are rejected) and trains with Ultralytics, offline: no font, AMP-check or "
        "weights download.  Example: fpblur train --config configs/face_train.yaml --device 0,1 "
        "epochs=100.  Smoke run on CPU: fpblur train --config configs/face_train.yaml "
        "model=yolov8n.yaml data=DATA.yaml imgsz=160 epochs=1 batch=8 device=cpu",
    )
    p.add_argument("--config", required=True, metavar="YAML", help="training recipe, e.g. configs/face_train.yaml")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="Ultralytics train arguments to override")
    p.add_argument(
        "--device", default=None, help="cpu, 0, or several GPUs 0,1 (DDP); default: the recipe's device (auto)"
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="LAST.pt",
        help="continue an interrupted run (default: the recipe's project/name/weights/last.pt)",
    )
    p.add_argument("--print-config", action="store_true", help="print the merged config as JSON and exit")
    p.add_argument("--quiet", action="store_true", help="hide Ultralytics' training log")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    p.__class__ = _IntermixedParser
    return p


def run(args: argparse.Namespace) -> int:
    """Train a YOLO detector with Ultralytics from ``--config`` plus ``key=value`` overrides
    (:mod:`fpblur.training.train`); prints where the run's files are and its final metrics.

    Args:
        args: the parsed ``fpblur train`` command line (``--print-config``: print the merged config as JSON and
            stop).

    Returns:
        0.

    Raises:
        fpblur.models.extras.MissingExtra: the ``[train]`` extra is not installed.
        fpblur.training.train.ConfigError: an unreadable recipe, an unknown key or a bad value.
        fpblur.training.train.ModelFileMissing: a ``*.pt`` base model is not on disk (nothing is downloaded).
    """
    require("fpblur train", "train", *TRAIN_MODULES)
    # optional: [train] extra (fpblur.training.train imports pyyaml; it trains with torch and Ultralytics)
    from fpblur.training import train as tr

    if isinstance(args.resume, str) and "=" in args.resume and not Path(args.resume).exists():
        args.overrides.append(args.resume)  # `--resume epochs=3`: a bare --resume followed by an override
        args.resume = True
    cfg = tr.merge_config(tr.load_config(args.config), tr.parse_overrides(args.overrides), args.device)
    if args.print_config:
        print(json.dumps(cfg, indent=2, default=str))
        return 0
    result = tr.train(cfg, resume=args.resume, verbose=not args.quiet)
    print(f"run:         {result.save_dir}", file=sys.stderr)
    print(f"weights:     {result.best if result.best.is_file() else result.last}", file=sys.stderr)
    print(f"results.csv: {result.results_csv}", file=sys.stderr)
    keys = ("metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)")
    shown = {k.split("/")[1].replace("(B)", ""): result.metrics[k] for k in keys if k in result.metrics}
    if shown:
        print("final:       " + "  ".join(f"{k} {v:.3f}" for k, v in shown.items()), file=sys.stderr)
    return 0
