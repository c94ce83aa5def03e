"""Anonymize (or only detect on) a list of image files, one failure never stopping the others."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from fpblur.core.files import InputError, Job, atomic_output
from fpblur.media.images import DEFAULT_MAX_PIXELS, read_image, write_image


@dataclass
class BatchReport:
    done: int = 0
    failed: int = 0
    counts: dict[str, int] = field(default_factory=lambda: {"face": 0, "plate": 0})
    errors: list[str] = field(default_factory=list)
    log: dict[str, list[dict]] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self, noun: str = "images") -> str:
        parts = [f"{self.done} {noun}", f"{self.counts.get('face', 0)} faces", f"{self.counts.get('plate', 0)} plates",
                 f"{self.seconds:.1f} s"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        return "fpblur: " + ", ".join(parts)


def run_images(
    jobs: list[Job],
    anonymizer,
    *,
    write: bool = True,
    keep_metadata: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    on_error: Callable[[str], None] | None = None,
    progress: bool | None = None,
) -> BatchReport:
    """Process every job; errors become one-line messages (reported through ``on_error``) and a count."""
    report = BatchReport()
    start = time.perf_counter()
    show = progress if progress is not None else len(jobs) > 1
    for job in tqdm(jobs, desc="images", unit="img", disable=not show, dynamic_ncols=True):
        try:
            img = read_image(job.src, max_pixels=max_pixels)
            dets = anonymizer.detect(img.pixels)
            regions = anonymizer.regions(dets, img.pixels.shape)
            if write:
                assert job.dst is not None
                out = anonymizer.apply(img.pixels, dets, regions)
                meta = {"exif": img.exif, "icc": img.icc_profile} if keep_metadata else {}
                write_image(job.dst, out, **meta)
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
            report.counts[label] += dets.count(label)
        report.log[job.rel.as_posix()] = dets.to_records(regions)
    report.seconds = time.perf_counter() - start
    return report


def write_json_log(path: str | os.PathLike, log: dict) -> None:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(json.dumps(log, indent=1) + "\n")
