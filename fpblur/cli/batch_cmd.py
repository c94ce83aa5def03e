"""``fpblur batch``: the original project's batch form, images and videos of a folder in one go.

    fpblur batch --faces F.pt --plates P.pt --in ./videos --out ./blurred

    fpblur batch --in ./archive --out ./blurred --ray auto      # the same on a Ray cluster

``--faces``/``--plates`` are optional (CenterFace and the YOLOv8n plate model are the defaults).  Images go
through the image path (EXIF orientation, metadata stripped), videos through the tracked video path; the
folder structure is mirrored under ``--out``.  Every input gets a manifest row (``--manifest``, default
``OUT/run.jsonl``); a rerun skips what is done (same content, output present) unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import sys

from fpblur.cli.common import add_detector_options, config_from_args, error, exit_code
from fpblur.cli.video_cmd import add_video_options
from fpblur.core.files import InputError
from fpblur.run.cluster import RayOptions, run_batch
from fpblur.run.manifest import MANIFEST_NAME


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur batch`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "batch",
        help="anonymize every image and video in a folder, here or on a Ray cluster (resumable)",
        description="Anonymize all images and videos under --in into --out (structure mirrored). "
        "Same flags as the original merged_blur.py; weights default to the built-in "
        "models when --faces/--plates are not given. Every input gets a row in the manifest; a rerun "
        "skips inputs done before (same content, output present) and retries failed ones. "
        "--ray runs the same work on Ray, with identical outputs.",
    )
    p.add_argument("--in", dest="inputs", nargs="+", required=True, metavar="DIR", help="input folder(s) or files")
    p.add_argument("--out", dest="output", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--manifest",
        metavar="JSONL",
        help=f"one JSON line per input: sha256, output, status, counts, seconds, models (default OUT/{MANIFEST_NAME})",
    )
    add_detector_options(p)
    add_video_options(p, with_log=False)
    r = p.add_argument_group("ray (the [ray] extra)")
    r.add_argument(
        "--ray",
        nargs="?",
        const="local",
        default=None,
        metavar="ADDRESS",
        help="run on Ray: without ADDRESS start a local instance; 'auto' joins this machine's cluster "
        "(ray start), ray://HOST:10001 connects through Ray Client, HOST:6379 joins a head",
    )
    r.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="image actors (default: cluster CPUs / --cpus-per-worker)",
    )
    r.add_argument(
        "--cpus-per-worker",
        type=float,
        metavar="C",
        default=RayOptions.cpus_per_worker,
        help=f"CPUs per image actor and video task; ONNX Runtime threads are capped to it "
        f"(default {RayOptions.cpus_per_worker:g})",
    )
    r.add_argument(
        "--gpus-per-worker",
        type=float,
        metavar="G",
        default=RayOptions.gpus_per_worker,
        help="GPUs per image actor and video task, fractions share one (default 0)",
    )
    r.add_argument(
        "--ray-batch-size",
        type=int,
        metavar="N",
        default=RayOptions.batch_size,
        help=f"images per actor call (default {RayOptions.batch_size})",
    )
    r.add_argument(
        "--retries",
        type=int,
        metavar="N",
        default=RayOptions.video_retries,
        help=f"rerun a task whose worker process died this many times (default {RayOptions.video_retries})",
    )
    return p


def ray_options(args: argparse.Namespace) -> RayOptions | None:
    """The :class:`~fpblur.run.cluster.RayOptions` of a parsed ``fpblur batch`` line (None without ``--ray``).

    Raises:
        ValueError: out-of-range worker, CPU, GPU, batch or retry numbers (one line).
    """
    if args.ray is None:
        return None
    return RayOptions(
        address=None if args.ray == "local" else args.ray,
        workers=args.workers,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        batch_size=args.ray_batch_size,
        video_retries=args.retries,
    )


def run(args: argparse.Namespace) -> int:
    """Anonymize the images and videos under ``--in`` into ``--out`` (structure mirrored), here or on Ray.

    :func:`fpblur.run.cluster.run_batch` does the work; each failed input is one ``fpblur: error:`` line and a
    ``failed`` manifest row, inputs done before are skipped (``--overwrite`` redoes them).

    Args:
        args: the parsed ``fpblur batch`` command line.

    Returns:
        0 when everything worked (or every input was done before), 1 when some inputs failed, 2 when nothing
        could be done (no inputs, outputs that cannot be planned, every input failed).

    Raises:
        ValueError: contradicting or out-of-range options (before any work); :func:`fpblur.cli.main` prints it
            as one line.
        MissingExtra: ``--ray`` without the ``[ray]`` extra (printed as one line).
        ConnectionError: the Ray cluster cannot be reached (printed as one line).
    """
    config = config_from_args(args)  # bad options fail before any work
    cluster = ray_options(args)
    try:
        result = run_batch(
            args.inputs,
            args.output,
            config,
            manifest=args.manifest,
            overwrite=args.overwrite,
            cluster=cluster,
            on_error=error,
        )
    except InputError as exc:
        error(str(exc))
        return 2
    if result.skipped:
        print(
            f"fpblur: skipped {result.skipped} input(s) done before (same content, output present); "
            "use --overwrite to redo them",
            file=sys.stderr,
        )
    print(f"{result.summary()}; manifest {result.manifest}", file=sys.stderr)
    if not result.done and not result.failed:
        return 0  # everything was done before
    return exit_code(result.done, result.failed)
