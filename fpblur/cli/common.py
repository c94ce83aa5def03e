"""Options shared by the commands that detect (image, detect, video, batch) and their translation.

Option defaults and help text come from the resolved default configuration (:mod:`fpblur.config.settings`);
:func:`config_from_args` turns a parsed command line into the one :class:`~fpblur.config.settings.RunConfig`
the command runs with, through :func:`~fpblur.config.settings.resolve_config` (the resolver the Python API and
the front ends call too).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fpblur.config.profiles import DEFAULT_PROFILE, PROFILES
from fpblur.config.settings import MODES, RunConfig, default_config, resolve_config, resolve_targets
from fpblur.core.files import collect, same_file
from fpblur.detect.centerface import ScalePass
from fpblur.redact.anonymizer import Anonymizer


def _targets(value: str) -> tuple[str, ...]:
    try:
        return resolve_targets(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"targets must be face, plate or face,plate (got {value!r})") from None


def _rotations(value: str) -> tuple[int, ...]:
    """``--face-rotations``: ``"90,270"`` -> ``(90, 270)``; ``"none"`` -> ``()``."""
    if value.strip().lower() == "none":
        return ()
    try:
        angles = tuple(int(v) for v in value.split(","))
    except ValueError:
        angles = ()
    if not angles or any(a not in (90, 180, 270) for a in angles):
        raise argparse.ArgumentTypeError(
            f"rotations must be 90, 180 and/or 270, comma-separated, or none (got {value!r})"
        )
    return angles


def _scales(value: str) -> tuple:
    """``1,2`` / ``2@4096,640px``: plain numbers stay floats, the other forms become ScalePass objects."""
    out: list[Any] = []
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
                    f"scales must be comma-separated numbers, Npx or S@MAXSIDE (got {value!r})"
                ) from None
    if not out:
        raise argparse.ArgumentTypeError(f"scales must be comma-separated numbers (got {value!r})")
    return tuple(out)


def _sizes(sizes) -> str:
    return "+".join(map(str, sizes))


def add_detector_options(p: argparse.ArgumentParser, with_mode: bool = True) -> None:
    """Add the ``detection`` option group (targets, profile, weights, thresholds, sizes, device) to ``p``.

    Options default to None ("the profile's value"); help texts quote the resolved default configuration.

    Args:
        p: the parser to extend.
        with_mode: also add the ``anonymization`` group (``--mode``, ``--pad``); ``fpblur detect`` has its own.
    """
    base, fast = default_config(), default_config("fast")
    face, plate = base.spec("face"), base.spec("plate")
    g = p.add_argument_group("detection")
    g.add_argument("--targets", type=_targets, default=base.targets, help="what to find: face,plate (default both)")
    g.add_argument(
        "--profile",
        choices=tuple(PROFILES),
        default=None,
        help=f"detector settings: {'; '.join(f'{n} = {q.summary}' for n, q in PROFILES.items())} "
        f"(default {DEFAULT_PROFILE}); explicit options below win",
    )
    g.add_argument("--fast", action="store_true", help="same as --profile fast")
    g.add_argument("--faces", metavar="WEIGHTS", help="face model weights (.pt/.onnx); default: CenterFace")
    g.add_argument("--plates", metavar="WEIGHTS", help="plate model weights (.pt/.onnx); default: YOLOv8n plate model")
    g.add_argument("--face-conf", type=float, default=None, help=f"face score threshold (default {face.conf:g})")
    g.add_argument(
        "--plate-conf",
        type=float,
        default=None,
        help=f"plate score threshold (default {plate.conf:g}; fast profile {fast.spec('plate').conf:g})",
    )
    g.add_argument(
        "--iou", type=float, default=None, help=f"NMS IoU threshold (default: {face.iou:g} faces, {plate.iou:g} plates)"
    )
    g.add_argument(
        "--imgsz",
        type=int,
        default=None,
        help="inference size of YOLO models (default: the profile's, "
        f"{_sizes(plate.imgsz)} merged, for the default plate model and --faces/--plates weights alike)",
    )
    g.add_argument(
        "--face-scales",
        type=_scales,
        default=None,
        metavar="S[,S..]",
        help="CenterFace passes merged by NMS: scale factors (1 = full resolution), Npx (long side N), "
        f"S@MAX (cap the long side); default: the profile's ({','.join(map(str, face.scales))})",
    )
    g.add_argument(
        "--face-rotations",
        type=_rotations,
        default=None,
        metavar="A[,A..]",
        help="also search the image turned by these angles (90,180,270 degrees clockwise) for faces on their side "
        "or upside down: photos, video full frames (at up to 960 px) and video face crop re-checks ('none': upright "
        "only); default: the profile's "
        f"({','.join(map(str, face.rotations)) or 'none'})",
    )
    g.add_argument("--device", default=None, help="YOLO device: cpu, 0, 0,1 … (default: CUDA if available)")
    g.add_argument("--half", action="store_true", help="half precision for YOLO models on CUDA")
    if with_mode:
        a = p.add_argument_group("anonymization")
        a.add_argument("--mode", choices=MODES, default=base.mode, help=f"how to anonymize (default {base.mode})")
        a.add_argument(
            "--pad",
            type=float,
            default=None,
            help=f"grow each box by this fraction of its size on every side (default: the profile's, {pad_text(base)})",
        )
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def max_pixels_option(p: argparse.ArgumentParser) -> None:
    """Add ``--max-pixels`` (fpblur image/detect) to ``p``; its default is the resolved configuration's limit
    (pixels, width × height).
    """
    limit = default_config().image.max_pixels
    p.add_argument("--max-pixels", type=int, default=limit, help=f"refuse larger images (default {limit / 1e6:g} MP)")


def pad_text(config: RunConfig, plural: str = "") -> str:
    """Padding per target of ``config`` for help texts, e.g. ``face 0.22, plate 0.25``.

    Args:
        config: the resolved configuration.
        plural: appended to each label (``"s"`` gives ``faces 0.22, plates 0.25``).

    Returns:
        The text; each value is a fraction of the box's size added on every side, and a label with a
        ``pad_by_width`` says so (``plate 0.25 + 0.1 of its width above and below``; ``--pad`` keeps that share).
    """
    redact = config.redact

    def one(label: str, value: float) -> str:
        extra = redact.pad_by_width_for(label)
        return f"{label}{plural} {value:g}" + (f" + {extra:g} of its width above and below" if extra else "")

    return ", ".join(one(label, value) for label, value in redact.pad.items())


def profile_name(args: argparse.Namespace) -> str:
    """The profile a command line asks for: ``--fast`` → ``fast``, else ``--profile NAME``, else the default.

    Raises:
        ValueError: ``--fast`` together with ``--profile`` naming another profile.
    """
    if getattr(args, "fast", False):
        if getattr(args, "profile", None) not in (None, "fast"):
            raise ValueError(f"--fast contradicts --profile {args.profile}")
        return "fast"
    return getattr(args, "profile", None) or DEFAULT_PROFILE


# video options (fpblur video/batch) → VideoSettings fields; image options → ImageSettings fields
_VIDEO_OPTIONS = ("hold", "lookahead", "conf_low", "full_every", "light_every", "crf", "preset", "batch")
_IMAGE_OPTIONS = ("max_pixels", "keep_metadata")


def config_from_args(
    args: argparse.Namespace, conf_override: float | None = None, mode: str | None = None
) -> RunConfig:
    """The :class:`RunConfig` a parsed command line asks for, through
    :func:`~fpblur.config.settings.resolve_config`; options a command lacks keep the profile's value.

    Args:
        args: the parsed command line of ``fpblur image``/``detect``/``video``/``batch``.
        conf_override: score threshold replacing both targets' (default: ``args.conf``, ``fpblur detect --conf``).
        mode: replaces ``--mode`` (``fpblur detect`` resolves with ``"boxes"``).

    Returns:
        The resolved configuration.

    Raises:
        ValueError: contradicting or out-of-range options (one line, e.g. ``face conf must be between 0 and 1``).
    """

    def opt(name: str, default: Any = None) -> Any:
        return getattr(args, name, default)

    if conf_override is None:
        conf_override = opt("conf")

    detectors = {}
    for target, weights, conf in (
        ("face", opt("faces"), opt("face_conf")),
        ("plate", opt("plates"), opt("plate_conf")),
    ):
        detectors[target] = {
            "weights": weights,
            "conf": conf_override if conf_override is not None else conf,
            "iou": opt("iou"),
            "imgsz": opt("imgsz"),
            "device": opt("device"),
            "half": opt("half", False) or None,
            "scales": opt("face_scales") if target == "face" else None,
            "rotations": opt("face_rotations") if target == "face" else None,
        }
    return resolve_config(
        profile_name(args),
        targets=opt("targets"),
        detectors=detectors,
        mode=mode if mode is not None else opt("mode"),
        pad=opt("pad"),
        video={name: opt(name) for name in _VIDEO_OPTIONS}
        | ({"full": {"deep_every": opt("deep_every")}} if opt("deep_every") is not None else {}),
        image={name: opt(name) for name in _IMAGE_OPTIONS},
    )


def build_anonymizer(
    args: argparse.Namespace | RunConfig, conf_override: float | None = None, mode: str | None = None
) -> Anonymizer:
    """The :class:`~fpblur.redact.anonymizer.Anonymizer` for a parsed command line or its resolved config.

    Args:
        args: a parsed command line (resolved with :func:`config_from_args`) or a :class:`RunConfig`.
        conf_override, mode: passed to :func:`config_from_args` when ``args`` is a command line.

    Returns:
        The anonymizer, its detectors built (models loaded).

    Raises:
        ValueError: bad options (see :func:`config_from_args`); whatever building a detector raises for weights
            that cannot be loaded (e.g. :class:`~fpblur.models.extras.MissingExtra` for ``.pt`` weights in the core
            install).
    """
    config = args if isinstance(args, RunConfig) else config_from_args(args, conf_override, mode)
    return Anonymizer(config)


def error(msg: str) -> None:
    """Print ``fpblur: error: <msg>`` on stderr as one line (argparse's prefix, kept clear of any tqdm bar)."""
    tqdm.write(f"fpblur: error: {msg}", file=sys.stderr)


def exit_code(done: int, failed: int) -> int:
    """The exit status of a command that processed ``done`` inputs and failed on ``failed``.

    Returns:
        0 when nothing failed, 1 when some inputs failed, 2 when every input failed.
    """
    if failed and not done:
        return 2
    return 1 if failed else 0


def collect_or_report(inputs, exts, what: str | None = None):
    """Expand files and folders into jobs, printing one ``fpblur: error:`` line per bad input.

    Args:
        inputs: files and folders from the command line (folders are searched recursively).
        exts: accepted extensions (lower case, with the dot).
        what: how an error line names the files looked for (default: the first four extensions).

    Returns:
        ``(jobs, n_errors)``: the :class:`~fpblur.core.files.Job` list of :func:`fpblur.core.files.collect` and the
        number of inputs reported as errors.
    """
    jobs, errors = collect(inputs, exts, what)
    for e in errors:
        error(e)
    return jobs, len(errors)


def log_path_error(path, option: str, jobs) -> str | None:
    """Check that a log file would not replace an input or an output of ``jobs`` (before any work).

    Args:
        path: the log path given with ``option`` (None or empty: no log).
        option: the option's name for the message, e.g. ``--log``.
        jobs: the planned jobs (``src`` and, when planned, ``dst``).

    Returns:
        The one-line error message, or None when the path is safe.
    """
    if not path:
        return None
    path = Path(path)
    for job in jobs:
        if same_file(path, job.src):
            return f"{path}: {option} path equals the input {job.src}; refusing to overwrite an input"
        if job.dst is not None and same_file(path, job.dst):
            return f"{path}: {option} path equals the output of {job.src}"
    return None
