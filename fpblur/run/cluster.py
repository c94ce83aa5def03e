"""``fpblur batch`` in one process or across a Ray cluster, with a resumable manifest (:mod:`fpblur.run.manifest`).

:func:`run_batch` collects the inputs, plans their outputs (the folder structure mirrored), hashes every input
and skips what the manifest says is done (same sha256, output present), then processes the rest:

* locally (``cluster=None``): one process, images then videos, as ``fpblur batch`` always did;
* on Ray (``cluster=RayOptions(...)``): images go through Ray Data (``map_batches`` with :class:`ImageWorker`, a
  pool of actors that each load the detectors once, capped to the CPUs Ray gives them), each video is one Ray
  task (:func:`video_task`) retried when its worker dies.  Both call the same per-input functions as the local
  path (:func:`~fpblur.run.manifest.process_image`, :func:`~fpblur.run.manifest.process_video`), so outputs are
  identical.

Every node must see the inputs and the output folder at the same paths (a shared filesystem) and have the
same fpblur installed (``pip install 'fpblur[ray]'``).  Ray itself is the optional ``[ray]`` extra: it is
imported only when a run asks for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from fpblur.config.settings import RunConfig, resolve_config
from fpblur.core.files import IMAGE_EXTS, VIDEO_EXTS, Job, collect, plan_outputs
from fpblur.models.extras import require
from fpblur.redact.anonymizer import Anonymizer
from fpblur.run.manifest import (
    Manifest,
    ManifestRow,
    WorkItem,
    default_manifest_path,
    failed_row,
    model_info,
    plan_work,
    process_image,
    process_video,
    remove_stale_parts,
    run_local,
)
from fpblur.run.videos import plan_video_outputs

#: Environment every Ray process fpblur starts gets: no usage statistics (nothing leaves the machine).
RAY_ENV = {"RAY_USAGE_STATS_ENABLED": "0"}
#: At most this many Ray Data blocks for the images (a block is one image until there are more images).
MAX_BLOCKS = 20_000


@dataclass(frozen=True)
class RayOptions:
    """How to run on Ray.

    Attributes:
        address: None starts a local Ray instance (all this machine's CPUs); ``"auto"`` joins the cluster this
            machine belongs to (``ray start``); ``"ray://host:10001"`` connects through Ray Client (images then
            run in chunks of :data:`CLIENT_CHUNK` driven from a task on the cluster, rows arriving per chunk);
            ``"host:6379"`` joins a cluster's head directly.
        workers: image actors (None: as many as the cluster's CPUs allow, ``CPUs // cpus_per_worker``).
        cpus_per_worker: CPUs each image actor and each video task reserves; ONNX Runtime's and OpenCV's
            threads are capped to it.
        gpus_per_worker: GPUs each actor and video task reserves (0: none; fractions share a GPU).
        batch_size: images per ``map_batches`` call (larger amortizes Ray's per-call cost, smaller balances
            the load better).
        video_retries: how often a video task is retried after its worker process died (the OOM killer, a lost
            node); a video that fails on its own (a corrupt file) is a ``failed`` row at once, never retried.
    """

    address: str | None = None
    workers: int | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    batch_size: int = 16
    video_retries: int = 3

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1 (got {self.workers})")
        if self.cpus_per_worker <= 0:
            raise ValueError(f"cpus per worker must be positive (got {self.cpus_per_worker:g})")
        if self.gpus_per_worker < 0:
            raise ValueError(f"gpus per worker must not be negative (got {self.gpus_per_worker:g})")
        if self.batch_size < 1:
            raise ValueError(f"ray batch size must be at least 1 (got {self.batch_size})")
        if self.video_retries < 0:
            raise ValueError(f"video retries must not be negative (got {self.video_retries})")


@dataclass
class BatchResult:
    """What :func:`run_batch` did.

    Attributes:
        rows: this run's manifest rows (``done``, ``failed``, ``skipped``), in the order inputs finished.
        errors: one line per input path that could not be expanded (missing path, folder without media); these
            have no row.
        manifest: the manifest file.
        seconds: wall-clock seconds of the whole run (hashing and, on Ray, connecting included).
        workers: image actors used on Ray (0 locally).
    """

    rows: list[ManifestRow] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    manifest: Path | None = None
    seconds: float = 0.0
    workers: int = 0

    def count(self, status: str) -> int:
        """Rows with ``status``."""
        return sum(r.status == status for r in self.rows)

    @property
    def done(self) -> int:
        """Inputs processed in this run."""
        return self.count("done")

    @property
    def failed(self) -> int:
        """Inputs that failed (each row has its reason) plus input paths that could not be expanded."""
        return self.count("failed") + len(self.errors)

    @property
    def skipped(self) -> int:
        """Inputs skipped as done before."""
        return self.count("skipped")

    def summary(self) -> str:
        """One line: ``"fpblur: 3 done (2 images, 1 video), 4 faces, 1 plates, 2 tracks, 1 skipped, 0.4 s"``."""
        done = [r for r in self.rows if r.status == "done"]
        images = sum(r.kind == "image" for r in done)
        parts = [
            f"{len(done)} done ({images} images, {len(done) - images} videos)",
            f"{sum(r.faces for r in done)} faces",
            f"{sum(r.plates for r in done)} plates",
            f"{sum(r.tracks for r in done)} tracks",
        ]
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(f"{self.seconds:.1f} s")
        return "fpblur: " + ", ".join(parts)


def plan_batch(inputs: Sequence[str | os.PathLike], output: str | os.PathLike) -> tuple[list[Job], list[str]]:
    """``fpblur batch``'s inputs and outputs: images and videos under ``inputs``, mirrored under ``output``.

    Args:
        inputs: files and folders (folders searched recursively).
        output: the output folder (a file only for a single video).

    Returns:
        ``(jobs, errors)``: planned jobs, images first then videos, and one line per input path that could not
        be expanded.

    Raises:
        InputError: outputs that cannot be planned (an output equal to an input, two inputs onto one output).
    """
    jobs, errors = collect(inputs, IMAGE_EXTS + VIDEO_EXTS, what="images or videos")
    videos = [j for j in jobs if j.src.suffix.lower() in VIDEO_EXTS]
    images = [j for j in jobs if j.src.suffix.lower() not in VIDEO_EXTS]
    planned = plan_outputs(images, output, single_file_ok=False) if images else []
    planned += plan_video_outputs(videos, output) if videos else []
    return planned, errors


def run_batch(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    output: str | os.PathLike,
    config: RunConfig | None = None,
    *,
    manifest: str | os.PathLike | None = None,
    overwrite: bool = False,
    cluster: RayOptions | None = None,
    on_error: Callable[[str], None] | None = None,
    on_row: Callable[[ManifestRow], None] | None = None,
    progress: bool | None = None,
) -> BatchResult:
    """Anonymize every image and video under ``inputs`` into ``output``, locally or on Ray, resumably.

    >>> run_batch(["archive/"], "blurred/", resolve_config("fast"), cluster=RayOptions("auto")).summary()

    Args:
        inputs: files and folders (folders recursively; the structure is mirrored under ``output``).
        output: the output folder.
        config: the resolved configuration (None: the default profile's).
        manifest: the manifest file (None: ``<output>/run.jsonl``); rows of earlier runs decide what is skipped.
        overwrite: process every input again, whatever the manifest says and whether outputs exist.
        cluster: None: run in this process; :class:`RayOptions`: run on Ray (connects, or starts a local
            instance, and shuts down what it started).
        on_error: receives one line per failed input (and per input path that could not be expanded).
        on_row: receives every row as soon as it is written (skipped rows first).
        progress: show a progress bar (None: when there is more than one input to process).

    Returns:
        The :class:`BatchResult`.  A failing input is a ``failed`` row, never an exception; input paths that
        are missing (or folders without media) are in ``errors`` (no inputs at all: no rows, no manifest).

    Raises:
        InputError: outputs that cannot be planned (an output equal to an input, two inputs onto one output).
        MissingExtra: ``cluster`` without the ``[ray]`` extra installed.
        ConnectionError: the Ray cluster at ``cluster.address`` cannot be reached.
        KeyboardInterrupt: the run was interrupted; rows of finished inputs are in the manifest, so running again
            finishes the rest.
    """
    start = time.perf_counter()
    config = config if config is not None else resolve_config()
    if cluster is not None:
        require("fpblur batch --ray", "ray", "ray")
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    jobs, errors = plan_batch(inputs, output)
    for msg in errors:
        if on_error is not None:
            on_error(msg)
    result = BatchResult(errors=list(errors))
    if not jobs:
        result.seconds = time.perf_counter() - start
        return result
    book = Manifest(manifest if manifest is not None else default_manifest_path(output, jobs))
    result.manifest = book.path
    models = model_info(config)
    todo, skipped = plan_work(jobs, book, overwrite, models=models, profile=config.profile)

    def record(row: ManifestRow) -> None:
        book.append(row)
        result.rows.append(row)
        if row.status == "failed" and on_error is not None:
            on_error(row.reason)
        if on_row is not None:
            on_row(row)

    try:
        for row in skipped:
            record(row)
        if todo:
            if cluster is None:
                run_local(todo, Anonymizer(config), record, progress=progress)
            else:
                result.workers = run_on_ray(todo, config, cluster, record, models=models, progress=progress)
    finally:
        book.compact()
        remove_stale_parts(item.job.dst for item in todo if item.job.dst is not None)  # of killed attempts
        result.seconds = time.perf_counter() - start
    return result


# -- Ray ----------------------------------------------------------------------------------------------------


def _import_ray() -> Any:
    """``import ray`` with fpblur's environment set first (:data:`RAY_ENV`: no usage statistics).

    Raises:
        MissingExtra: Ray is not installed (``pip install 'fpblur[ray]'``).
    """
    require("fpblur batch --ray", "ray", "ray")
    for name, value in RAY_ENV.items():
        os.environ.setdefault(name, value)
    import ray  # optional: [ray] extra

    return ray


def connect(options: RayOptions) -> bool:
    """Connect this process to Ray as ``options.address`` says, unless it already is.

    A local instance (``address`` None) is started without the dashboard, bound to this machine, with
    usage statistics off; worker output is not forwarded (every input's outcome is its manifest row).

    Returns:
        True when this call connected (the caller shuts Ray down afterwards), False when Ray was connected
        already (a Python user's own ``ray.init``).

    Raises:
        MissingExtra: Ray is not installed.
        ConnectionError: the cluster cannot be reached (one line naming the address).
    """
    ray = _import_ray()
    if ray.is_initialized():
        return False
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": True}
    try:
        if options.address is None:
            # bound to this machine only (127.0.0.1), no dashboard
            ray.init(
                address="local",
                include_dashboard=False,
                _node_ip_address="127.0.0.1",
                # a busy machine can starve the raylet for seconds: do not declare it dead for that
                _system_config={"health_check_failure_threshold": 60},
                **quiet,
            )
        elif str(options.address).startswith("ray://"):
            _client_init(ray, options.address, quiet)
        else:
            ray.init(address=options.address, **quiet)
    except ConnectionError as exc:
        raise ConnectionError(f"cannot reach the Ray cluster at {options.address}: {_first_line(exc)}") from None
    except Exception as exc:  # Ray raises several types for an unreachable or foreign address
        where = options.address or "a local Ray instance"
        raise ConnectionError(f"cannot connect to {where}: {_first_line(exc)}") from None
    return True


#: Ray Client connection attempts: the cluster's client proxy forks a server process per client, and that child
#: sometimes dies at once (a gRPC fork race in Ray's proxier, ray-project/ray#63202, about 1 connection in 10 on a
#: loaded machine); each new attempt gets a new server process.
CLIENT_ATTEMPTS = 4


def _client_init(ray: Any, address: str, quiet: dict, attempts: int = CLIENT_ATTEMPTS) -> None:
    """``ray.init(address)`` for a ``ray://`` address, retried when the cluster's Ray Client server fails to start
    the server process for this client (:data:`CLIENT_ATTEMPTS`; ``ConnectionAbortedError`` "Initialization
    failure from server" or ``RuntimeError`` "Starting Ray client server failed").  Other errors are raised at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            ray.init(address=address, **quiet)
            return
        except (ConnectionAbortedError, RuntimeError) as exc:
            text = str(exc).lower()
            if attempt == attempts or not ("failure from server" in text or "client server failed" in text):
                raise
            with contextlib.suppress(Exception):
                ray.shutdown()
            time.sleep(0.5 * attempt)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def thread_cap(config: RunConfig, cpus: float) -> RunConfig:
    """``config`` for a Ray actor or task that reserved ``cpus`` CPUs: every detector's ONNX Runtime intra-op
    threads set to that many (:meth:`~fpblur.config.settings.RunConfig.with_threads`; ONNX Runtime would
    otherwise start one per core of the machine, whatever Ray reserved), and OpenCV's pool of this worker
    process sized to it.  Detections do not depend on the thread count.

    Args:
        config: the resolved configuration.
        cpus: the CPUs Ray reserved (fractions round down, at least 1).
    """
    n = max(1, int(cpus))
    cv2.setNumThreads(n)
    return config.with_threads(n)


class ImageWorker:
    """The Ray Data callable class of ``map_batches``: loads the detectors once per actor, then anonymizes
    batches of images with :func:`~fpblur.run.manifest.process_image`.

    Its settings are class attributes (:func:`image_worker_class` makes the subclass that carries them), so the
    actor is constructed without arguments: Ray then restarts a dead actor without needing constructor
    arguments kept in the object store.

    Attributes:
        config: the resolved configuration.
        cpus: the CPUs the actor reserved (:func:`thread_cap`).
        models: the rows' ``models`` field (:func:`~fpblur.run.manifest.model_info`, computed once by the driver).
    """

    config: RunConfig
    cpus: float = 1.0
    models: dict = {}

    def __init__(self) -> None:
        self.anonymizer = Anonymizer(thread_cap(self.config, self.cpus))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Anonymize a batch: ``{"item": WorkItem JSON}`` → ``{"row": ManifestRow JSON lines}``, same length.

        Never raises for a bad image (its row is ``failed``).
        """
        image = self.anonymizer.config.image
        rows = [
            process_image(
                WorkItem.from_dict(_json(item)),
                self.anonymizer,
                keep_metadata=image.keep_metadata,
                max_pixels=image.max_pixels,
                models=self.models,
            ).to_json()
            for item in batch["item"]
        ]
        return {"row": np.array(rows, dtype=object)}


def image_worker_class(config: RunConfig, cpus: float, models: dict) -> type[ImageWorker]:
    """An :class:`ImageWorker` subclass carrying ``config``, ``cpus`` and ``models`` (Ray ships it by value)."""
    return type("ImageWorker", (ImageWorker,), {"config": config, "cpus": cpus, "models": models})


_ANONYMIZERS: dict[str, Anonymizer] = {}  # per worker process: one anonymizer per configuration


def video_task(item: dict[str, str], config: RunConfig, cpus: float, models: dict) -> str:
    """One video on a Ray worker: :func:`~fpblur.run.manifest.process_video` → the row's JSON line.

    The anonymizer is built once per worker process and configuration (Ray reuses worker processes), with
    :func:`thread_cap`.  A partial output of an earlier attempt (a worker killed mid-file) is removed first.
    """
    key = repr(config)
    anonymizer = _ANONYMIZERS.get(key)
    if anonymizer is None:
        anonymizer = _ANONYMIZERS[key] = Anonymizer(thread_cap(config, cpus))
    return process_video(WorkItem.from_dict(item), anonymizer, models=models).to_json()


def _quiet_data(ray: Any) -> None:
    """Ray Data without progress bars and execution banners (fpblur shows its own progress)."""
    ctx = ray.data.DataContext.get_current()
    for name, value in (("enable_progress_bars", False), ("print_on_execution_start", False)):
        if hasattr(ctx, name):
            setattr(ctx, name, value)
    if hasattr(ctx, "enable_auto_log_stats"):
        ctx.enable_auto_log_stats = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


def run_on_ray(
    items: list[WorkItem],
    config: RunConfig,
    options: RayOptions,
    on_row: Callable[[ManifestRow], None],
    *,
    models: dict | None = None,
    progress: bool | None = None,
) -> int:
    """Process ``items`` on Ray: images through Ray Data actors, then each video as a task.

    Args:
        items: the work (:func:`~fpblur.run.manifest.plan_work`).
        config: the resolved configuration (sent to every actor and task).
        options: address, workers, CPUs/GPUs per worker, batch size, retries.
        on_row: receives each input's row as it arrives on the driver.
        models: the rows' ``models`` field (None: :func:`~fpblur.run.manifest.model_info` of ``config``).
        progress: show a progress bar on the driver (None: when there is more than one item).

    Returns:
        The number of image actors used (0 without images).

    Raises:
        MissingExtra, ConnectionError: see :func:`connect`.
        KeyboardInterrupt: interrupted; finished rows were delivered already.
    """
    ray = _import_ray()
    models = models if models is not None else model_info(config)
    started = connect(options)
    images = [i for i in items if i.kind == "image"]
    videos = [i for i in items if i.kind == "video"]
    show = progress if progress is not None else len(items) > 1
    bar = tqdm(total=len(items), desc="fpblur", unit="file", disable=not show, dynamic_ncols=True, file=sys.stderr)
    workers = 0

    def emit(row: ManifestRow) -> None:
        on_row(row)
        bar.update()

    try:
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        if images:
            workers = options.workers or max(1, int(cpus // options.cpus_per_worker))
            workers = min(workers, max(1, -(-len(images) // options.batch_size)))  # no idle actors
            if _through_client(ray):
                _run_images_from_client(ray, images, _Job(config, options, models, workers), emit)
            else:
                _run_images(ray, images, _Job(config, options, models, workers), emit)
        if videos:
            _run_videos(ray, videos, _Job(config, options, models), emit)
    finally:
        bar.close()
        if started:
            ray.shutdown()
    return workers


@dataclass(frozen=True)
class _Job:
    """What every Ray part of one run shares: the configuration, the Ray options, the rows' ``models`` field and
    the number of image actors."""

    config: RunConfig
    options: RayOptions
    models: dict
    workers: int = 1

    @property
    def gpu_args(self) -> dict:
        """``num_gpus`` for actors and tasks when GPUs were asked for."""
        return {"num_gpus": self.options.gpus_per_worker} if self.options.gpus_per_worker else {}

    def failed(self, item: WorkItem, reason: str) -> ManifestRow:
        """A ``failed`` row for ``item``."""
        return failed_row(item, f"{item.job.src}: {reason}", self.config, self.models)


def _run_images(ray: Any, images: list[WorkItem], job: _Job, emit: Callable[[ManifestRow], None]) -> None:
    config, options, models = job.config, job.options, job.models
    _quiet_data(ray)
    # one block per image (up to MAX_BLOCKS): Ray Data bundles blocks into batches of batch_size, so rows come
    # back, and land in the manifest, batch by batch, and an idle actor takes the next batch (with bigger blocks
    # a task gets several batches and returns them all at its end)
    ds = ray.data.from_items(
        [{"item": json.dumps(i.to_dict())} for i in images], override_num_blocks=min(len(images), MAX_BLOCKS)
    )
    # Ray Data restarts an actor whose process died and retries its batch (max_restarts/max_task_retries -1).
    ds = ds.map_batches(
        image_worker_class(config, options.cpus_per_worker, models),
        batch_size=options.batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=job.workers),
        num_cpus=options.cpus_per_worker,
        **job.gpu_args,
    )
    reported: set[str] = set()
    try:
        # batch_size=None: every block as soon as it is done (iter_rows would wait for 256 rows)
        for out in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for text in out["row"]:
                row = ManifestRow.from_dict(_json(text))
                reported.add(row.output)
                emit(row)
    except (KeyboardInterrupt, ConnectionError):
        raise
    except Exception as exc:  # Ray Data gave up (e.g. actors died more often than allowed): never stop the run
        reason = f"ray data: {_first_line(exc)}"
        for item in images:
            if str(item.job.dst) not in reported:
                emit(job.failed(item, reason))


#: Through Ray Client, images per remote Ray Data run (each pays Ray Data's start-up once; its rows come back
#: when it ends).
CLIENT_CHUNK = 2000


def _through_client(ray: Any) -> bool:
    """Whether this process is connected through Ray Client (``ray://``), where Ray Data cannot run."""
    with contextlib.suppress(Exception):
        return bool(ray.util.client.ray.is_connected())
    return False


def _images_on_cluster(items: list[dict[str, str]], job: _Job) -> list[str]:
    """A Ray task that runs :func:`_run_images` on the cluster (for a Ray Client driver); returns the rows' JSON."""
    ray = _import_ray()
    rows: list[str] = []
    work = [WorkItem.from_dict(i) for i in items]
    _run_images(ray, work, job, lambda row: rows.append(row.to_json()))
    return rows


def _run_images_from_client(ray: Any, images: list[WorkItem], job: _Job, emit: Callable[[ManifestRow], None]) -> None:
    """Ray Data does not run through Ray Client: run it inside a task on the cluster, :data:`CLIENT_CHUNK` images at
    a time, and record each chunk's rows when it returns."""
    remote = ray.remote(num_cpus=0, max_retries=job.options.video_retries)(_images_on_cluster)
    for start in range(0, len(images), CLIENT_CHUNK):
        chunk = images[start : start + CLIENT_CHUNK]
        try:
            texts = ray.get(remote.remote([i.to_dict() for i in chunk], job))
        except ray.exceptions.RayError as exc:
            for item in chunk:
                emit(job.failed(item, f"ray: {_first_line(exc)}"))
            continue
        for text in texts:
            emit(ManifestRow.from_dict(_json(text)))


def _run_videos(ray: Any, videos: list[WorkItem], job: _Job, emit: Callable[[ManifestRow], None]) -> None:
    options = job.options
    task = ray.remote(
        num_cpus=options.cpus_per_worker,
        max_retries=options.video_retries,  # the worker died: run it again (the output is atomic)
        retry_exceptions=False,  # process_video turns a bad file into a failed row; nothing else is retried
        **job.gpu_args,
    )(video_task)
    config_ref = ray.put(job.config)
    pending = {task.remote(item.to_dict(), config_ref, options.cpus_per_worker, job.models): item for item in videos}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                item = pending.pop(ref)
                try:
                    row = ManifestRow.from_dict(_json(ray.get(ref)))
                except ray.exceptions.RayError as exc:
                    row = job.failed(item, f"ray: {_first_line(exc)}")
                emit(row)
    finally:
        for ref in pending:  # interrupted: do not leave tasks running for a driver that is gone
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)


def _json(text: Any) -> dict:
    return json.loads(str(text))
