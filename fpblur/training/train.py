"""Reproducible, offline-safe YOLO training from a YAML recipe (``configs/*_train.yaml``) plus overrides.

A recipe is a flat YAML mapping whose keys are Ultralytics train arguments (``model``, ``data``, ``epochs``,
``imgsz``, ``batch``, ``optimizer``, ``lr0``, ... — see ``ultralytics.cfg.DEFAULT_CFG_DICT``).  Overrides from
the command line (``key=value``) are typed like Ultralytics' own CLI and merged on top; an unknown key is an
error that lists the closest valid keys.

What :func:`train` adds around ``YOLO(model).train(...)``:

* **Offline.**  Ultralytics is imported through :func:`fpblur.models.offline.import_ultralytics` (no DNS probe, no
  settings sync, no pip auto-install) and a local font is put where its dataset check looks for ``Arial.ttf``
  (see :mod:`fpblur.models.offline`), so no font download is attempted.  A ``*.pt`` base model must be on disk:
  it is looked up as given, in Ultralytics' ``weights_dir`` and in fpblur's cache, and when it is missing the
  error says how to provide it or to start from the ``.yaml`` architecture instead — nothing is downloaded.
* **AMP check without a download.**  On CUDA, Ultralytics' ``check_amp`` compares FP32 and AMP inference of a
  *downloaded* ``yolo26n.pt``.  :class:`OfflineDetectionTrainer` pre-empts it with :func:`offline_check_amp`:
  the known-bad-GPU rule of Ultralytics is kept, the original comparison runs only when ``yolo26n.pt`` is
  already in ``weights_dir``, and otherwise AMP stays on (what Ultralytics itself does when it is offline).
  The trainer subclass is what multi-GPU DDP workers unpickle, so the workers get the same behaviour.
* **Reproducible runs.**  ``seed`` and ``deterministic`` from the recipe; runs go to ``project/name`` (a new
  numbered folder if it exists, unless ``exist_ok``); ``resume`` continues a run from its ``last.pt``.
* **Visible log.**  fpblur keeps Ultralytics silent for inference; training turns its INFO log and progress bars
  back on (``verbose=True``), for the DDP workers too (``YOLO_VERBOSE`` in their environment).
* **CPU.**  torch's intra-op threads are set to every core (Ultralytics loads data in the main process on CPU).
"""

from __future__ import annotations

import ast
import contextlib
import csv
import difflib
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from fpblur.models.offline import import_ultralytics
from fpblur.models.registry import cache_dir
from fpblur.training.data.yolo import read_mapping

BASE_URL = "https://github.com/ultralytics/assets/releases/download/v8.4.0"
AMP_CHECK_WEIGHTS = "yolo26n.pt"
# GPUs on which Ultralytics disables AMP (NaN losses / zero mAP), from ultralytics.utils.checks.check_amp.
_BAD_AMP_GPU = re.compile(
    r"(nvidia|geforce|quadro|tesla).*?(1660|1650|1630|t400|t550|t600|t1000|t1200|t2000|k40m)", re.IGNORECASE
)


class ConfigError(ValueError):
    """A recipe or override is invalid; the message names the file or key."""


class ModelFileMissing(FileNotFoundError):
    """A ``*.pt`` base model is not on disk (fpblur never downloads weights during training)."""


# -- configuration ---------------------------------------------------------------------------------------
def valid_keys() -> frozenset[str]:
    """Every argument Ultralytics' trainer accepts (the keys of ``ultralytics.cfg.DEFAULT_CFG_DICT``)."""
    import_ultralytics()
    from ultralytics.cfg import DEFAULT_CFG_DICT  # optional: [train] extra

    return frozenset(DEFAULT_CFG_DICT)


