"""Options shared by the commands that detect (image, detect, video, batch) and their translation."""

from __future__ import annotations

import argparse
import sys

from fpblur.anonymize import MODES
from fpblur.anonymizer import DEFAULT_PAD
from fpblur.detectors.factory import DetectorSpec


def _targets(value: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in value.split(",") if t.strip())
    bad = [t for t in items if t not in ("face", "plate")]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"targets must be face, plate or face,plate (got {value!r})")
    return items


def _scales(value: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"scales must be comma-separated numbers (got {value!r})") from None


def add_detector_options(p: argparse.ArgumentParser, with_mode: bool = True) -> None:
    g = p.add_argument_group("detection")
    g.add_argument("--targets", type=_targets, default=("face", "plate"), help="what to find: face,plate (default both)")
    g.add_argument("--faces", metavar="WEIGHTS", help="face model weights (.pt/.onnx); default: CenterFace")
    g.add_argument("--plates", metavar="WEIGHTS", help="plate model weights (.pt/.onnx); default: YOLOv8n plate model")
    g.add_argument("--face-conf", type=float, default=None, help="face score threshold (default 0.2)")
    g.add_argument("--plate-conf", type=float, default=None, help="plate score threshold (default 0.25)")
    g.add_argument("--iou", type=float, default=None, help="NMS IoU threshold (default: 0.3 faces, 0.45 plates)")
    g.add_argument("--imgsz", type=int, default=640, help="inference size of YOLO models (default 640)")
    g.add_argument("--face-scales", type=_scales, default=(1.0,), metavar="S[,S..]",
                   help="CenterFace input scales, merged by NMS (default 1.0 = full resolution)")
    g.add_argument("--device", default=None, help="YOLO device: cpu, 0, 0,1 … (default: CUDA if available)")
    g.add_argument("--half", action="store_true", help="half precision for YOLO models on CUDA")
    if with_mode:
        a = p.add_argument_group("anonymization")
        a.add_argument("--mode", choices=MODES, default="blur", help="how to anonymize (default blur)")
        a.add_argument("--pad", type=float, default=DEFAULT_PAD,
                       help=f"grow each box by this fraction of its size on every side (default {DEFAULT_PAD})")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def specs_from_args(args: argparse.Namespace, conf_override: float | None = None) -> dict[str, DetectorSpec]:
    specs = {}
    for target, weights, conf in (("face", args.faces, args.face_conf), ("plate", args.plates, args.plate_conf)):
        specs[target] = DetectorSpec(
            target=target,
            weights=weights,
            conf=conf_override if conf_override is not None else conf,
            iou=args.iou,
            imgsz=args.imgsz,
            device=args.device,
            half=args.half,
            scales=args.face_scales,
        )
    return specs


def build_anonymizer(args: argparse.Namespace, conf_override: float | None = None, mode: str | None = None):
    from fpblur.anonymizer import Anonymizer

    return Anonymizer(
        targets=args.targets,
        mode=mode or getattr(args, "mode", "blur"),
        pad=getattr(args, "pad", DEFAULT_PAD),
        specs=specs_from_args(args, conf_override),
    )


def error(msg: str) -> None:
    """One line on stderr, prefixed like argparse's errors (kept clear of any tqdm bar)."""
    from tqdm import tqdm

    tqdm.write(f"fpblur: error: {msg}", file=sys.stderr)


def exit_code(done: int, failed: int) -> int:
    """0 when everything worked, 1 when some inputs failed, 2 when nothing could be done."""
    if failed and not done:
        return 2
    return 1 if failed else 0


def collect_or_report(inputs, exts):
    """Expand inputs into jobs, printing one error line per bad input; returns ``(jobs, n_errors)``."""
    from fpblur.files import collect

    jobs, errors = collect(inputs, exts)
    for e in errors:
        error(e)
    return jobs, len(errors)
