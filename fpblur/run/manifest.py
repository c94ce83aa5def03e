"""The run manifest of ``fpblur batch`` (local or on Ray): one JSON line per input, and what a rerun skips.

A manifest row (:class:`ManifestRow`) says what happened to one input: its path, the sha256 of its bytes, its
output path, ``status`` (``done``; ``failed`` with the one-line ``reason``; ``skipped``), the counts
(faces/plates: detections in an image, confirmed tracks in a video; tracks; frames), the seconds it took, the
models (name and sha256) and the profile.  Rows are appended (flushed at once) as inputs finish, so a run
that is interrupted keeps what it did; at the end the file is rewritten atomically with one row per input
(:meth:`Manifest.compact`).  Reading tolerates a torn last line (a driver killed while writing).

A rerun (:func:`plan_work`) skips an input whose latest row is ``done`` (or ``skipped``) with the **same
sha256** as the input's bytes now and whose output exists; an input whose content changed, whose output
vanished or whose row is ``failed`` is processed again.  An input without a row whose output exists is
skipped as ``fpblur batch`` always did (unless ``overwrite``).

The per-input workers (:func:`process_image`, :func:`process_video`) are the local path's and the Ray path's
alike: they call :func:`fpblur.run.images.run_images` and :func:`fpblur.run.videos.run_videos` on one job, so
outputs are the same wherever they run.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fpblur.config.settings import RunConfig
from fpblur.core.digest import sha256_file
from fpblur.core.files import VIDEO_EXTS, Job, atomic_output
from fpblur.models.registry import DEFAULTS, REGISTRY
from fpblur.redact.anonymizer import Anonymizer
from fpblur.run.images import run_images
from fpblur.run.video import VideoReport
from fpblur.run.videos import run_videos

#: The manifest's file name inside the output folder when ``--manifest`` is not given.
MANIFEST_NAME = "run.jsonl"
STATUSES = ("done", "failed", "skipped")


@dataclass
class ManifestRow:
    """One input's line in the manifest.

    Attributes:
        path: the input file as given (a folder input's files: the folder joined with ``rel``).
        rel: its path relative to the folder it was found under (``/``-separated).
        sha256: the sha256 of the input's bytes (64 hex digits; empty when it could not be read).
        output: its output file.
        kind: ``image`` or ``video``.
        status: ``done``, ``failed`` or ``skipped``.
        reason: the one-line error of a ``failed`` row, why a ``skipped`` row was skipped; empty when done.
        faces, plates: detections in an image (all frames of an animation), confirmed tracks in a video.
        tracks: confirmed tracks of a video, all labels (0 for images).
        frames: frames written for a video (None for images).
        seconds: wall-clock seconds spent on the input (0 when skipped).
        models: per target, ``{"name": ..., "sha256": ...}`` of the model that ran.
        profile: the detector profile (``default``, ``fast``).
        host: the machine that processed it.
        retried: for a video, an earlier attempt died in the middle of it (a killed Ray worker, an interrupted
            run) and left a partial output, which was removed before this one.
        finished: when the row was written, ISO 8601 UTC.
    """

    path: str
    rel: str
    sha256: str
    output: str
    kind: str
    status: str
    reason: str = ""
    faces: int = 0
    plates: int = 0
    tracks: int = 0
    frames: int | None = None
    seconds: float = 0.0
    models: dict[str, dict[str, str]] = field(default_factory=dict)
    profile: str = ""
    host: str = ""
    retried: bool = False
    finished: str = ""

    def to_json(self) -> str:
        """The row as one JSON line (no newline)."""
        return json.dumps(asdict(self), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestRow:
        """A row from a decoded JSON object; unknown keys are ignored (newer writers), missing ones defaulted.

        Raises:
            TypeError: a required key (``path``, ``rel``, ``sha256``, ``output``, ``kind``, ``status``) is missing.
        """
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class WorkItem:
    """One input to process: its planned job, ``image`` or ``video``, and the sha256 of its bytes."""

    job: Job
    kind: str
    sha256: str

    def to_dict(self) -> dict[str, str]:
        """Plain strings (what a Ray task or a Ray Data row carries)."""
        assert self.job.dst is not None
        return {
            "src": str(self.job.src),
            "rel": self.job.rel.as_posix(),
            "dst": str(self.job.dst),
            "kind": self.kind,
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> WorkItem:
        """The inverse of :meth:`to_dict`."""
        job = Job(Path(data["src"]), Path(data["rel"]), Path(data["dst"]))
        return cls(job, data["kind"], data["sha256"])


def _key(output: str | os.PathLike) -> str:
    """How rows are matched to jobs: the output's absolute, case-normalized path."""
    return os.path.normcase(os.path.abspath(output))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def kind_of(path: Path) -> str:
    """``video`` for a video extension (:data:`~fpblur.core.files.VIDEO_EXTS`), else ``image`` (as ``fpblur batch``)."""
    return "video" if path.suffix.lower() in VIDEO_EXTS else "image"


def model_info(config: RunConfig) -> dict[str, dict[str, str]]:
    """Per target of ``config``, the model's name and sha256.

    The built-in models are named by their registry name with the registry's sha256 (the file is checked
    against it when it is fetched); weights given as a file are named by their file name and hashed.

    Raises:
        OSError: weights given as a file cannot be read.
    """
    out: dict[str, dict[str, str]] = {}
    for target in config.targets:
        spec = config.spec(target)
        if spec.weights is None:
            info = REGISTRY[DEFAULTS[target]]
            out[target] = {"name": info.name, "sha256": info.sha256}
        else:
            out[target] = {"name": Path(spec.weights).name, "sha256": sha256_file(spec.weights)}
    return out


def default_manifest_path(output: str | os.PathLike, jobs: Iterable[Job] = ()) -> Path:
    """Where the manifest goes when ``--manifest`` is not given: ``<output>/run.jsonl``; when ``output`` is a
    single output file (one video written to ``out.mp4``), ``out.mp4.run.jsonl`` beside it."""
    out = Path(output)
    if any(j.dst is not None and _key(j.dst) == _key(out) for j in jobs):
        return out.with_name(out.name + ".run.jsonl")
    return out / MANIFEST_NAME


class Manifest:
    """A manifest file: the latest row of every input, and appending rows as inputs finish.

    Args:
        path: the ``.jsonl`` file (need not exist; its folder is created on the first write).

    Raises:
        OSError: an existing manifest cannot be read.
    """

    #: Appended rows are synced to disk at most this often (seconds); :meth:`close` and :meth:`compact` sync.
    SYNC_SECONDS = 1.0

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.rows: dict[str, ManifestRow] = {}  # output key -> latest row
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    with contextlib.suppress(ValueError, TypeError):  # a torn last line, a foreign line
                        row = ManifestRow.from_dict(json.loads(line))
                        self.rows[_key(row.output)] = row
        self._file: Any = None
        self._synced = 0.0  # time.monotonic() of the last sync

    def latest(self, job: Job) -> ManifestRow | None:
        """The latest row for ``job``'s output (None: none)."""
        return self.rows.get(_key(job.dst)) if job.dst is not None else None

    def append(self, row: ManifestRow) -> None:
        """Record ``row`` (replacing the input's earlier row) and append it to the file.

        The line is flushed to the operating system at once (it survives the driver being killed the next
        moment) and synced to disk at most every :attr:`SYNC_SECONDS` (a sync costs milliseconds; one per row
        would cap a large cluster's driver at a few hundred rows per second).

        Raises:
            OSError: the file cannot be written.
        """
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # closed in compact()/close()
        self.rows[_key(row.output)] = row
        self._file.write(row.to_json() + "\n")
        self._file.flush()
        now = time.monotonic()
        if now - self._synced >= self.SYNC_SECONDS:
            os.fsync(self._file.fileno())
            self._synced = now

    def close(self) -> None:
        """Sync and close the append handle (rows stay as appended)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None

    def compact(self) -> None:
        """Rewrite the file atomically with one row per input (the latest), sorted by output path.

        Raises:
            OSError: the file cannot be written.
        """
        self.close()
        with atomic_output(self.path) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                for key in sorted(self.rows):
                    f.write(self.rows[key].to_json() + "\n")


def plan_work(
    jobs: list[Job],
    manifest: Manifest,
    overwrite: bool = False,
    *,
    models: dict[str, dict[str, str]] | None = None,
    profile: str = "",
) -> tuple[list[WorkItem], list[ManifestRow]]:
    """Decide which planned jobs to process: hash every input and compare with the manifest.

    Args:
        jobs: inputs with their outputs planned (``dst`` set).
        manifest: the manifest of earlier runs.
        overwrite: process everything.
        models, profile: copied into the ``skipped`` rows (with the earlier row's counts when there is one).

    Returns:
        ``(todo, skipped)``: the work items in ``jobs``' order, and a ``skipped`` row per skipped input (reason
        ``done in an earlier run`` or ``output exists``).  An input that cannot be read is still a work item
        (its sha256 empty): processing it gives its ``failed`` row.
    """
    todo: list[WorkItem] = []
    skipped: list[ManifestRow] = []
    for job in jobs:
        assert job.dst is not None, "plan outputs first"
        kind = kind_of(job.src)
        try:
            digest = sha256_file(job.src)
        except OSError:
            digest = ""
        if not overwrite and digest and job.dst.exists():
            prev = manifest.latest(job)
            if prev is None or (prev.status in ("done", "skipped") and prev.sha256 == digest):
                base = prev if prev is not None else _row(WorkItem(job, kind, digest), "skipped", models, profile)
                row = ManifestRow(**{**asdict(base), "path": str(job.src), "rel": job.rel.as_posix()})
                row.status, row.seconds, row.retried, row.finished = "skipped", 0.0, False, _now()
                row.reason = "done in an earlier run" if prev is not None else "output exists"
                skipped.append(row)
                continue
        todo.append(WorkItem(job, kind, digest))
    return todo, skipped


def _row(item: WorkItem, status: str, models: dict | None, profile: str, **values: Any) -> ManifestRow:
    job = item.job
    return ManifestRow(
        path=str(job.src),
        rel=job.rel.as_posix(),
        sha256=item.sha256,
        output=str(job.dst),
        kind=item.kind,
        status=status,
        models=dict(models or {}),
        profile=profile,
        host=socket.gethostname(),
        finished=_now(),
        **values,
    )


def _part_pattern(dst: Path) -> re.Pattern[str]:
    """The names :func:`~fpblur.core.files.atomic_output` gives ``dst``'s temporary file:
    ``.<stem>.<8 random characters of tempfile>.part<suffix>``."""
    return re.compile(rf"\.{re.escape(dst.stem)}\.[a-z0-9_]{{8}}\.part{re.escape(dst.suffix)}")


def remove_stale_parts(dsts: str | os.PathLike | Iterable[str | os.PathLike]) -> int:
    """Delete temporary files that killed processes left for the outputs ``dsts``.

    :func:`~fpblur.core.files.atomic_output` writes ``.<stem>.<random>.part<suffix>`` beside its output and
    removes it on any error, but a process killed outright (a Ray worker killed by the OOM killer or by hand, an
    interrupted run) cannot.  A video task calls this for its output before it starts; :func:`run_batch
    <fpblur.run.cluster.run_batch>` calls it for every output of the run at the end, so no partial file outlives
    a run.  Each folder is listed once.  Only call it when nothing else is writing these outputs.

    Args:
        dsts: one output path or several.

    Returns:
        How many files were removed.
    """
    if isinstance(dsts, (str, os.PathLike)):
        dsts = [dsts]
    by_folder: dict[Path, list[re.Pattern[str]]] = {}
    for dst in map(Path, dsts):
        by_folder.setdefault(dst.parent, []).append(_part_pattern(dst))
    n = 0
    for folder, patterns in by_folder.items():
        try:
            entries = [e for e in os.scandir(folder) if e.name.startswith(".") and ".part" in e.name]
        except OSError:
            continue
        for entry in entries:
            if any(p.fullmatch(entry.name) for p in patterns):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    n += 1
    return n


def process_image(
    item: WorkItem,
    anonymizer: Anonymizer,
    *,
    keep_metadata: bool = False,
    max_pixels: int | None = None,
    models: dict | None = None,
) -> ManifestRow:
    """Anonymize one image with :func:`~fpblur.run.images.run_images` (exactly the local path) and describe it.

    Never raises for a bad input: a file that cannot be read, decoded or written is a ``failed`` row with the
    one-line reason (nothing is written for it).

    Args:
        item: the image and its output.
        anonymizer: detectors, padding, mode.
        keep_metadata: keep EXIF/ICC.
        max_pixels: refuse larger images, pixels (None: the anonymizer's configuration's limit).
        models: the ``models`` field of the row (None: :func:`model_info` of the anonymizer's configuration).

    Returns:
        The ``done`` or ``failed`` row (seconds: wall-clock, pixels read to file renamed).
    """
    config = anonymizer.config
    start = time.perf_counter()
    limit = max_pixels if max_pixels is not None else config.image.max_pixels
    report = run_images([item.job], anonymizer, keep_metadata=keep_metadata, max_pixels=limit, progress=False)
    seconds = round(time.perf_counter() - start, 4)
    models = models if models is not None else model_info(config)
    if report.failed or not report.done:
        reason = report.errors[0] if report.errors else f"{item.job.src}: failed"
        return _row(item, "failed", models, config.profile, reason=reason, seconds=seconds)
    return _row(
        item,
        "done",
        models,
        config.profile,
        faces=report.counts.get("face", 0),
        plates=report.counts.get("plate", 0),
        seconds=seconds,
    )


def process_video(item: WorkItem, anonymizer: Anonymizer, *, models: dict | None = None) -> ManifestRow:
    """Anonymize one video with :func:`~fpblur.run.videos.run_videos` (exactly the local path) and describe it.

    Never raises for a bad input (a ``failed`` row with the one-line reason; no output is left).

    Args:
        item: the video and its output.
        anonymizer: detectors, padding, mode; its configuration's video settings are used.
        models: the ``models`` field of the row (None: :func:`model_info` of the anonymizer's configuration).

    Returns:
        The ``done`` or ``failed`` row: faces/plates are confirmed tracks per label, ``frames`` the frames written.

    Raises:
        fpblur.run.video.Cancelled: the video was cancelled (as :func:`~fpblur.run.videos.run_videos`).
    """
    config = anonymizer.config
    retried = remove_stale_parts(item.job.dst or "") > 0
    errors: list[str] = []
    reports: list[VideoReport] = []
    start = time.perf_counter()
    run_videos([item.job], anonymizer, config.video, on_error=errors.append, on_report=reports.append)
    seconds = round(time.perf_counter() - start, 4)
    models = models if models is not None else model_info(config)
    if errors or not reports:
        reason = errors[0] if errors else f"{item.job.src}: failed"
        return _row(item, "failed", models, config.profile, reason=reason, seconds=seconds, retried=retried)
    rep = reports[0]
    return _row(
        item,
        "done",
        models,
        config.profile,
        retried=retried,
        faces=rep.tracks.get("face", 0),
        plates=rep.tracks.get("plate", 0),
        tracks=sum(rep.tracks.values()),
        frames=rep.frames,
        seconds=seconds,
    )


def failed_row(item: WorkItem, reason: str, config: RunConfig, models: dict | None = None) -> ManifestRow:
    """A ``failed`` row for ``item`` written by the driver (e.g. a Ray task that died more times than allowed)."""
    return _row(item, "failed", models, config.profile, reason=" ".join(reason.split()) or "failed")


def run_local(
    items: list[WorkItem],
    anonymizer: Anonymizer,
    on_row: Callable[[ManifestRow], None],
    *,
    progress: bool | None = None,
) -> None:
    """Process ``items`` one by one in this process (images first, then videos, as ``fpblur batch`` always did).

    Args:
        items: the work (:func:`plan_work`).
        anonymizer: detectors, padding, mode, image and video settings.
        on_row: receives each input's row as soon as it is finished (append it to the manifest).
        progress: show a progress bar over the images (None: when there is more than one).
    """
    models = model_info(anonymizer.config)
    images = [i for i in items if i.kind == "image"]
    videos = [i for i in items if i.kind == "video"]
    show = progress if progress is not None else len(images) > 1
    for item in tqdm(images, desc="images", unit="img", disable=not show, dynamic_ncols=True):
        on_row(process_image(item, anonymizer, **_image_options(anonymizer), models=models))
    for item in videos:
        on_row(process_video(item, anonymizer, models=models))


def _image_options(anonymizer: Anonymizer) -> dict[str, Any]:
    image = anonymizer.config.image
    return {"keep_metadata": image.keep_metadata, "max_pixels": image.max_pixels}