def check_keys(cfg: Mapping[str, Any], source: str) -> None:
    """Check that every key of ``cfg`` is an Ultralytics train argument.

    Args:
        cfg: the options to check.
        source: what they came from, for the message (a file name, ``command line``…).

    Raises:
        ConfigError: an unknown key (the message names ``source`` and up to three close valid keys each).
    """
    keys = valid_keys()
    bad = [k for k in cfg if k not in keys]
    if not bad:
        return
    hints = []
    for k in bad:
        close = difflib.get_close_matches(str(k), sorted(keys), n=3, cutoff=0.6)
        hints.append(f"{k!r}" + (f" (did you mean {', '.join(close)}?)" if close else ""))
    raise ConfigError(
        f"{source}: unknown Ultralytics train option{'s' * (len(bad) > 1)} {', '.join(hints)}; "
        "valid keys are those of ultralytics.cfg.DEFAULT_CFG_DICT"
    )


def load_config(path: str | os.PathLike) -> dict[str, Any]:
    """Read a training recipe (a flat YAML mapping of Ultralytics train arguments) and check its keys.

    Returns:
        The mapping (not merged or type-checked yet: see :func:`merge_config`).

    Raises:
        ConfigError: a missing or unreadable file, invalid YAML, a top level that is not a mapping, or an
            unknown key.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    data = read_mapping(path, "train options", ConfigError)
    check_keys(data, str(path))
    return data


def parse_value(key: str, text: str) -> Any:
    """Type a command-line value like Ultralytics' CLI: none/true/false, int, float, ``[list]``/``(tuple)`` or a
    quoted string (``ast.literal_eval``); else the text as a string.  ``device`` always stays a string (``0,1`` is a
    device list, not a tuple).
    """
    t = text.strip()
    low = t.lower()
    if key == "device":
        return t
    if low == "none":
        return None
    if low in ("true", "false"):
        return low == "true"
    for cast in (int, float):
        try:
            return cast(t)
        except ValueError:
            pass
    if t[:1] in "[(" or t[:1] in "'\"":
        try:
            return ast.literal_eval(t)
        except (ValueError, SyntaxError):
            pass
    return t


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["epochs=1", "imgsz=160"]`` → ``{"epochs": 1, "imgsz": 160}``.

    Keys may carry leading dashes and use ``-`` for ``_``; values are typed by :func:`parse_value`.

    Raises:
        ConfigError: an item without ``=`` or a key, or an unknown key.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lstrip("-").replace("-", "_")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value")
        out[key] = parse_value(key, value)
    check_keys(out, "command line")
    return out


def validate_types(cfg: dict[str, Any]) -> dict[str, Any]:
    """Ultralytics' own type/range checks (``ultralytics.cfg.check_cfg``, ``hard=True``) on a copy of ``cfg``.

    Returns:
        The checked copy (``check_cfg`` may normalise values in it, e.g. ``quantize`` aliases such as ``fp16``).

    Raises:
        ConfigError: a value of the wrong type or out of range (``imgsz`` must be an int or ``[height, width]``).
    """
    import_ultralytics()
    from ultralytics.cfg import check_cfg  # optional: [train] extra

    out = dict(cfg)
    imgsz = out.get("imgsz")
    if (
        imgsz is not None
        and not (isinstance(imgsz, int) and not isinstance(imgsz, bool))
        and not (isinstance(imgsz, (list, tuple)) and all(isinstance(v, int) for v in imgsz))
    ):
        raise ConfigError(f"invalid train option: 'imgsz={imgsz}' must be an integer (or [height, width])")
    try:
        check_cfg(out, hard=True)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid train option: {exc}") from None
    return out


def merge_config(
    base: Mapping[str, Any], overrides: Mapping[str, Any] | None = None, device: str | int | None = None
) -> dict[str, Any]:
    """Recipe ← overrides ← ``device`` (when given); keys and types checked.

    Args:
        base: the recipe (:func:`load_config`).
        overrides: ``key=value`` overrides (:func:`parse_overrides`).
        device: ``cpu``, ``0`` or ``0,1`` (several GPUs: DDP); None or ``""`` keeps the recipe's.

    Returns:
        The merged, type-checked config for :func:`train`.

    Raises:
        ConfigError: an unknown key or a bad value.
    """
    merged = {**dict(base), **dict(overrides or {})}
    if device not in (None, ""):
        merged["device"] = str(device)
    check_keys(merged, "merged config")
    return validate_types(merged)


# -- model / paths ---------------------------------------------------------------------------------------
def weights_dirs() -> list[Path]:
    """Where a named ``*.pt`` base model is looked for besides the path as given: Ultralytics' ``weights_dir``
    setting, then ``<fpblur cache>/weights``.
    """
    import_ultralytics()
    from ultralytics.utils import SETTINGS  # optional: [train] extra

    return [Path(SETTINGS["weights_dir"]), cache_dir() / "weights"]


def missing_model_message(name: str) -> str:
    """The error text for a base model ``name`` that is not on disk: where to download it (with internet),
    where to put it, or which ``.yaml`` architecture trains from scratch instead.
    """
    stem = Path(name).stem
    return (
        f"base model {name} is not on this machine and fpblur does not download weights. Either download it "
        f"where there is internet ({BASE_URL}/{Path(name).name}) and pass model=/path/to/{Path(name).name} "
        f"(or copy it into {weights_dirs()[0]}), or train from scratch with model={stem}.yaml "
        "(same architecture, random initial weights: needs more epochs)"
    )


def resolve_weights(name: str | os.PathLike) -> Path:
    """Absolute path of a ``*.pt`` file: as given (``~`` expanded), else a bare file name looked up in
    :func:`weights_dirs`.

    Raises:
        ModelFileMissing: the file is nowhere (nothing is downloaded).
    """
    p = Path(name).expanduser()
    if p.is_file():
        return p.resolve()
    if not p.is_absolute() and len(p.parts) == 1:
        for d in weights_dirs():
            if (d / p).is_file():
                return (d / p).resolve()
    raise ModelFileMissing(missing_model_message(str(name)))


def resolve_paths(cfg: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``cfg`` with file arguments made absolute and checked (``model``/``pretrained`` ``*.pt``
    weights, the ``data`` YAML, the ``project`` folder).

    Raises:
        ConfigError: no ``model`` or no ``data`` (unless resuming), or a ``data`` file that does not exist.
        ModelFileMissing: a ``*.pt`` base model is not on disk.
    """
    out = dict(cfg)
    model = out.get("model")
    if model is None and not out.get("resume"):
        raise ConfigError("no model given: set model: in the config or pass model=yolov8n.yaml")
    if isinstance(model, (str, Path)) and str(model).lower().endswith(".pt"):
        out["model"] = str(resolve_weights(model))
    pretrained = out.get("pretrained")
    if isinstance(pretrained, (str, Path)) and str(pretrained).lower().endswith(".pt"):
        out["pretrained"] = str(resolve_weights(pretrained))
    data = out.get("data")
    if data is not None:
        dp = Path(str(data)).expanduser()
        if not dp.is_file():
            raise ConfigError(
                f"data: {data} not found (relative paths are read from the current directory "
                f"{Path.cwd()}; run from the repository root)"
            )
        out["data"] = str(dp.resolve())
    elif not out.get("resume"):
        raise ConfigError("no data given: set data: in the config or pass data=path/to/data.yaml")
    if out.get("project"):
        out["project"] = str(Path(str(out["project"])).expanduser().resolve())
    return out


