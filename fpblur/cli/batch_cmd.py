"""``fpblur batch``: the original project's batch form, images and videos of a folder in one go.

    fpblur batch --faces F.pt --plates P.pt --in ./videos --out ./blurred

``--faces``/``--plates`` are optional (CenterFace and the YOLOv8n plate model are the defaults).  Images go
through the image path (EXIF orientation, metadata stripped), videos through the tracked video path; the
folder structure is mirrored under ``--out`` and existing outputs are skipped unless ``--overwrite``.
"""

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
)
from fpblur.cli.video_cmd import add_video_options
from fpblur.core.files import IMAGE_EXTS, VIDEO_EXTS, InputError, plan_outputs
from fpblur.run.images import run_images
from fpblur.run.videos import plan_video_outputs, run_videos, skip_existing


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur batch`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "batch",
        help="anonymize every image and video in a folder (merged_blur.py form)",
        description="Anonymize all images and videos under --in into --out (structure mirrored). "
        "Same flags as the original merged_blur.py; weights default to the built-in "
        "models when --faces/--plates are not given.",
    )
    p.add_argument("--in", dest="inputs", nargs="+", required=True, metavar="DIR", help="input folder(s) or files")
    p.add_argument("--out", dest="output", required=True, metavar="DIR", help="output folder")
    add_detector_options(p)
    add_video_options(p, with_log=False)
    return p


def run(args: argparse.Namespace) -> int:
    """Anonymize the images and videos under ``--in`` into ``--out`` (structure mirrored).

    Images go through :func:`fpblur.run.images.run_images`, videos through :func:`fpblur.run.videos.run_videos`;
    outputs that exist are skipped unless ``--overwrite``.  Each bad input is one ``fpblur: error:`` line.

    Args:
        args: the parsed ``fpblur batch`` command line.

    Returns:
        0 when everything worked (or every output existed already), 1 when some inputs failed, 2 when nothing
        could be done (no inputs, outputs that cannot be planned).

    Raises:
        ValueError: contradicting or out-of-range options (before any work); :func:`fpblur.cli.main` prints it
            as one line.
    """
    config = config_from_args(args)  # bad options fail before any work
    jobs, n_errors = collect_or_report(args.inputs, IMAGE_EXTS + VIDEO_EXTS, what="images or videos")
    # the extension decides; a file given by name with an unknown one fails as an image
    videos = [j for j in jobs if j.src.suffix.lower() in VIDEO_EXTS]
    images = [j for j in jobs if j.src.suffix.lower() not in VIDEO_EXTS]
    if not images and not videos:
        return 2
    try:
        images = plan_outputs(images, args.output, single_file_ok=False)
        videos = plan_video_outputs(videos, args.output) if videos else []
    except InputError as exc:
        error(str(exc))
        return 2
    images, skipped_images = skip_existing(images, args.overwrite)
    videos, skipped_videos = skip_existing(videos, args.overwrite)
    if skipped_images + skipped_videos:
        print(
            f"fpblur: skipped {skipped_images + skipped_videos} existing output(s); use --overwrite to redo them",
            file=sys.stderr,
        )
    done = failed = 0
    if images or videos:
        anonymizer = build_anonymizer(config)
        if images:
            report = run_images(
                images,
                anonymizer,
                keep_metadata=config.image.keep_metadata,
                max_pixels=config.image.max_pixels,
                on_error=error,
            )
            print(report.summary(), file=sys.stderr)
            done, failed = done + report.done, failed + report.failed
        if videos:
            batch = run_videos(videos, anonymizer, config.video, on_error=error)
            print(batch.summary(), file=sys.stderr)
            done, failed = done + batch.done, failed + batch.failed
    failed += n_errors
    if not done and not failed:
        return 0  # everything was already done
    return exit_code(done, failed)
