"""Export trained YOLO weights (ONNX by default) and verify the export, offline.

:func:`export_and_verify` does what ``fpblur export`` does:

1. ``YOLO(weights).export(format=..., imgsz=..., ...)`` through :func:`fpblur.models.offline.import_ultralytics`
   (ONNX graph simplification only when ``onnxslim`` is installed: Ultralytics would otherwise try to pip-install
   it).
2. For ONNX: run the same letterboxed sample image (``bus.jpg`` from the ultralytics wheel) through the torch
   model and through ONNX Runtime and compare the raw head outputs — box channels in pixels and class-score
   channels separately, each within a tolerance (:func:`verify_onnx`).
3. Load the exported file in fpblur's :class:`~fpblur.detect.yolo_torch.YoloDetector` (what ``--faces`` /
   ``--plates`` use), run it on the sample image and compare its detections with the ``.pt`` model's
   (:func:`check_detector`).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from fpblur.core.boxes import iou_matrix
from fpblur.core.files import InputError, atomic_output, same_file
from fpblur.core.labels import label_from_class_name
from fpblur.detect.yolo_torch import YoloDetector
from fpblur.models.offline import import_ultralytics
from fpblur.models.samples import synthetic_car
from fpblur.training.train import ultralytics_logging

#: Default tolerances for an FP32 export (box channels in input pixels, score channels absolute).
BOX_ATOL = 0.05
SCORE_ATOL = 1e-3
#: FP16 exports are compared with looser tolerances.
HALF_FACTOR = 40.0


@dataclass(frozen=True)
class VerifyReport:
    """torch vs ONNX Runtime on one sample input: the output ``shape`` (``1×(4+nc)×anchors``), the largest
    absolute difference of the box channels (pixels of the input) and of the score channels, and the tolerances
    they were compared with.
    """

    shape: tuple[int, ...]
    box_max_diff: float
    score_max_diff: float
    box_atol: float
    score_atol: float

    @property
    def ok(self) -> bool:
        """Both differences are within their tolerances."""
        return self.box_max_diff <= self.box_atol and self.score_max_diff <= self.score_atol

    def summary(self) -> str:
        """One line: OK or MISMATCH with the shape, differences and tolerances."""
        state = "OK" if self.ok else "MISMATCH"
        return (
            f"onnxruntime vs torch {state}: output {self.shape}, max |diff| boxes {self.box_max_diff:.2e} px "
            f"(tol {self.box_atol:g}), scores {self.score_max_diff:.2e} (tol {self.score_atol:g})"
        )


@dataclass(frozen=True)
class DetectorCheck:
    """The exported file loaded in fpblur's YoloDetector vs the ``.pt`` weights, on the sample image: the
    ``label`` checked, detections of each at the threshold and how many of them the other model matched at
    IoU >= 0.9.
    """

    label: str
    n_exported: int
    n_torch: int
    matched_exported: int
    matched_torch: int

    @property
    def ok(self) -> bool:
        """Every detection of each model was matched by the other."""
        return self.matched_exported == self.n_exported and self.matched_torch == self.n_torch

    def summary(self) -> str:
        """One line: same or DIFFERENT detections, with the counts."""
        state = "same detections" if self.ok else "DIFFERENT detections"
        return (
            f"fpblur YoloDetector ({self.label}) loads the export, {state}: {self.n_exported} boxes "
            f"({self.matched_exported} matched) vs {self.n_torch} with the .pt weights ({self.matched_torch} "
            "matched at IoU >= 0.9)"
        )


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_and_verify` did: the ``.pt`` ``weights``, the ``exported`` file (or folder), its
    ``format`` and ``imgsz`` (pixels), and the checks' reports (None: not run).
    """

    weights: Path
    exported: Path
    format: str
    imgsz: int
    verify: VerifyReport | None = None
    detector: DetectorCheck | None = None

    @property
    def ok(self) -> bool:
        """No check that ran failed."""
        return (self.verify is None or self.verify.ok) and (self.detector is None or self.detector.ok)


def _check_weights(weights: str | os.PathLike) -> Path:
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: weights file not found")
    if path.suffix.lower() != ".pt":
        raise ValueError(f"{path}: expected a .pt checkpoint to export")
    return path


