"""Anonymize (or only detect on) a list of image files, one failure never stopping the others."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from fpblur.core.files import InputError, Job, atomic_output
from fpblur.media.images import DEFAULT_MAX_PIXELS, read_image, write_frames
from fpblur.redact.anonymizer import Anonymizer


@dataclass
class BatchReport:
    """What :func:`run_images` did.

    Attributes:
        done: images processed.  failed: images that failed (each with a line in ``errors``).
        counts: detections per label over all images.
        errors: one-line messages of the failures, in order.
        log: per input (its relative path, ``/``-separated), the detections as
            :meth:`~fpblur.core.detections.Detections.to_records` records with their padded ``region`` (for an
            animation or multi-page TIFF, of every frame, each record with its 0-based ``frame``).
        seconds: wall-clock time.
    """

    done: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"face": 0, "plate": 0})
    errors: list[str] = field(default_factory=list)
    log: dict[str, list[dict]] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self, noun: str = "images") -> str:
        """One line: ``"fpblur: 3 images, 2 faces, 1 plates, 0.4 s"`` (and failures, if any)."""
        parts = [
            f"{self.done} {noun}",
            f"{self.counts.get('face', 0)} faces",
            f"{self.counts.get('plate', 0)} plates",
            f"{self.seconds:.1f} s",
        ]
        if self.failed:
            parts.append(f"{self.failed} failed")
        return "fpblur: " + ", ".join(parts)


def run_images(
    jobs: list[Job],
    anonymizer: Anonymizer,
    *,
    write: bool = True,
    keep_metadata: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    on_error: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> BatchReport:
    """Detect (and with ``write``, anonymize and write) every job's image, one at a time.

    Every frame of an animated GIF/WebP/APNG and every page of a multi-page TIFF is anonymized and written
    back with its duration and the loop count (an output extension that holds one image only is refused for
    those, naming the file); nothing is written for a file that fails.

    Args:
        jobs: input files and their outputs (``dst`` is required when ``write``).
        anonymizer: detectors, padding and mode; images go through :meth:`Anonymizer.detect_batch`, as video
            frames do.
        write: write the anonymized images (False: detect only, as ``fpblur detect``).
        keep_metadata: keep EXIF/ICC in the outputs.
        max_pixels: refuse larger images (before decoding).
        on_error: called with each one-line error message.
        progress: show a progress bar (None: when there is more than one job).

    Returns:
        A :class:`BatchReport`: counts, errors and the detection log (records with padded ``region``).  A failing
        file never stops the others.
    """
    report = BatchReport()
    start = time.perf_counter()
    show = progress if progress is not None else len(jobs) > 1
    for job in tqdm(jobs, desc="images", unit="img", disable=not show, dynamic_ncols=True):
        try:
            img = read_image(job.src, max_pixels=max_pixels)
            found = anonymizer.detect_batch(img.frames)  # every frame of an animation / page of a TIFF
            regions = [anonymizer.regions(d, f.shape) for d, f in zip(found, img.frames)]
            if write:
                assert job.dst is not None
                outs = [anonymizer.apply(f, d, r) for f, d, r in zip(img.frames, found, regions)]
                meta = {"exif": img.exif, "icc": img.icc_profile} if keep_metadata else {}
                write_frames(job.dst, outs, durations=img.durations, loop=img.loop, **meta)
        except InputError as exc:
            report.failed += 1
            report.errors.append(str(exc))
            if on_error:
                on_error(str(exc))
            continue
        except Exception as exc:  # a detector or encoder failure on one file must not stop the batch
            msg = f"{job.src}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
            report.failed += 1
            report.errors.append(msg)
            if on_error:
                on_error(msg)
            continue
        report.done += 1
        for label in report.counts:
            report.counts[label] += sum(d.count(label) for d in found)
        if len(found) == 1:
            report.log[job.rel.as_posix()] = found[0].to_records(regions[0])
        else:  # animations / multi-page TIFF: each record names its frame (0-based)
            report.log[job.rel.as_posix()] = [
                {**rec, "frame": k} for k, (d, r) in enumerate(zip(found, regions)) for rec in d.to_records(r)
            ]
    report.seconds = time.perf_counter() - start
    return report


def write_json_log(path: str | os.PathLike, log: dict) -> None:
    """Write ``log`` (e.g. :attr:`BatchReport.log`) to ``path`` as indented JSON, atomically.

    Raises:
        OSError: ``path`` cannot be written.
        TypeError: ``log`` holds something JSON cannot represent.
    """
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(log, indent=1) + "\n")