def find_last_checkpoint(cfg: Mapping[str, Any]) -> Path:
    """``project/name/weights/last.pt`` of the recipe's run (what ``--resume`` without a path continues).

    Raises:
        ConfigError: the config has no ``project``/``name``, or the checkpoint does not exist.
    """
    project, name = cfg.get("project"), cfg.get("name")
    if not project or not name:
        raise ConfigError("--resume without a path needs project: and name: in the config")
    last = Path(str(project)) / str(name) / "weights" / "last.pt"
    if not last.is_file():
        raise ConfigError(f"{last}: no checkpoint to resume (pass --resume path/to/last.pt)")
    return last.resolve()


# -- offline fonts, AMP check and logging -----------------------------------------------------------------------
def ensure_offline_fonts() -> Path:
    """Import Ultralytics offline (which puts a local font where it looks for ``Arial.ttf``).

    Returns:
        That folder (Ultralytics' ``USER_CONFIG_DIR``).
    """
    import_ultralytics()
    from ultralytics.utils import USER_CONFIG_DIR  # optional: [train] extra

    return Path(USER_CONFIG_DIR)


def offline_check_amp(model) -> bool:
    """Drop-in for ``ultralytics.utils.checks.check_amp`` that never downloads.

    CPU/MPS → False (AMP is CUDA-only in Ultralytics).  Known-bad GPUs → False.  If ``yolo26n.pt`` is already
    in Ultralytics' ``weights_dir`` the original FP32-vs-AMP comparison runs; otherwise AMP stays on, as
    Ultralytics does when its download fails offline.

    Args:
        model: the torch model being trained (its first parameter's device decides).

    Returns:
        Whether to train with automatic mixed precision.
    """
    import torch  # optional: [train] extra
    from ultralytics.utils import LOGGER, SETTINGS, checks  # optional: [train] extra

    device = next(model.parameters()).device
    if device.type in {"cpu", "mps"}:
        return False
    if device.type == "cuda" and _BAD_AMP_GPU.search(torch.cuda.get_device_name(device)):
        LOGGER.warning(f"AMP: disabled on {torch.cuda.get_device_name(device)} (NaN losses / zero mAP on this GPU)")
        return False
    if (Path(SETTINGS["weights_dir"]) / AMP_CHECK_WEIGHTS).is_file():
        return checks.check_amp(model)  # the original (only the trainer's reference is patched)
    LOGGER.info(
        f"AMP: checks skipped by fpblur (offline, no {AMP_CHECK_WEIGHTS} in {SETTINGS['weights_dir']}); "
        "AMP on. If losses become NaN, train with amp=False."
    )
    return True


