"""Options shared by the commands that detect (image, detect, video, batch) and their translation."""

from __future__ import annotations

import argparse
import sys

from fpblur.redact.modes import MODES
from fpblur.config.spec import DetectorSpec


def _targets(value: str) -> tuple[str, ...]:
    items = tuple(t.strip() for t in value.split(",") if t.strip())
    bad = [t for t in items if t not in ("face", "plate")]
    if bad or not items:
        raise argparse.ArgumentTypeError(f"targets must be face, plate or face,plate (got {value!r})")
    return items


def _scales(value: str) -> tuple:
    """``1,2`` / ``2@4096,640px``: plain numbers stay floats, the other forms become ScalePass objects."""
    from fpblur.detect.centerface import ScalePass

    out = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        try:
            out.append(float(item))
        except ValueError:
            try:
                out.append(ScalePass.parse(item))
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"scales must be comma-separated numbers, Npx or S@MAXSIDE (got {value!r})") from None
    if not out:
        raise argparse.ArgumentTypeError(f"scales must be comma-separated numbers (got {value!r})")
    return tuple(out)


def add_detector_options(p: argparse.ArgumentParser, with_mode: bool = True) -> None:
    from fpblur.config.profiles import DEFAULT_PROFILE, PROFILES, get_profile

    prof = get_profile()
    g = p.add_argument_group("detection")
    g.add_argument("--targets", type=_targets, default=("face", "plate"), help="what to find: face,plate (default both)")
    g.add_argument("--profile", choices=tuple(PROFILES), default=None,
                   help=f"detector settings: {'; '.join(f'{n} = {q.summary}' for n, q in PROFILES.items())} "
                        f"(default {DEFAULT_PROFILE}); explicit options below win")
    g.add_argument("--fast", action="store_true", help="same as --profile fast")
    g.add_argument("--faces", metavar="WEIGHTS", help="face model weights (.pt/.onnx); default: CenterFace")
    g.add_argument("--plates", metavar="WEIGHTS", help="plate model weights (.pt/.onnx); default: YOLOv8n plate model")
    g.add_argument("--face-conf", type=float, default=None, help=f"face score threshold (default {prof.face.conf:g})")
    g.add_argument("--plate-conf", type=float, default=None,
                   help=f"plate score threshold (default {prof.plate.conf:g}; fast profile {PROFILES['fast'].plate.conf:g})")
    g.add_argument("--iou", type=float, default=None,
                   help=f"NMS IoU threshold (default: {prof.face.iou:g} faces, {prof.plate.iou:g} plates)")
    g.add_argument("--imgsz", type=int, default=None,
                   help="inference size of YOLO models (default: the profile's, "
                        f"{'+'.join(map(str, prof.plate.imgsz))} merged for the default plate model; 640 for others)")
    g.add_argument("--face-scales", type=_scales, default=None, metavar="S[,S..]",
                   help="CenterFace passes merged by NMS: scale factors (1 = full resolution), Npx (long side N), "
                        f"S@MAX (cap the long side); default: the profile's ({','.join(map(str, prof.face.passes))})")
    g.add_argument("--device", default=None, help="YOLO device: cpu, 0, 0,1 … (default: CUDA if available)")
    g.add_argument("--half", action="store_true", help="half precision for YOLO models on CUDA")
    if with_mode:
        a = p.add_argument_group("anonymization")
        a.add_argument("--mode", choices=MODES, default="blur", help="how to anonymize (default blur)")
        a.add_argument("--pad", type=float, default=None,
                       help="grow each box by this fraction of its size on every side (default: the profile's, "
                            + ", ".join(f"{k} {v:g}" for k, v in prof.pad.items()) + ")")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def profile_name(args: argparse.Namespace) -> str:
    """``--fast`` / ``--profile NAME`` → the profile name (``default`` when neither is given)."""
    from fpblur.config.profiles import DEFAULT_PROFILE

    if getattr(args, "fast", False):
        if getattr(args, "profile", None) not in (None, "fast"):
            raise ValueError(f"--fast contradicts --profile {args.profile}")
        return "fast"
    return getattr(args, "profile", None) or DEFAULT_PROFILE


def pad_from_args(args: argparse.Namespace) -> float | dict[str, float]:
    """``--pad`` when given, else the profile's per-target padding."""
    from fpblur.config.profiles import get_profile

    pad = getattr(args, "pad", None)
    return dict(get_profile(profile_name(args)).pad) if pad is None else float(pad)


def specs_from_args(args: argparse.Namespace, conf_override: float | None = None) -> dict[str, DetectorSpec]:
    specs = {}
    for target, weights, conf in (("face", args.faces, args.face_conf), ("plate", args.plates, args.plate_conf)):
        specs[target] = DetectorSpec(
            target=target,
            weights=weights,
            conf=conf_override if conf_override is not None else conf,
            iou=args.iou,
            imgsz=getattr(args, "imgsz", None),
            device=getattr(args, "device", None),
            half=getattr(args, "half", False),
            scales=getattr(args, "face_scales", None),
            profile=profile_name(args),
        )
    return specs


def build_anonymizer(args: argparse.Namespace, conf_override: float | None = None, mode: str | None = None):
    from fpblur.redact.anonymizer import Anonymizer

    return Anonymizer(
        targets=args.targets,
        mode=mode or getattr(args, "mode", "blur"),
        pad=pad_from_args(args),
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


def collect_or_report(inputs, exts, what: str | None = None):
    """Expand inputs into jobs, printing one error line per bad input; returns ``(jobs, n_errors)``."""
    from fpblur.core.files import collect

    jobs, errors = collect(inputs, exts, what)
    for e in errors:
        error(e)
    return jobs, len(errors)


def log_path_error(path, option: str, jobs) -> str | None:
    """The one-line error when a log file (``option``'s value ``path``) would replace an input or an output
    of ``jobs``; None when it is safe.  Checked before any work is done."""
    from pathlib import Path

    from fpblur.core.files import same_file

    if not path:
        return None
    path = Path(path)
    for job in jobs:
        if same_file(path, job.src):
            return f"{path}: {option} path equals the input {job.src}; refusing to overwrite an input"
        if job.dst is not None and same_file(path, job.dst):
            return f"{path}: {option} path equals the output of {job.src}"
    return None
