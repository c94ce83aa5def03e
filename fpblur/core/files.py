"""Finding inputs, mapping them to outputs, and writing outputs atomically."""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

# extensions (lowercase) that folder inputs are searched for
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".apng", ".avif")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi", ".m4v", ".webm", ".mts", ".ts")


class InputError(Exception):
    """A problem with one input or output path; ``str()`` is the one-line message shown to the user."""


@dataclass(frozen=True)
class Job:
    """One input file and where its output goes.

    Attributes:
        src: the input file.
        rel: its path relative to the folder it was found under (its name alone for a file given directly);
            mirrored under an output folder.
        dst: its output path (None until :func:`plan_outputs`).
    """

    src: Path
    rel: Path
    dst: Path | None = None


def collect(
    inputs: Sequence[str | os.PathLike], exts: Sequence[str], what: str | None = None
) -> tuple[list[Job], list[str]]:
    """Expand files and folders into jobs.

    Folders are searched recursively for files with one of ``exts`` (any case; hidden files skipped), sorted
    by path; files given explicitly are kept whatever their extension (their content is checked when they are
    read).

    Args:
        inputs: files and folders, in order.
        exts: lowercase extensions with the dot, e.g. :data:`IMAGE_EXTS`.
        what: how an error line names the files looked for (default: the first four extensions).

    Returns:
        ``(jobs, errors)``: the jobs (``dst`` None) in input order, and one line per missing path or folder
        without matching files.  Nothing is raised for those.
    """
    what = what or f"{'/'.join(e.lstrip('.') for e in exts[:4])}… files"
    jobs: list[Job] = []
    errors: list[str] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            found = sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in exts and not f.name.startswith(".")
            )
            if not found:
                errors.append(f"{p}: folder contains no {what}")
            jobs.extend(Job(f, f.relative_to(p)) for f in found)
        elif p.is_file():
            jobs.append(Job(p, Path(p.name)))
        else:
            errors.append(f"{p}: no such file or folder")
    return jobs, errors


def output_is_file(jobs: Sequence[Job], output: str | os.PathLike, single_file_ok: bool = True) -> bool:
    """Whether :func:`plan_outputs` treats ``output`` as a file path (else as a folder).

    True when ``single_file_ok``, there is exactly one job, and ``output`` has an extension and is not an
    existing folder.
    """
    out = Path(output)
    return single_file_ok and len(jobs) == 1 and out.suffix != "" and not out.is_dir()


def plan_outputs(
    jobs: list[Job],
    output: str | os.PathLike,
    single_file_ok: bool = True,
    suffix: str | Callable[[Path], str | None] | None = None,
) -> list[Job]:
    """Give every job its output path.

    Args:
        jobs: the inputs (:func:`collect`).
        output: a file path when there is exactly one input file and ``output`` has a file extension
            (:func:`output_is_file`); otherwise a folder under which the inputs' relative paths are mirrored.
        single_file_ok: False: ``output`` is always a folder.
        suffix: replaces every output's extension (e.g. ``".mp4"``); given as a function it gets each planned
            output path and returns the extension to use (or None to keep it).

    Returns:
        New jobs with ``dst`` set, in order (nothing is created on disk).

    Raises:
        InputError: an output equals its input (inputs are never overwritten), two inputs would be written to
            the same output, or a folder is needed where a file exists.
    """
    if not jobs:
        return []
    out = Path(output)
    as_file = output_is_file(jobs, out, single_file_ok)
    for folder in ([] if as_file else [out]) + list(out.parents):
        if folder.exists():  # the nearest existing folder of the output must be a folder
            if folder.is_dir():
                break
            if folder == out:
                raise InputError(
                    f"{out}: is an existing file, but the output must be a folder here "
                    f"({len(jobs)} input{'s' if len(jobs) != 1 else ''})"
                )
            raise InputError(f"{folder}: is a file, so the output {out} cannot be created under it")
    planned: list[Job] = []
    seen: dict[str, Job] = {}
    for job in jobs:
        dst = out if as_file else out / job.rel
        new_suffix = suffix(dst) if callable(suffix) else suffix
        if new_suffix:
            dst = dst.with_suffix(new_suffix)
        if same_file(dst, job.src):
            raise InputError(f"{job.src}: output path equals the input; refusing to overwrite an input")
        key = os.path.normcase(os.path.abspath(dst))
        if key in seen:
            raise InputError(f"{job.src}: output {dst} would be written twice (also the output of {seen[key].src})")
        seen[key] = job
        planned.append(Job(job.src, job.rel, dst))
    return planned


def same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` name the same file (same resolved path, or the same file through links);
    False when either cannot be examined."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and os.path.samefile(a, b))
    except OSError:
        return False


@functools.lru_cache(maxsize=1)
def _umask() -> int:
    """The process umask (read once: reading it means setting it, which is not thread-safe to repeat)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(dst: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dst``; on success rename it onto ``dst``, on error delete it.

    ``dst``'s folder is created.  The temporary name (hidden: ``.<stem>.<random>.part<suffix>``) keeps
    ``dst``'s extension so encoders that look at it pick the right format.  The renamed file gets ``dst``'s
    mode when ``dst`` existed, else the mode a plain ``open()`` would give (0666 less the umask).  Readers
    never see a half-written ``dst``.

    Raises:
        OSError: the folder or the temporary file cannot be created, or the rename fails; whatever the
            ``with`` body raises propagates after the temporary file is removed.
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.stem}.", suffix=f".part{dst.suffix}", dir=dst.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.is_file():  # mkstemp made it 0600: give it the mode a plain open() would (or dst's own)
            os.chmod(tmp_path, stat.S_IMODE(dst.stat().st_mode) if dst.is_file() else 0o666 & ~_umask())
        os.replace(tmp_path, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp_path.unlink()
        raise
