"""Export trained YOLO weights (ONNX by default) and verify the export, offline.

:func:`export_and_verify` does what ``fpblur export`` does:

1. ``YOLO(weights).export(format=..., imgsz=..., ...)`` through :func:`fpblur.models.offline.import_ultralytics`
   (ONNX graph simplification only when ``onnxslim`` is installed: Ultralytics would otherwise try to pip-install
   it).
2. For ONNX, pick an image on which the ``.pt`` model finds something (:func:`pick_sample`): fpblur's sample
   images (``zidane.jpg``, ``bus.jpg``, a drawn car with a plate: :mod:`fpblur.models.samples`), the ones that
   suit the model's classes first, or the caller's own images.  When the model finds nothing on any of them the
   verification fails with a one-line "nothing compared" instead of passing on "0 boxes vs 0".
3. Run that letterboxed image through the torch model and through ONNX Runtime and compare the raw head outputs
   — box channels in pixels and class-score channels separately, each within a tolerance (:func:`verify_onnx`).
4. Load the exported file in fpblur's :class:`~fpblur.detect.yolo_torch.YoloDetector` (what ``--faces`` /
   ``--plates`` use), run it on the same image and match its detections with the ``.pt`` model's: every box
   matched (IoU >= 0.9), matched boxes and scores equal within the tolerances (:func:`check_detector`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Sequence
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
from fpblur.models.samples import photo_path, synthetic_car
from fpblur.training.train import ultralytics_logging

#: Default tolerances for an FP32 export (box channels in input pixels, score channels absolute).
BOX_ATOL = 0.05
SCORE_ATOL = 1e-3
#: FP16 exports are compared with looser tolerances.
HALF_FACTOR = 40.0


@dataclass(frozen=True)
class VerifyReport:
    """torch vs ONNX Runtime on one sample input: the output ``shape`` (``1×(4+nc)×anchors``), the largest
    absolute difference of the box channels (pixels of the input) and of the score channels, the tolerances
    they were compared with, and the ``image`` they ran on (a name; ``""``: not said).
    """

    shape: tuple[int, ...]
    box_max_diff: float
    score_max_diff: float
    box_atol: float
    score_atol: float
    image: str = ""

    @property
    def ok(self) -> bool:
        """Both differences are within their tolerances."""
        return self.box_max_diff <= self.box_atol and self.score_max_diff <= self.score_atol

    def summary(self) -> str:
        """One line: OK or MISMATCH with the shape, differences and tolerances."""
        state = "OK" if self.ok else "MISMATCH"
        on = f" on {self.image}" if self.image else ""
        return (
            f"onnxruntime vs torch {state}{on}: output {self.shape}, max |diff| boxes {self.box_max_diff:.2e} px "
            f"(tol {self.box_atol:g}), scores {self.score_max_diff:.2e} (tol {self.score_atol:g})"
        )


@dataclass(frozen=True)
class DetectorCheck:
    """The exported file loaded in fpblur's YoloDetector vs the ``.pt`` weights, on one sample image.

    Attributes:
        label: the label checked (``face``/``plate``).
        n_exported, n_torch: detections of each at the threshold ``conf``.
        matched_exported, matched_torch: how many of them the other model matched at IoU >= 0.9.
        image: the image compared on (``""``: none; ``tried`` lists the images on which the ``.pt`` weights
            found nothing).
        box_max_diff: largest |difference| of matched box coordinates, in pixels of the image.
        score_max_diff: largest |difference| of matched scores.
        box_atol, score_atol: their tolerances.
        conf: the threshold.
        tried: the images tried, in order.
    """

    label: str
    n_exported: int
    n_torch: int
    matched_exported: int
    matched_torch: int
    image: str = ""
    box_max_diff: float = 0.0
    score_max_diff: float = 0.0
    box_atol: float = float("inf")
    score_atol: float = float("inf")
    conf: float = 0.1
    tried: tuple[str, ...] = ()

    @property
    def compared(self) -> bool:
        """The ``.pt`` weights found something, so there were boxes to compare."""
        return self.n_torch > 0

    @property
    def ok(self) -> bool:
        """Something was compared, every detection of each model was matched by the other, and matched boxes and
        scores agree within the tolerances."""
        return (
            self.compared
            and self.matched_exported == self.n_exported
            and self.matched_torch == self.n_torch
            and self.box_max_diff <= self.box_atol
            and self.score_max_diff <= self.score_atol
        )

    def summary(self) -> str:
        """One line: same or DIFFERENT detections with the counts and differences, or "nothing compared"."""
        if not self.compared:
            return (
                f"nothing compared: the .pt weights find no {self.label} at conf >= {self.conf:g} on any sample "
                f"image ({', '.join(self.tried) or 'none'}), so the export's detections were not checked "
                "(lower --conf or give images the model finds something on with --image)"
            )
        same = (
            self.matched_exported == self.n_exported
            and self.matched_torch == self.n_torch
            and self.box_max_diff <= self.box_atol
            and self.score_max_diff <= self.score_atol
        )
        state = "same detections" if same else "DIFFERENT detections"
        return (
            f"fpblur YoloDetector ({self.label}) loads the export, {state} on {self.image or 'the sample'}: "
            f"{self.n_exported} boxes ({self.matched_exported} matched) vs {self.n_torch} with the .pt weights "
            f"({self.matched_torch} matched at IoU >= 0.9); max |diff| boxes {self.box_max_diff:.2e} px "
            f"(tol {self.box_atol:.3g}), scores {self.score_max_diff:.2e} (tol {self.score_atol:g})"
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
    """``bus.jpg`` (shipped with fpblur: :func:`fpblur.models.samples.photo_path`) as an H×W×3 uint8 BGR array.

    Raises:
        FileNotFoundError: the image is missing from the installed package.
    """
    return _read_image(photo_path("bus.jpg"))


def _read_image(path: str | os.PathLike) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not an image OpenCV can read")
    return img


#: A verification image: ``(name, H×W×3 uint8 BGR array)``.
Sample = tuple[str, np.ndarray]


def default_samples(label: str) -> list[Sample]:
    """fpblur's sample images (:mod:`fpblur.models.samples`), those that suit ``label`` first: for ``"face"``
    ``zidane.jpg``, ``bus.jpg``, then the drawn car; for ``"plate"`` the drawn car (its plate is readable),
    ``bus.jpg``, then ``zidane.jpg``.
    """
    car: Sample = ("synthetic car", synthetic_car()[0])
    photos = [(name, _read_image(photo_path(name))) for name in ("zidane.jpg", "bus.jpg")]
    return [car, photos[1], photos[0]] if label == "plate" else [*photos, car]


#: What the ``images`` arguments take: image files, H×W×3 uint8 BGR arrays, or :data:`Sample` pairs.
Images = Sequence["str | os.PathLike | np.ndarray | Sample"]


def load_samples(images: Images) -> list[Sample]:
    """The caller's verification images as :data:`Sample` pairs.

    Args:
        images: image files (named by their file name), H×W×3 uint8 BGR arrays (named ``image 1``,
            ``image 2``…) or ``(name, array)`` pairs.

    Raises:
        FileNotFoundError: a path that does not exist (one line: ``PATH: no such file``).
        ValueError: a file OpenCV cannot read, or an array that is not H×W×3 uint8.
    """
    out: list[Sample] = []
    for i, item in enumerate(images, 1):
        name = f"image {i}"
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], np.ndarray):
            name, item = str(item[0]), item[1]
        if isinstance(item, np.ndarray):
            if item.ndim != 3 or item.shape[2] != 3 or item.dtype != np.uint8:
                raise ValueError(f"{name}: expected an H×W×3 uint8 BGR array, got {item.dtype} {item.shape}")
            out.append((name, item))
        else:
            out.append((Path(item).name, _read_image(item)))
    return out


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
    image: np.ndarray | None = None,
    image_name: str = "",
) -> VerifyReport:
    """Torch vs ONNX Runtime on a letterboxed image (:func:`export_and_verify` passes one on which the model
    finds something, see :func:`check_detector`).

    Args:
        weights: the ``.pt`` checkpoint; onnx_path: its export; imgsz: the export size in pixels.
        half: an FP16 export: default tolerances × :data:`HALF_FACTOR`.
        box_atol: tolerance on box channels in pixels (default :data:`BOX_ATOL`).
        score_atol: tolerance on score channels (default :data:`SCORE_ATOL`).
        image: H×W×3 uint8 BGR (default :func:`sample_image`, ``bus.jpg``); image_name: its name for the report.

    Returns:
        The :class:`VerifyReport`.

    Raises:
        ValueError: the two outputs differ in shape.
    """
    x = sample_input(imgsz, image)
    box_atol, score_atol = _tolerances(half, box_atol, score_atol)
    report = compare_outputs(torch_outputs(weights, x), onnx_outputs(onnx_path, x), box_atol, score_atol)
    name = image_name or ("bus.jpg" if image is None else "")
    return VerifyReport(report.shape, report.box_max_diff, report.score_max_diff, box_atol, score_atol, name)


def _tolerances(half: bool, box_atol: float | None, score_atol: float | None) -> tuple[float, float]:
    factor = HALF_FACTOR if half else 1.0
    return (
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
    """The first of :func:`default_samples` for ``label``: ``zidane.jpg`` (faces) or the drawn car (plates), as
    H×W×3 uint8 BGR.
    """
    return default_samples(label)[0][1]


def _square(detector: YoloDetector) -> YoloDetector:
    """Make ``detector`` letterbox to the full ``imgsz`` square, as a static ONNX graph does and as
    :func:`verify_onnx` feeds the models (Ultralytics pads ``.pt`` and dynamic ONNX inputs only to a stride multiple
    by default, which moves boxes and scores a little; its ``predict`` sets ``rect=True`` unless the call says
    otherwise, so the call is made to say so)."""
    detector.model.predict = functools.partial(detector.model.predict, rect=False)
    return detector


def _pairs(a, b) -> tuple[int, list[tuple[int, int]]]:
    """How many boxes of ``a`` have a box of ``b`` at IoU >= 0.9, and those ``(i, j)`` pairs (best IoU)."""
    if not len(a) or not len(b):
        return 0, []
    iou = iou_matrix(a.boxes, b.boxes)
    best = iou.argmax(axis=1)
    pairs = [(i, int(j)) for i, j in enumerate(best) if iou[i, j] >= 0.9]
    return len(pairs), pairs


def check_detector(
    weights: str | os.PathLike,
    exported: str | os.PathLike,
    imgsz: int,
    conf: float = 0.1,
    label: str | None = None,
    images: Images | None = None,
    half: bool = False,
    box_atol: float | None = None,
    score_atol: float | None = None,
) -> DetectorCheck:
    """Load the export in :class:`YoloDetector` and compare its detections with the ``.pt`` weights' on an image
    where the ``.pt`` weights find something.

    The images are tried in order (``images``, else :func:`default_samples` for the label) until the ``.pt``
    weights detect at least one box at ``conf``; when none gives a box, nothing is compared and the check fails
    (:attr:`DetectorCheck.compared` False).  Both models run on the full ``imgsz`` square letterbox of
    :func:`verify_onnx` (:func:`_square`).  A detection at ``conf`` counts as matched when the other model has a box with
    IoU >= 0.9 among its detections at ``0.8 × conf`` (so scores that straddle the threshold do not count as
    mismatches); matched boxes must agree within ``box_atol`` input pixels (scaled to the image's pixels) and
    their scores within ``score_atol``.

    Args:
        weights: the ``.pt`` checkpoint; exported: its export; imgsz: the size in pixels to run at.
        conf: the score threshold of the check.
        label: ``"face"`` or ``"plate"`` (default: :func:`model_label`), which also orders the sample images.
        images: images to verify on instead of fpblur's samples (see :func:`load_samples`).
        half, box_atol, score_atol: the tolerances, as in :func:`verify_onnx`.

    Returns:
        The :class:`DetectorCheck`.

    Raises:
        FileNotFoundError, ValueError: an image of ``images`` is missing or unreadable (:func:`load_samples`).
    """
    label = label or model_label(weights)
    candidates = load_samples(images) if images else default_samples(label)
    box_tol, score_tol = _tolerances(half, box_atol, score_atol)
    ref_det = _square(YoloDetector(weights, label=label, conf=0.8 * conf, imgsz=imgsz, device="cpu"))
    tried: list[str] = []
    for name, image in candidates:
        tried.append(name)
        ref_lo = ref_det(image)
        ref = ref_lo.filter(ref_lo.scores >= conf)
        if len(ref):
            break
    else:
        return DetectorCheck(label, 0, 0, 0, 0, conf=conf, tried=tuple(tried))
    got_det = _square(YoloDetector(exported, label=label, conf=0.8 * conf, imgsz=imgsz, device="cpu"))
    got_lo = got_det(image)
    got = got_lo.filter(got_lo.scores >= conf)
    matched_got, _ = _pairs(got, ref_lo)
    matched_ref, pairs = _pairs(ref, got_lo)
    box_diff = max((float(np.abs(ref.boxes[i] - got_lo.boxes[j]).max()) for i, j in pairs), default=0.0)
    score_diff = max((abs(float(ref.scores[i]) - float(got_lo.scores[j])) for i, j in pairs), default=0.0)
    h, w = image.shape[:2]
    scale = max(h / imgsz, w / imgsz)  # one input pixel of the letterboxed image, in pixels of the image
    return DetectorCheck(
        label,
        len(got),
        len(ref),
        matched_got,
        matched_ref,
        image=name,
        box_max_diff=box_diff,
        score_max_diff=score_diff,
        box_atol=box_tol * scale,
        score_atol=score_tol,
        conf=conf,
        tried=tuple(tried),
    )


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
    images: Images | None = None,
) -> ExportResult:
    """What ``fpblur export`` does: export, then (ONNX only, unless ``verify`` is False) check that fpblur's
    detector loads the file and finds the same boxes and scores as the ``.pt`` weights on an image where they find
    something (:func:`check_detector`), and compare the raw outputs with torch's on that image
    (:func:`verify_onnx`).

    Args:
        weights: the ``.pt`` checkpoint.
        format, imgsz, half, dynamic, opset, device, output, verbose: see :func:`export`.
        verify: run the checks.
        conf: score threshold of the detector check.
        box_atol, score_atol: see :func:`verify_onnx`.
        images: images to verify on instead of fpblur's samples (see :func:`load_samples`).

    Returns:
        The :class:`ExportResult` (``ok`` False when a check failed, or when the ``.pt`` weights found nothing on
        any image, so that nothing was compared).

    Raises:
        FileNotFoundError, ValueError, fpblur.core.files.InputError: see :func:`export`; also a missing or
            unreadable image of ``images`` (checked before exporting).
    """
    path = _check_weights(weights)
    if images:
        load_samples(images)  # a wrong path fails now, not after the export
    imgsz = int(imgsz or default_imgsz(path))
    exported = export(
        path, format, imgsz, half=half, dynamic=dynamic, opset=opset, device=device, output=output, verbose=verbose
    )
    if format != "onnx" or not verify:
        return ExportResult(path, exported, format, imgsz)
    label = model_label(path)
    candidates = load_samples(images) if images else default_samples(label)
    detector = check_detector(
        path, exported, imgsz, conf, label, candidates, half=half, box_atol=box_atol, score_atol=score_atol
    )
    # the raw outputs on the image the detector check used (the first one when the model found nothing)
    name, image = next((c for c in candidates if c[0] == detector.image), candidates[0])
    report = verify_onnx(path, exported, imgsz, half, box_atol, score_atol, image=image, image_name=name)
    return ExportResult(path, exported, format, imgsz, report, detector)
