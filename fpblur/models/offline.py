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

_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


def ultralytics_config_dir() -> Path:
    from fpblur.models.registry import cache_dir

    return Path(os.environ.get("YOLO_CONFIG_DIR") or cache_dir() / "ultralytics")


def _install_local_fonts(config_dir: Path) -> None:
    """Put matplotlib's DejaVuSans where Ultralytics looks for Arial, so it never downloads a font."""
    try:
        import matplotlib

        src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except Exception:  # matplotlib missing: Ultralytics will still not download (offline), labels plain
        return
    from fpblur.core.files import atomic_output

    for name in _FONT_NAMES:
        dst = config_dir / name
        if not dst.exists() and src.is_file():
            try:  # atomically: a process reading the font meanwhile never sees half a file
                with atomic_output(dst) as tmp:
                    shutil.copyfile(src, tmp)
            except OSError:
                pass


def configure_environment() -> None:
    """Set the environment Ultralytics reads at import time (idempotent, no import of ultralytics)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_VERBOSE", "0")
    config_dir = ultralytics_config_dir()
    os.environ.setdefault("YOLO_CONFIG_DIR", str(config_dir))


def import_ultralytics():
    """Import ``ultralytics`` with everything networked switched off; returns the module."""
    configure_environment()
    import ultralytics
    from ultralytics import utils as ul_utils

    # In case ultralytics was imported before fpblur could set YOLO_OFFLINE.
    ul_utils.ONLINE = False
    try:
        ul_utils.checks.ONLINE = False  # type: ignore[attr-defined]
    except AttributeError:
        pass
    # Ultralytics looks for fonts in USER_CONFIG_DIR (``$YOLO_CONFIG_DIR/Ultralytics`` or a temp fallback).
    _install_local_fonts(Path(ul_utils.USER_CONFIG_DIR))
    off = {k: False for k in ("sync", "clearml", "comet", "dvc", "mlflow", "raytune", "wandb", "tensorboard")}
    settings = ul_utils.SETTINGS
    if any(settings.get(k) for k in off if k in settings):
        settings.update({k: v for k, v in off.items() if k in settings})
    return ultralytics