def default_imgsz(weights: str | os.PathLike) -> int:
    """The image size in pixels the weights were trained at (the checkpoint's ``imgsz``; 640 when it does not
    say; the first value of a list).
    """
    ultralytics = import_ultralytics()
    imgsz = ultralytics.YOLO(str(weights), task="detect").overrides.get("imgsz", 640)
    return int(imgsz[0] if isinstance(imgsz, (list, tuple)) else imgsz)


def export(
    weights: str | os.PathLike,
    format: str = "onnx",
    imgsz: int | None = None,
    half: bool = False,
    dynamic: bool = False,
    opset: int | None = None,
    simplify: bool | None = None,
    device: str = "cpu",
    output: str | os.PathLike | None = None,
    verbose: bool = False,
) -> Path:
    """Export ``weights`` with Ultralytics (``YOLO(weights).export(...)``, offline) and return the exported file.

    Args:
        weights: a ``.pt`` checkpoint.
        format: an Ultralytics export format (``onnx``, ``openvino``…).
        imgsz: export size in pixels (default: :func:`default_imgsz`).
        half: FP16 export (Ultralytics 8.4's ``quantize=16``).
        dynamic: dynamic input size and batch.
        opset: ONNX opset (None: Ultralytics' choice).
        simplify: simplify the ONNX graph (default: only when ``onnxslim`` is installed, as Ultralytics would
            otherwise try to pip-install it).
        device: the device to export on.
        output: a file path, or an existing folder to put the export in under its own name (default: next to
            the weights).  A folder export (e.g. OpenVINO) is never written over an existing folder.
        verbose: show Ultralytics' export log.

    Returns:
        The exported file or folder.

    Raises:
        FileNotFoundError: no such weights file.
        ValueError: weights that are not ``.pt``.
        fpblur.core.files.InputError: ``output`` equals the weights, or a folder export's ``output`` exists.
    """
    path = _check_weights(weights)
    if output is not None and same_file(Path(output), path):
        raise InputError(f"{path}: output equals the input")
    ultralytics = import_ultralytics()
    if simplify is None:
        simplify = importlib.util.find_spec("onnxslim") is not None
    kwargs = dict(
        format=format,
        imgsz=imgsz or default_imgsz(path),
        dynamic=dynamic,
        simplify=simplify,
        device=device,
        opset=opset,
    )
    if half:
        kwargs["quantize"] = 16  # Ultralytics 8.4 spells FP16 export as quantize=16
    with ultralytics_logging(verbose):
        out = Path(ultralytics.YOLO(str(path), task="detect").export(**kwargs))
    if output is None:
        return out
    return _move_export(out, Path(output), path)


def _move_export(out: Path, dst: Path, weights: Path) -> Path:
    """Move the export ``out`` (a file or a folder) to ``dst`` without touching anything already there."""
    if out.is_dir():
        if same_file(dst, out):
            return out
        if dst.exists():
            raise InputError(
                f"{dst}: already exists; the {out.name} export folder is not merged into it "
                f"(choose a new --output; the export is at {out})"
            )
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent))
        try:
            shutil.move(str(out), str(tmp / out.name))
            os.rename(tmp / out.name, dst)  # fails rather than replace a folder created meanwhile
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return dst
    if dst.is_dir():
        dst = dst / out.name
    if same_file(dst, weights):
        raise InputError(f"{weights}: output equals the input")
    if same_file(dst, out):
        return out  # already where it was asked to be: nothing to copy (and nothing to delete)
    with atomic_output(dst) as tmp:
        shutil.copyfile(out, tmp)
    out.unlink()
    return dst


def sample_image() -> np.ndarray:
    """``bus.jpg`` from the ultralytics wheel as an H×W×3 uint8 BGR array (real content, so the outputs are not
    all near zero).

    Raises:
        FileNotFoundError: the image is missing from the ultralytics package.
    """
    import_ultralytics()
    from ultralytics.utils import ASSETS  # optional: [train] extra

    img = cv2.imread(str(Path(ASSETS) / "bus.jpg"))
    if img is None:
        raise FileNotFoundError(f"{Path(ASSETS) / 'bus.jpg'}: sample image missing from the ultralytics package")
    return img