@contextlib.contextmanager
def patched_check_amp() -> Iterator[None]:
    """Temporarily route the trainer's ``check_amp`` (``ultralytics.engine.trainer``) to
    :func:`offline_check_amp`; the original is restored on exit.
    """
    import_ultralytics()
    from ultralytics.engine import trainer as trainer_mod  # optional: [train] extra

    original = trainer_mod.check_amp
    trainer_mod.check_amp = offline_check_amp
    try:
        yield
    finally:
        trainer_mod.check_amp = original


@contextlib.contextmanager
def ultralytics_logging(verbose: bool = True) -> Iterator[None]:
    """Turn Ultralytics' INFO log and progress bars on (or leave them off) for the duration, then restore the
    logger exactly (same handlers and level) and ``YOLO_VERBOSE``.

    Args:
        verbose: show the log (also in DDP workers, through ``YOLO_VERBOSE`` in their environment).
    """
    import_ultralytics()
    from ultralytics import utils as ul  # optional: [train] extra

    old_env, old_verbose = os.environ.get("YOLO_VERBOSE"), ul.VERBOSE
    old_level, old_handlers = ul.LOGGER.level, list(ul.LOGGER.handlers)
    os.environ["YOLO_VERBOSE"] = "1" if verbose else "0"  # inherited by DDP workers
    ul.VERBOSE = verbose
    ul.set_logging(ul.LOGGING_NAME, verbose=verbose)  # a handler on the current sys.stdout (e.g. a notebook's)
    try:
        yield
    finally:
        ul.VERBOSE = old_verbose
        if old_env is None:
            os.environ.pop("YOLO_VERBOSE", None)
        else:
            os.environ["YOLO_VERBOSE"] = old_env
        for h in list(ul.LOGGER.handlers):
            ul.LOGGER.removeHandler(h)
        for h in old_handlers:
            ul.LOGGER.addHandler(h)
        ul.LOGGER.setLevel(old_level)


