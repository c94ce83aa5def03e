"""Keep Ultralytics quiet and offline.  Import this module before ``ultralytics`` anywhere in fpblur.

Ultralytics would otherwise: probe DNS to decide whether it is online, download ``Arial.ttf`` the first
time it draws a label, sync anonymous usage events, auto-``pip install`` missing requirements and try
to download pretrained weights.  Each of these is switched off here through its documented settings,
inside fpblur, so users never have to set anything.  Variables the user set explicitly are respected.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from fpblur.core.files import atomic_output
from fpblur.models.extras import require
from fpblur.models.registry import cache_dir

_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def ultralytics_config_dir() -> Path:
    """Where Ultralytics keeps its settings and fonts: ``$YOLO_CONFIG_DIR`` if set, else
    ``<fpblur cache>/ultralytics``."""
    return Path(os.environ.get("YOLO_CONFIG_DIR") or cache_dir() / "ultralytics")


def _install_local_fonts(config_dir: Path) -> None:
    """Put matplotlib's DejaVuSans where Ultralytics looks for Arial, so it never downloads a font."""
    try:
        import matplotlib  # optional: [train] extra (an Ultralytics dependency)

        src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except Exception:  # matplotlib missing: Ultralytics will still not download (offline), labels plain
        return
    for name in _FONT_NAMES:
        dst = config_dir / name
        if not dst.exists() and src.is_file():
            try:  # atomically: a process reading the font meanwhile never sees half a file
                with atomic_output(dst) as tmp:
                    shutil.copyfile(src, tmp)
            except OSError:
                pass


def configure_environment() -> None:
    """Set the environment Ultralytics reads at import time (idempotent, no import of ultralytics).

    ``YOLO_OFFLINE=1``, ``YOLO_AUTOINSTALL=0``, ``YOLO_VERBOSE=0`` and ``YOLO_CONFIG_DIR``
    (:func:`ultralytics_config_dir`), each only where the user has not set it.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_VERBOSE", "0")
    config_dir = ultralytics_config_dir()
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))


def import_ultralytics():
    """Import ``ultralytics`` with everything networked switched off.

    Sets the environment first (:func:`configure_environment`), then marks Ultralytics offline (also when it
    was imported earlier), puts a local font where it looks for Arial, and turns off the settings that sync
    with online services (``sync``, ``wandb``, ``mlflow``, …) when any is on.

    Returns:
        The ``ultralytics`` module.

    Raises:
        MissingExtra: Ultralytics or PyTorch is not installed (the message names the ``[train]`` extra; the core
            install runs the default models on ONNX Runtime without them).
    """
    require(
        "running YOLO weights through Ultralytics (.pt files, --device/--half, training, export)",
        "train",
        "ultralytics",
        "torch",
    )
    configure_environment()
    import ultralytics  # optional: [train] extra
    from ultralytics import utils as ul_utils  # optional: [train] extra

    # In case ultralytics was imported before fpblur could set YOLO_OFFLINE.
    ul_utils.ONLINE = False
    try:
        ul_utils.checks.ONLINE = False
    except AttributeError:
        pass
    # Ultralytics looks for fonts in USER_CONFIG_DIR (``$YOLO_CONFIG_DIR/Ultralytics`` or a temp fallback).
    _install_local_fonts(Path(ul_utils.USER_CONFIG_DIR))
    off = {k: False for k in ("sync", "clearml", "comet", "dvc", "mlflow", "raytune", "wandb", "tensorboard")}
    settings = ul_utils.SETTINGS
    if any(settings.get(k) for k in off if k in settings):
        settings.update({k: v for k, v in off.items() if k in settings})
    return ultralytics