def sample_input(imgsz: int, image: np.ndarray | None = None) -> np.ndarray:
    """A model input from ``image`` (default :func:`sample_image`), letterboxed like Ultralytics' predictor.

    The image is resized to fit ``imgsz`` × ``imgsz`` pixels keeping its aspect ratio (bilinear), centred on a
    grey (114) canvas, converted BGR → RGB and scaled to [0, 1].

    Returns:
        ``1×3×imgsz×imgsz`` float32 (NCHW).
    """
    img = sample_image() if image is None else image
    h, w = img.shape[:2]
    r = min(imgsz / h, imgsz / w)
    nh, nw = int(round(h * r)), int(round(w * r))
    canvas = np.full((imgsz, imgsz, 3), 114, np.uint8)
    top, left = (imgsz - nh) // 2, (imgsz - nw) // 2
    canvas[top : top + nh, left : left + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    rgb = canvas[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(rgb[None], dtype=np.float32) / 255.0


def torch_outputs(weights: str | os.PathLike, x: np.ndarray) -> np.ndarray:
    """Raw head output of the fused FP32 torch model on ``x`` (NCHW float32), as the exporter traces it.

    Returns:
        ``1×(4+nc)×anchors`` float32: box channels (cx, cy, w, h in input pixels), then class scores.
    """
    import torch  # optional: [train] extra

    ultralytics = import_ultralytics()
    model = ultralytics.YOLO(str(weights), task="detect").model.float().fuse().eval()
    with torch.no_grad():
        y = model(torch.from_numpy(x))
    y = y[0] if isinstance(y, (list, tuple)) else y
    return y.cpu().numpy().astype(np.float32)


def onnx_outputs(onnx_path: str | os.PathLike, x: np.ndarray) -> np.ndarray:
    """First output of the ONNX model on ``x`` (cast to the input's float16/float32) with ONNX Runtime's CPU
    provider, as float32.
    """
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dtype = np.float16 if "float16" in inp.type else np.float32
    return np.asarray(sess.run(None, {inp.name: x.astype(dtype)})[0], np.float32)


def compare_outputs(
    a: np.ndarray, b: np.ndarray, box_atol: float = BOX_ATOL, score_atol: float = SCORE_ATOL
) -> VerifyReport:
    """Compare two ``1×(4+nc)×N`` head outputs: channels 0–3 are boxes (pixels), the rest class scores.

    Returns:
        The :class:`VerifyReport` with the largest absolute differences.

    Raises:
        ValueError: the shapes differ.
    """
    if a.shape != b.shape:
        raise ValueError(f"output shapes differ: torch {a.shape} vs onnx {b.shape}")
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return VerifyReport(
        tuple(a.shape), float(diff[:, :4].max(initial=0.0)), float(diff[:, 4:].max(initial=0.0)), box_atol, score_atol
    )


def verify_onnx(
    weights: str | os.PathLike,
    onnx_path: str | os.PathLike,
    imgsz: int,
    half: bool = False,
    box_atol: float | None = None,
    score_atol: float | None = None,
) -> VerifyReport:
    """Torch vs ONNX Runtime on the letterboxed sample image.

    Args:
        weights: the ``.pt`` checkpoint; onnx_path: its export; imgsz: the export size in pixels.
        half: an FP16 export: default tolerances × :data:`HALF_FACTOR`.
        box_atol: tolerance on box channels in pixels (default :data:`BOX_ATOL`).
        score_atol: tolerance on score channels (default :data:`SCORE_ATOL`).

    Returns:
        The :class:`VerifyReport`.

    Raises:
        ValueError: the two outputs differ in shape.
    """
    x = sample_input(imgsz)
    factor = HALF_FACTOR if half else 1.0
    return compare_outputs(
        torch_outputs(weights, x),
        onnx_outputs(onnx_path, x),
        box_atol if box_atol is not None else BOX_ATOL * factor,
        score_atol if score_atol is not None else SCORE_ATOL * factor,
    )


def model_label(weights: str | os.PathLike) -> str:
    """``"plate"`` when a class name of the weights stands for a plate/licence
    (:func:`~fpblur.core.labels.label_from_class_name`), else ``"face"``.
    """
    ultralytics = import_ultralytics()
    names = ultralytics.YOLO(str(weights), task="detect").names.values()
    return "plate" if any(label_from_class_name(n) == "plate" for n in names) else "face"


def detector_sample(label: str) -> np.ndarray:
    """A photo with faces (``bus.jpg``) or, for ``"plate"``, a drawn car with a plate
    (:func:`fpblur.models.samples.synthetic_car`), as H×W×3 uint8 BGR.
    """
    if label == "plate":
        return synthetic_car()[0]
    return sample_image()


def _matched(a, b) -> int:
    if not len(a) or not len(b):
        return 0
    return int((iou_matrix(a.boxes, b.boxes).max(axis=1) >= 0.9).sum())


def check_detector(
    weights: str | os.PathLike, exported: str | os.PathLike, imgsz: int, conf: float = 0.1, label: str | None = None
) -> DetectorCheck:
    """Load the export in :class:`YoloDetector`, detect on a sample image, match with the ``.pt`` detections.

    The ``.pt`` reference is run on the same square letterboxed input as the static ONNX graph.  A detection
    at ``conf`` counts as matched when the other model has a box with IoU >= 0.9 among its
    detections at ``0.8 × conf`` (so scores that straddle the threshold do not count as mismatches).

    Args:
        weights: the ``.pt`` checkpoint; exported: its export; imgsz: the size in pixels to run at.
        conf: the score threshold of the check.
        label: ``"face"`` or ``"plate"`` (default: :func:`model_label`), which also picks the sample image.

    Returns:
        The :class:`DetectorCheck`.
    """
    label = label or model_label(weights)
    image = detector_sample(label)
    got_det = YoloDetector(exported, label=label, conf=0.8 * conf, imgsz=imgsz, device="cpu")
    ref_det = YoloDetector(weights, label=label, conf=0.8 * conf, imgsz=imgsz, device="cpu")
    # A static ONNX graph sees a square letterboxed input; make the .pt reference see the same one (Ultralytics
    # pads .pt inputs only to a stride multiple by default, which changes low-score boxes).
    ref_det.model.overrides["rect"] = False
    got_lo, ref_lo = got_det(image), ref_det(image)
    got, ref = got_lo.filter(got_lo.scores >= conf), ref_lo.filter(ref_lo.scores >= conf)
    return DetectorCheck(label, len(got), len(ref), _matched(got, ref_lo), _matched(ref, got_lo))


def export_and_verify(
    weights: str | os.PathLike,
    format: str = "onnx",
    imgsz: int | None = None,
    half: bool = False,
    dynamic: bool = False,
    opset: int | None = None,
    device: str = "cpu",
    output: str | os.PathLike | None = None,
    verify: bool = True,
    conf: float = 0.1,
    box_atol: float | None = None,
    score_atol: float | None = None,
    verbose: bool = False,
) -> ExportResult:
    """What ``fpblur export`` does: export, then (ONNX only, unless ``verify`` is False) compare the raw outputs
    with torch's (:func:`verify_onnx`) and check that fpblur's detector loads the file and finds the same boxes
    (:func:`check_detector`).

    Args:
        weights: the ``.pt`` checkpoint.
        format, imgsz, half, dynamic, opset, device, output, verbose: see :func:`export`.
        verify: run the checks.
        conf: score threshold of the detector check.
        box_atol, score_atol: see :func:`verify_onnx`.

    Returns:
        The :class:`ExportResult` (``ok`` False when a check failed).

    Raises:
        FileNotFoundError, ValueError, fpblur.core.files.InputError: see :func:`export`.
    """
    path = _check_weights(weights)
    imgsz = int(imgsz or default_imgsz(path))
    exported = export(
        path, format, imgsz, half=half, dynamic=dynamic, opset=opset, device=device, output=output, verbose=verbose
    )
    if format != "onnx" or not verify:
        return ExportResult(path, exported, format, imgsz)
    report = verify_onnx(path, exported, imgsz, half=half, box_atol=box_atol, score_atol=score_atol)
    detector = check_detector(path, exported, imgsz, conf=conf)
    return ExportResult(path, exported, format, imgsz, report, detector)