def trainer_class():
    """:class:`OfflineDetectionTrainer`, built on first use so that importing fpblur.training.train stays light.

    It is also reachable as the module attribute ``fpblur.training.train.OfflineDetectionTrainer`` (module
    ``__getattr__``), which is how DDP workers unpickle it by reference.
    """
    cls = globals().get("_TRAINER_CLASS")
    if cls is not None:
        return cls
    import_ultralytics()
    from ultralytics.models.yolo.detect import DetectionTrainer  # optional: [train] extra

    class OfflineDetectionTrainer(DetectionTrainer):
        """Ultralytics' DetectionTrainer with :func:`offline_check_amp` (also in DDP workers)."""

        def _setup_train(self, *args, **kwargs):
            with patched_check_amp():
                return super()._setup_train(*args, **kwargs)

    OfflineDetectionTrainer.__module__ = __name__
    OfflineDetectionTrainer.__qualname__ = "OfflineDetectionTrainer"
    globals()["_TRAINER_CLASS"] = OfflineDetectionTrainer
    return OfflineDetectionTrainer


def __getattr__(name: str):
    if name == "OfflineDetectionTrainer":
        return trainer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- training --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainResult:
    """Where a training run wrote its files and how it ended.

    Attributes:
        save_dir: the run folder (``project/name``, numbered when it existed).
        best, last: ``weights/best.pt`` and ``weights/last.pt`` (``best`` may not exist after a short run).
        results_csv: Ultralytics' per-epoch ``results.csv``.
        args: the trainer's resolved arguments.
        metrics: the last row of ``results.csv`` (:func:`last_metrics`).
        amp: whether mixed precision was actually used (after the AMP check).
    """

    save_dir: Path
    best: Path
    last: Path
    results_csv: Path
    args: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    amp: bool | None = None  # whether mixed precision was actually used (after the AMP check)


def auto_device() -> str:
    """The ``device`` to train on here: every visible CUDA GPU as ``"0"``, ``"0,1"``, … (several: DDP), else
    ``"cpu"`` (also when torch is not installed).
    """
    try:
        import torch  # optional: [train] extra
    except ImportError:
        return "cpu"
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return ",".join(str(i) for i in range(n)) if n else "cpu"


def check_device(device: Any) -> None:
    """Check that the CUDA GPUs a ``device`` asks for exist here, before anything is loaded or launched.

    ``None``/``""`` (auto), ``cpu``, ``mps`` and other non-CUDA backends pass unchecked (Ultralytics decides);
    ``0``, ``0,1``, ``cuda:0``, ``[0, 1]`` and ``-1`` (an idle GPU) are CUDA requests.

    Args:
        device: the ``device`` train argument.

    Raises:
        ConfigError: one line naming the devices asked for and what torch sees, e.g. ``--device 0,1 asks for CUDA
            GPUs but none is visible (torch.cuda.device_count() == 0); use --device cpu``.
    """
    if device is None:
        return
    text = str(device).strip()
    s = text.lower()
    for junk in ("cuda:", "(", ")", "[", "]", "'", '"', " "):
        s = s.replace(junk, "")
    if s == "cuda":
        s = "0"
    ids = [x for x in s.split(",") if x]
    if not ids or not all(x.isdigit() or x == "-1" for x in ids):
        return  # auto, cpu, mps, npu/xpu/tpu…: not CUDA indices (Ultralytics checks those itself)
    import torch  # optional: [train] extra

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    asked = "CUDA GPUs" if len(ids) > 1 else "a CUDA GPU"
    if count == 0:
        raise ConfigError(
            f"--device {text} asks for {asked} but none is visible (torch.cuda.device_count() == 0); use --device cpu"
        )
    cvd = [x.strip() for x in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if x.strip()]
    missing = [x for x in ids if x.isdigit() and int(x) >= count and x not in cvd]  # physical ids under CVD are ok
    if missing or ids.count("-1") > count:
        have = ",".join(str(i) for i in range(count))
        raise ConfigError(
            f"--device {text} asks for {asked} {','.join(ids)} but only {count} "
            f"{'is' if count == 1 else 'are'} visible (torch.cuda.device_count() == {count}: {have}); "
            f"use --device {have} or --device cpu"
        )


def _is_cpu(device: Any) -> bool:
    if device in (None, ""):
        import torch  # optional: [train] extra

        return not torch.cuda.is_available()
    return str(device).lower() in ("cpu", "mps")


def _gpu_count(device: Any) -> int:
    if device in (None, "") or _is_cpu(device):
        return 0
    return len([d for d in str(device).split(",") if d.strip()])


