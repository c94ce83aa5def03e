"""Finding inputs, mapping them to outputs, and writing outputs atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm", ".mts", ".ts")


class InputError(Exception):
    """A problem with one input or output path; ``str()`` is the one-line message shown to the user."""


@dataclass(frozen=True)
class Job:
    """One input file, its path relative to the input root it was found under, and its output path."""

    src: Path
    rel: Path
    dst: Path | None = None


def collect(inputs: Sequence[str | os.PathLike], exts: Sequence[str]) -> tuple[list[Job], list[str]]:
    """Expand files and folders (recursively, sorted) into jobs; returns ``(jobs, errors)``.

    A missing path or a folder without matching files is an error line; files given explicitly are kept
    whatever their extension (their content is checked when they are read).
    """
    jobs: list[Job] = []
    errors: list[str] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in exts and not f.name.startswith("."))
            if not found:
                errors.append(f"{p}: folder contains no {'/'.join(e.lstrip('.') for e in exts[:4])}… files")
            jobs.extend(Job(f, f.relative_to(p)) for f in found)
        elif p.is_file():
            jobs.append(Job(p, Path(p.name)))
        else:
            errors.append(f"{p}: no such file or folder")
    return jobs, errors


def plan_outputs(jobs: list[Job], output: str | os.PathLike, single_file_ok: bool = True, suffix: str | None = None) -> list[Job]:
    """Give every job its output path.

    ``output`` is a file path when there is exactly one input file and ``output`` has a file extension;
    otherwise a folder under which the inputs' relative paths are mirrored.  An output equal to its input
    raises :class:`InputError` (inputs are never overwritten).
    """
    out = Path(output)
    as_file = single_file_ok and len(jobs) == 1 and out.suffix != "" and not out.is_dir()
    planned = []
    for job in jobs:
        dst = out if as_file else out / job.rel
        if suffix:
            dst = dst.with_suffix(suffix)
        if same_file(dst, job.src):
            raise InputError(f"{job.src}: output path equals the input; refusing to overwrite an input")
        planned.append(Job(job.src, job.rel, dst))
    return planned


def same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and os.path.samefile(a, b))
    except OSError:
        return False


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; on success rename it onto ``dst``, on error delete it.

    The temporary name keeps ``dst``'s extension so encoders that look at it pick the right format.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=f".part{dst.suffix}", dir=dst.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
