"""Evaluate any detector fpblur can load on a labelled dataset; log one CSV row; save PR curves.

One detection pass per image at a low *sweep* threshold gives everything:

* **Ultralytics validation metrics** — P, R (at the max-F1 threshold), mAP50, mAP50-95 — computed by
  ``ultralytics.utils.metrics.DetMetrics`` (the code ``yolo val`` uses) from fpblur's detections, matched to
  ground truth the way ``BaseValidator.match_predictions`` does (greedy, 10 IoU thresholds 0.50:0.95).  The same
  code therefore scores trained YOLO weights, the default CenterFace model and the default plate model alike.
  It also draws Ultralytics' ``BoxPR_curve.png`` / ``BoxF1_curve.png`` / ``BoxP_curve.png`` / ``BoxR_curve.png``.
* **fpblur's privacy metrics** (:mod:`fpblur.training.eval.metrics`) at the operating threshold ``conf``: VOC AP@0.5,
  recall, precision, false positives per image and coverage recall of the padded regions the anonymizer would
  blur (overall and per box-height bucket); WIDER easy/medium/hard AP when the dataset has WIDER flags.
  Boxes flagged ``invalid`` are ignore regions there (and are left out of the Ultralytics metrics).

Since greedy NMS keeps a box only when no higher-scoring box suppresses it, the boxes kept at ``conf`` are the
sweep boxes with ``score >= conf``: exactly so with plain NMS (YOLO models, the default plate model's merged
sizes).  With box voting (the default profile's CenterFace passes) each kept box is the score-weighted mean of
the candidates that overlap it, and in the sweep pass candidates under ``conf`` vote too, so the operating-point
boxes are the sweep boxes' scores filtered at ``conf`` with slightly different coordinates than a run at
``conf`` would give (low-score voters weigh little: ``score ** 4``).  The sweep threshold is 0.001 for YOLO
models (as ``yolo val``) and 0.01 for CenterFace (it returns thousands of boxes per image below that).
``ms_per_img`` is timed separately at ``conf`` on the first ``timing_images`` images, after one warm-up run.

The detector is the one ``fpblur image`` runs: every setting left ``None`` (``imgsz``, ``scales``, ``iou``…)
takes the default profile's value (:class:`~fpblur.detect.factory.DetectorSpec`).  On YOLO datasets with
several classes, only the classes named after the target count as ground truth.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from fpblur.config.settings import resolve_config
from fpblur.config.spec import DetectorSpec
from fpblur.core.boxes import iou_matrix
from fpblur.core.detections import Detections
from fpblur.core.files import atomic_output
from fpblur.core.labels import label_from_class_name
from fpblur.detect.base import Detector, as_detector, check_image
from fpblur.detect.factory import build_detector
from fpblur.media.images import read_image
from fpblur.models.offline import import_ultralytics
from fpblur.models.registry import REGISTRY
from fpblur.redact.anonymizer import regions_for
from fpblur.training.eval.datasets import LabelledSet, load_dataset
from fpblur.training.eval.log import DEFAULT_LOG, append_row
from fpblur.training.eval.metrics import BUCKET_NAMES, EvalResult, match_image, pr_curve
from fpblur.training.eval.metrics import evaluate as privacy_evaluate
from fpblur.training.eval.plots import close, plot_pr_curves
from fpblur.training.eval.wider import wider_ap

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
SWEEP_CONF_YOLO = 0.001
SWEEP_CONF_OTHER = 0.01
TARGETS = ("face", "plate")


@dataclass
class EvalRun:
    """Everything one evaluation produced.

    Attributes:
        row: what went into the CSV log (:data:`~fpblur.training.eval.log.COLUMNS`).
        result: fpblur's privacy metrics at the operating threshold.
        wider: WIDER easy/medium/hard/all AP (None without WIDER flags).
        ultralytics: ``P``, ``R``, ``mAP50``, ``mAP50-95`` from Ultralytics' ``DetMetrics``.
        pr: the pooled ``(recall, precision)`` curve at IoU 0.5.
        dataset: the evaluated images and ground truth.
        detections: per image, the sweep-threshold detections (pixels).
        out_dir: where the run's files went (None: nowhere).
        log_path: the CSV log the row was appended to (None: not logged).
    """

    row: dict[str, Any]
    result: EvalResult
    wider: dict[str, float] | None
    ultralytics: dict[str, float]
    pr: tuple[np.ndarray, np.ndarray]
    dataset: LabelledSet
    detections: list[Detections] = field(repr=False, default_factory=list)
    out_dir: Path | None = None
    log_path: Path | None = None

    def at_conf(self, i: int) -> Detections:
        """Detections of image ``i`` at the operating threshold (the sweep detections with score >= conf)."""
        return self.detections[i].filter(min_score=float(self.row["conf"]))


# -- models ----------------------------------------------------------------------------------------------
def model_class_names(weights: str | os.PathLike) -> dict[int, str]:
    """``{class id: name}`` of a ``.pt`` / ``.onnx`` YOLO weights file, read by loading it with Ultralytics."""
    return {int(k): str(v) for k, v in import_ultralytics().YOLO(str(weights), task="detect").names.items()}


def target_of_names(names: Any) -> str | None:
    """The first target (face, then plate) that one of the class ``names`` stands for
    (:func:`~fpblur.core.labels.label_from_class_name`); None when none does.
    """
    found = {label_from_class_name(n) for n in names}
    return next((t for t in TARGETS if t in found), None)


def model_target(model: str | os.PathLike) -> str | None:
    """The target a model implies: a registry model's target, or a ``.pt``/``.onnx`` file's class names; None
    when neither tells (e.g. ``default``).
    """
    name = str(model)
    if name in REGISTRY:
        return REGISTRY[name].target
    path = Path(name)
    if path.suffix.lower() in (".pt", ".onnx") and path.is_file():
        return target_of_names(model_class_names(path).values())
    return None


def target_class_ids(names: Sequence[str], target: str) -> set[int] | None:
    """Class ids of a dataset's ``names`` that are ground truth for ``target``.

    Returns:
        The classes named after ``target`` (:func:`~fpblur.core.labels.label_from_class_name`, the detectors'
        rule), or when none is, every class not named after the other target; None to keep every class (no
        names, or all of them qualify).
    """
    labels = [label_from_class_name(n) for n in names]
    keep = {i for i, lab in enumerate(labels) if lab == target} or {i for i, lab in enumerate(labels) if lab is None}
    return None if not names or len(keep) == len(names) else keep


def infer_target(model: str | os.PathLike | Detector, dataset: LabelledSet, target: str | None = None) -> str:
    """``target`` if given, else from the dataset (class names, WIDER flags), else from the model.

    Args:
        model: a model name or weights path (its registry entry or class names tell), or a detector (its first
            label, :attr:`~fpblur.detect.base.Detector.labels`).
        dataset: the evaluation data.
        target: ``"face"`` or ``"plate"``, when known.

    Raises:
        ValueError: unknown ``target``, or nothing tells the target.
    """
    if target:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r}; expected face or plate")
        return target
    found = target_of_names(dataset.names)
    if found:
        return found
    if dataset.has_wider_flags:  # easy/medium/hard subsets only exist for WIDER FACE
        return "face"
    if isinstance(model, (str, os.PathLike)):
        found = model_target(model)
    else:
        found = model.labels[0] if model.labels and model.labels[0] in TARGETS else None
    if found:
        return found
    raise ValueError("cannot tell whether this is a face or a plate evaluation; pass target (--target face|plate)")


def model_spec(
    model: str | os.PathLike,
    target: str,
    conf: float | None = None,
    iou: float | None = None,
    imgsz: int | Sequence[int] | None = None,
    device: str | None = None,
    half: bool = False,
    scales: Sequence | None = None,
    max_side: int | None = None,
) -> DetectorSpec:
    """The :class:`DetectorSpec` of a model name for ``target``: ``centerface`` / ``plate-yolov8n`` / ``default`` →
    the registry model; otherwise a weights path.

    Settings left None take the default profile's values, as in ``fpblur image``.  A weights file with classes
    of both targets keeps the other target's label on those classes (so they can be filtered out).

    Args:
        model: a registry name, ``default`` or a ``.pt``/``.onnx`` path.
        target: ``"face"`` or ``"plate"``.
        conf, iou: thresholds; imgsz: inference size(s) in pixels; device, half: YOLO's device and FP16.
        scales: CenterFace passes; max_side: cap on CenterFace's long side in pixels.

    Raises:
        ValueError: a registry model for the other target.
        FileNotFoundError: a weights path that is not a file.
    """
    name = str(model)
    weights = None
    class_map = None
    if name in REGISTRY:
        if REGISTRY[name].target != target:
            raise ValueError(f"model {name!r} detects {REGISTRY[name].target}s, not {target}s")
    elif name != "default":
        if not Path(name).is_file():
            raise FileNotFoundError(f"{name}: model weights not found (or use centerface, plate-yolov8n, default)")
        weights = name
        others = {
            cid: lab
            for cid, n in model_class_names(name).items()
            if (lab := label_from_class_name(n)) not in (None, target)
        }
        class_map = others or None
    if isinstance(imgsz, (list, tuple)):
        imgsz = tuple(int(s) for s in imgsz) or None
    return DetectorSpec(
        target=target,
        weights=weights,
        conf=conf,
        iou=iou,
        imgsz=imgsz,
        device=device,
        half=half,
        scales=tuple(scales) if scales else None,
        max_side=max_side,
        class_map=class_map,
    )


def model_display_name(model: Any) -> str:
    """The model's name in the log: a registry name or ``default`` as is, a weights path as its file name
    (``runs/train/face/weights/best.pt`` → ``face/best.pt``), a detector as its class name.
    """
    if isinstance(model, (str, os.PathLike)):
        name = str(model)
        if name in REGISTRY or name == "default":
            return name
        p = Path(name)
        # runs/train/face/weights/best.pt → face/best.pt
        return f"{p.parent.parent.name}/{p.name}" if p.parent.name == "weights" else p.name
    return type(model).__name__


def is_yolo_detector(detector: Detector) -> bool:
    """Whether ``detector`` runs YOLO weights (PyTorch or ONNX Runtime, one size or several merged): its
    :attr:`~fpblur.detect.base.Detector.backend` says so.
    """
    return detector.backend == "yolo"


# -- running the detector --------------------------------------------------------------------------------
def load_image(path: Path) -> np.ndarray:
    """The image at ``path`` as ``fpblur image`` reads it: upright (EXIF applied), as a detector input (BGR uint8).

    Raises:
        InputError: the file cannot be read or decoded.
    """
    return check_image(read_image(path).pixels)


def predict(
    detector: Detector, images: Sequence[Path], conf: float | None, progress: Callable[[int, int], None] | None = None
) -> tuple[list[Detections], list[tuple[int, int]]]:
    """Run ``detector`` on every image file, one at a time.

    Args:
        detector: the detector (a wrapped plain callable ignores ``conf``: it has its own threshold).
        images: image files (read upright, as ``fpblur image`` does).
        conf: score threshold (None: the detector's own).
        progress: called with ``(done, total)`` after each image.

    Returns:
        ``(detections, shapes)``: per image, Detections in its pixels and its ``(height, width)``.
    """
    dets, shapes = [], []
    for i, path in enumerate(images):
        img = load_image(path)
        dets.append(detector.detect(img, conf))
        shapes.append(img.shape[:2])
        if progress:
            progress(i + 1, len(images))
    return dets, shapes


def time_detector(detector: Detector, images: Sequence[Path], conf: float | None, n: int = 20) -> float:
    """Mean wall-clock milliseconds per image of ``detector`` at ``conf`` (None: its own) over the first ``n``
    images, after one warm-up run; NaN without images.
    """
    imgs = [load_image(p) for p in list(images)[: max(1, n)]]
    if not imgs:
        return float("nan")
    detector.detect(imgs[0], conf)
    t0 = time.perf_counter()
    for img in imgs:
        detector.detect(img, conf)
    return (time.perf_counter() - t0) * 1000 / len(imgs)


# -- metrics -----------------------------------------------------------------------------------------------
def match_predictions(
    gt: np.ndarray, boxes: np.ndarray, scores: np.ndarray, thresholds: np.ndarray = IOU_THRESHOLDS
) -> np.ndarray:
    """``D×T`` boolean "correct" matrix, as ``ultralytics.engine.validator.BaseValidator.match_predictions``
    (greedy).

    Detections are taken best score first; at each IoU threshold a detection takes the unclaimed GT box it
    overlaps most and is correct when that IoU reaches the threshold.

    Args:
        gt: M×4 GT boxes, pixels.
        boxes: D×4 detections, pixels; scores: D scores.
        thresholds: the T IoU thresholds (default 0.50:0.05:0.95).

    Returns:
        D×T bool, rows in the detections' original order.
    """
    order = np.argsort(-scores, kind="stable")
    correct = np.zeros((len(boxes), len(thresholds)), bool)
    if not len(gt) or not len(boxes):
        return correct
    iou = iou_matrix(gt, boxes[order])  # L×D, detections by descending score
    matched = np.zeros((len(gt), len(thresholds)), bool)
    cols = range(len(thresholds))
    sorted_correct = np.zeros_like(correct)
    for j in np.flatnonzero((iou >= thresholds.min()).any(0)):
        available = np.where(matched, 0, iou[:, j, None])
        k = available.argmax(0)
        sorted_correct[j] = available[k, cols] >= thresholds
        matched[k, cols] |= sorted_correct[j]
    correct[order] = sorted_correct
    return correct


def ultralytics_metrics(
    dets: Sequence[Detections],
    gts: Sequence[np.ndarray],
    label: str,
    ignore: Sequence[np.ndarray] | None = None,
    save_dir: Path | None = None,
) -> dict[str, float]:
    """P, R (at the max-F1 threshold), mAP50 and mAP50-95 from Ultralytics' ``DetMetrics`` (the code
    ``yolo val`` uses), on fpblur's detections matched by :func:`match_predictions`.

    Args:
        dets: per image, the detections (one class).
        gts: per image, M×4 GT boxes in pixels.
        label: the class name for Ultralytics.
        ignore: per image, GT boxes to leave out (ignore regions).
        save_dir: where Ultralytics draws its PR/F1/P/R curve plots (None: no plots).

    Returns:
        ``{"P", "R", "mAP50", "mAP50-95"}`` as floats in [0, 1].
    """
    import_ultralytics()
    from ultralytics.utils.metrics import DetMetrics  # optional: [train] extra

    metrics = DetMetrics(names={0: label})
    for i, (d, g) in enumerate(zip(dets, gts)):
        g = np.asarray(g, np.float64).reshape(-1, 4)
        if ignore is not None and len(ignore[i]):
            g = g[~np.asarray(ignore[i], bool)]
        boxes, scores = d.boxes.astype(np.float64), d.scores.astype(np.float64)
        metrics.update_stats(
            {
                "tp": match_predictions(g, boxes, scores),
                "conf": scores,
                "pred_cls": np.zeros(len(boxes)),
                "target_cls": np.zeros(len(g)),
                "target_img": np.zeros(1 if len(g) else 0),
                "im_name": str(i),
            }
        )
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    metrics.process(save_dir=save_dir or Path("."), plot=save_dir is not None)
    p, r, map50, map5095 = (float(v) for v in metrics.mean_results())
    return {"P": p, "R": r, "mAP50": map50, "mAP50-95": map5095}


def regions_at(
    dets: Sequence[Detections],
    shapes: Sequence[tuple[int, int]],
    conf: float,
    pad: float | dict[str, float] | None,
    pad_by_width: float | Mapping[str, float] | None = None,
) -> list[Detections]:
    """The areas the anonymizer would blur: detections at ``conf``, padded by ``pad`` (one fraction of the box
    size per side, one per label, or None for the default profile's) and ``pad_by_width``
    (:func:`~fpblur.redact.anonymizer.regions_for`), clipped to each image (``shapes``: height, width in pixels).
    """
    return [regions_for(d.filter(min_score=conf), pad, w, h, pad_by_width) for d, (h, w) in zip(dets, shapes)]


# -- the whole evaluation --------------------------------------------------------------------------------
def evaluate_model(
    model: str | os.PathLike | Detector | Callable[[np.ndarray], Detections],
    data: str | os.PathLike | LabelledSet,
    *,
    target: str | None = None,
    split: str = "val",
    conf: float | None = None,
    iou: float | None = None,
    imgsz: int | Sequence[int] | None = None,
    pad: float | None = None,
    device: str | None = None,
    half: bool = False,
    scales: Sequence | None = None,
    max_side: int | None = None,
    profile: str | None = None,
    sweep_conf: float | None = None,
    max_images: int | None = None,
    timing_images: int = 20,
    out_dir: str | os.PathLike | None = "runs/eval",
    name: str | None = None,
    log: str | os.PathLike | None = DEFAULT_LOG,
    plots: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> EvalRun:
    """Evaluate ``model`` on ``data``; save the run's files and append a row to the CSV log.

    One detection pass at a low sweep threshold gives every number (see the module docstring): Ultralytics'
    validation metrics (``DetMetrics``), fpblur's privacy metrics at ``conf`` (VOC all-point AP@0.5, recall,
    precision, FP/img, coverage recall of the padded regions, per box-height bucket) and, with WIDER flags, the
    WIDER FACE easy/medium/hard AP (Yang et al. 2016's ignore rules).

    Args:
        model: ``"centerface"``, ``"plate-yolov8n"``, ``"default"`` (the default model of ``target``), a
            ``.pt``/``.onnx`` weights path, a :class:`~fpblur.detect.base.Detector`, or a plain
            ``callable(image_bgr) -> Detections`` (wrapped by :func:`~fpblur.detect.base.as_detector`; it keeps its
            own threshold, so the sweep sees only what it returns, and ``target`` must come from the data or the
            argument).
        data: a ``labels.json`` folder, a YOLO data YAML or folder (``split``), or a :class:`LabelledSet`.  On a
            YOLO dataset whose classes name both targets, only the target's classes are ground truth.
        target: ``"face"`` or ``"plate"`` (default: from the data, else the model; :func:`infer_target`).
        split: the split of a YOLO dataset.
        conf: the operating threshold.  ``conf``, ``iou``, ``imgsz`` (pixels), ``scales``, ``max_side`` (pixels)
            and ``pad`` (fraction of the box size per side) left None take the values of ``profile`` (default:
            the default profile), resolved by :func:`fpblur.config.settings.resolve_config` as for
            ``fpblur image``.
        device, half: YOLO's device and FP16.
        profile: the profile name.
        sweep_conf: threshold of the detection pass (default 0.001 for YOLO, 0.01 otherwise; never above
            ``conf``).
        max_images: evaluate only the first N images.
        timing_images: images timed for ``ms_per_img`` (0: not timed).
        out_dir: outputs go to ``out_dir/name``: ``metrics.json``, ``pr_curve.csv``, ``PR_curve.png`` and
            Ultralytics' curve plots (None: no files).
        name: the run folder's name (default ``<model>_<dataset>``).
        log: the CSV log to append to (None: no log).
        plots: draw the figures.
        progress: called with ``(done, total)`` after each image.

    Returns:
        The :class:`EvalRun`.

    Raises:
        ValueError: no images, an unknown or undeterminable target, a registry model for the other target, or
            options the resolver refuses.
        FileNotFoundError: data, weights or labelled images that do not exist (checked before the model runs;
            one line, ``PATH: no such file or folder`` for the data).
    """
    dataset = data if isinstance(data, LabelledSet) else load_dataset(data, split=split)
    dataset = dataset.head(max_images)
    if not len(dataset):
        raise ValueError(f"{dataset.root}: no images to evaluate")
    missing = [p for p in dataset.images if not Path(p).is_file()]
    if missing:  # checked before any model is loaded or run
        raise FileNotFoundError(
            f"{missing[0]}: no such file ({len(missing)} of the {len(dataset)} images of {dataset.root} are missing)"
        )
    given = None if isinstance(model, (str, os.PathLike)) else as_detector(model)
    target = infer_target(model if given is None else given, dataset, target)
    keep = target_class_ids(dataset.names, target)
    if keep is not None and dataset.classes is not None:
        dataset = dataset.only_classes(keep)
    # the one resolver, as fpblur image: the profile's threshold, detector settings and padding unless given
    override = (
        model_spec(model, target, conf, iou, imgsz, device, half, scales, max_side) if given is None else {"conf": conf}
    )
    config = resolve_config(profile, targets=(target,), detectors={target: override}, pad=pad)
    spec = config.spec(target)
    conf = float(spec.effective_conf)
    if given is None:
        detector = build_detector(spec)
        yolo = not spec.uses_centerface
        imgsz_cell = "+".join(map(str, spec.effective_imgsz)) if yolo else ""
    else:
        detector = given
        yolo = is_yolo_detector(detector)
        imgsz_cell = "+".join(map(str, detector.input_sizes)) if yolo else ""
    if sweep_conf is None:
        sweep_conf = SWEEP_CONF_YOLO if yolo else SWEEP_CONF_OTHER
    sweep_conf = min(float(sweep_conf), conf)

    dets, shapes = predict(detector, dataset.images, sweep_conf, progress)
    dets = [d.filter(label=target) for d in dets]  # a two-class YOLO model labels the other target's classes
    ignore = dataset.ignore_masks()
    regions = regions_at(dets, shapes, conf, config.redact.pad, config.redact.pad_by_width)
    result = privacy_evaluate(dets, dataset.gts, ignore=ignore, regions=regions, threshold=conf)
    wider = wider_ap(dets, dataset.gts, dataset.flags) if dataset.has_wider_flags else None
    ignores = ignore if ignore is not None else [None] * len(dets)
    matches = [match_image(d, g, ig) for d, g, ig in zip(dets, dataset.gts, ignores)]
    recall, precision, _scores = pr_curve(matches)

    model_name = model_display_name(model)
    run_dir = None
    if out_dir is not None:
        stem = model_name.replace("/", "_").replace(".", "_")
        run_dir = Path(out_dir) / (name or f"{stem}_{dataset.name or 'data'}")
        run_dir.mkdir(parents=True, exist_ok=True)
    ultra = ultralytics_metrics(dets, dataset.gts, target, ignore, run_dir if (plots and run_dir) else None)
    ms = time_detector(detector, dataset.images, conf, timing_images) if timing_images else float("nan")

    row = dict(
        time=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        model=model_name,
        dataset=dataset.name or str(dataset.root),
        split=split if dataset.format == "yolo" else "",
        target=target,
        imgsz=imgsz_cell,
        conf=conf,
        n_images=len(dataset),
        n_boxes=result.n_gt,
        **ultra,
        AP50=result.ap,
        recall=result.recall,
        precision=result.precision,
        fp_per_img=result.fp_per_image,
        coverage=result.coverage,
        **{f"coverage_{b}": result.coverage_by_bucket.get(b, float("nan")) for b in BUCKET_NAMES},
        wider_easy=wider["easy"] if wider else None,
        wider_medium=wider["medium"] if wider else None,
        wider_hard=wider["hard"] if wider else None,
        ms_per_img=ms,
        device=str(device or ("auto" if yolo else "")),
    )
    run = EvalRun(row, result, wider, ultra, (recall, precision), dataset, dets, run_dir, None)
    if run_dir is not None:
        save_run(run, run_dir, plots)  # the run's files first: a logged row always has its folder
    if log is not None:
        run.log_path = append_row(row, log)
    return run


def save_run(run: EvalRun, run_dir: Path, plots: bool = True) -> None:
    """Write ``metrics.json`` (the row, per-bucket numbers, WIDER APs, Ultralytics' metrics; NaN as null),
    ``pr_curve.csv`` (recall, precision) and, with ``plots``, ``PR_curve.png`` into ``run_dir``, each atomically.
    """

    def clean(v):
        if isinstance(v, float) and np.isnan(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        return v

    info = {
        "row": clean(run.row),
        "recall_by_bucket": clean(run.result.recall_by_bucket),
        "coverage_by_bucket": clean(run.result.coverage_by_bucket),
        "n_gt_by_bucket": run.result.n_gt_by_bucket,
        "wider_ap": clean(run.wider) if run.wider else None,
        "ultralytics": clean(run.ultralytics),
    }
    with atomic_output(run_dir / "metrics.json") as tmp:
        tmp.write_text(json.dumps(info, indent=2))
    recall, precision = run.pr
    with atomic_output(run_dir / "pr_curve.csv") as tmp:
        np.savetxt(
            tmp, np.stack([recall, precision], 1), delimiter=",", header="recall,precision", comments="", fmt="%.6f"
        )
    if plots:
        close(
            plot_pr_curves(
                {run.row["model"]: run.pr}, out=run_dir / "PR_curve.png", title=f"{run.row['dataset']}: PR at IoU 0.5"
            )
        )