def _check_ddp_requirements() -> None:
    """Ultralytics' DDP launcher pickles the trainer with cloudpickle (it asks for >=3.1.1; fpblur disables its
    pip auto-install, so say what to install instead)."""
    from ultralytics.utils import LOGGER  # optional: [train] extra

    try:
        version = metadata.version("cloudpickle")
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            "multi-GPU training needs cloudpickle (part of the [train] extra): pip install 'cloudpickle>=3.1.1'"
        ) from None
    major, minor = (int(x) for x in (version.split(".") + ["0"])[:2])
    if (major, minor) < (3, 1):
        LOGGER.warning(
            f"DDP: cloudpickle {version} found, Ultralytics asks for >=3.1.1 "
            "(pip install 'cloudpickle>=3.1.1' if the workers fail to start)"
        )


def last_metrics(results_csv: Path) -> dict[str, float]:
    """The final row of a training ``results.csv`` as ``{column: value}`` (columns stripped, non-numeric cells
    left out; empty when there is no file or row).
    """
    if not results_csv.is_file():
        return {}
    with open(results_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    out = {}
    for k, v in rows[-1].items():
        try:
            out[k.strip()] = float(v)
        except (TypeError, ValueError):
            pass
    return out


def train(
    cfg: Mapping[str, Any],
    resume: str | os.PathLike | bool | None = None,
    verbose: bool = True,
    callbacks: Mapping[str, Callable] | None = None,
) -> TrainResult:
    """Train a YOLO detector with Ultralytics (``YOLO(model).train(...)``, offline; see the module docstring).

    Args:
        cfg: a merged config (:func:`merge_config`); checked again here.
        resume: a ``last.pt`` path (or True for the recipe's own ``project/name``) to continue that run; only
            ``device``, ``batch``, ``workers``, ``cache``, ``patience`` and ``plots`` can change on resume
            (Ultralytics' rule).
        verbose: show Ultralytics' training log and progress bars.
        callbacks: ``{event: fn(trainer)}`` added to Ultralytics' (e.g. ``on_fit_epoch_end``).

    Returns:
        The :class:`TrainResult`.

    Raises:
        ConfigError: a bad option, missing ``model``/``data``, no checkpoint to resume, or a ``device`` asking for
            CUDA GPUs that are not visible (:func:`check_device`, checked first).
        ModelFileMissing: a ``*.pt`` base model is not on disk.
        RuntimeError: multi-GPU training without ``cloudpickle`` installed (part of the ``[train]`` extra).
    """
    ultralytics = import_ultralytics()
    import torch  # optional: [train] extra

    cfg = validate_types(dict(cfg))
    check_device(cfg.get("device"))  # before any file is resolved or loaded: GPUs asked for must exist
    if resume:
        last = find_last_checkpoint(cfg) if resume is True else Path(resume).expanduser().resolve()
        if not last.is_file():
            raise ConfigError(f"{last}: no checkpoint to resume")
        keep = {k: v for k, v in cfg.items() if k in ("device", "batch", "workers", "cache", "patience", "plots")}
        args = {**keep, "resume": str(last)}
        model_src = str(last)
    else:
        args = resolve_paths(cfg)
        model_src = args.pop("model")
    device = args.get("device")  # (import_ultralytics above already put the offline fonts in place)
    if _is_cpu(device):
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    with ultralytics_logging(verbose), patched_check_amp():
        if _gpu_count(device) > 1:
            _check_ddp_requirements()
        model = ultralytics.YOLO(model_src, task="detect")
        for event, fn in (callbacks or {}).items():
            model.add_callback(event, fn)
        model.train(trainer=trainer_class(), **args)
        trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    results_csv = save_dir / "results.csv"
    return TrainResult(
        save_dir=save_dir,
        best=Path(trainer.best),
        last=Path(trainer.last),
        results_csv=results_csv,
        args={k: v for k, v in vars(trainer.args).items()},
        metrics=last_metrics(results_csv),
        amp=None if getattr(trainer, "amp", None) is None else bool(trainer.amp),
    )
