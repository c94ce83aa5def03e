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

import inspect
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from fpblur.redact.anonymizer import regions_for
from fpblur.core.detections import Detections
from fpblur.detect.base import check_image
from fpblur.config.spec import DEFAULT_CONF, DetectorSpec
from fpblur.detect.factory import build_detector
from fpblur.detect.yolo_torch import label_from_class_name
from fpblur.training.eval.datasets import LabelledSet, load_dataset
from fpblur.training.eval.log import DEFAULT_LOG, append_row
from fpblur.training.eval.metrics import BUCKET_NAMES, EvalResult, evaluate as privacy_evaluate, match_image, pr_curve
from fpblur.training.eval.wider import wider_ap
from fpblur.core.files import atomic_output

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
SWEEP_CONF_YOLO = 0.001
SWEEP_CONF_OTHER = 0.01
TARGETS = ("face", "plate")


@dataclass
class EvalRun:
    """Everything one evaluation produced (``row`` is what went into the CSV log)."""

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
    """``{class id: name}`` of a ``.pt`` / ``.onnx`` YOLO weights file."""
    from fpblur.models.offline import import_ultralytics

    return {int(k): str(v) for k, v in import_ultralytics().YOLO(str(weights), task="detect").names.items()}


def target_of_names(names: Any) -> str | None:
    """The first target (face, then plate) that one of the class ``names`` stands for."""
    found = {label_from_class_name(n) for n in names}
    return next((t for t in TARGETS if t in found), None)


def model_target(model: str | os.PathLike) -> str | None:
    """The target a model name implies: a registry model's target, or a YOLO file's class names."""
    from fpblur.models.registry import REGISTRY

    name = str(model)
    if name in REGISTRY:
        return REGISTRY[name].target
    path = Path(name)
    if path.suffix.lower() in (".pt", ".onnx") and path.is_file():
        return target_of_names(model_class_names(path).values())
    return None


def target_class_ids(names: Sequence[str], target: str) -> set[int] | None:
    """Class ids of a dataset's ``names`` that are ground truth for ``target``: the classes named after it
    (:func:`~fpblur.detect.yolo_torch.label_from_class_name`, the detectors' rule), or when none is, every class
    not named after the other target.  None: keep every class (no names, or all of them qualify)."""
    labels = [label_from_class_name(n) for n in names]
    keep = {i for i, lab in enumerate(labels) if lab == target} or {i for i, lab in enumerate(labels) if lab is None}
    return None if not names or len(keep) == len(names) else keep


def infer_target(model: Any, dataset: LabelledSet, target: str | None = None) -> str:
    """``target`` if given, else from the dataset (class names, WIDER flags), else from the model."""
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
        if found:
            return found
    label = getattr(model, "label", None)
    if label in TARGETS:
        return label
    raise ValueError("cannot tell whether this is a face or a plate evaluation; pass target (--target face|plate)")


def model_spec(model: str | os.PathLike, target: str, conf: float | None = None, iou: float | None = None,
               imgsz: int | Sequence[int] | None = None, device: str | None = None, half: bool = False,
               scales: Sequence | None = None, max_side: int | None = None) -> DetectorSpec:
    """``centerface`` / ``plate-yolov8n`` / ``default`` → the registry model; otherwise a weights path.

    Settings left None take the default profile's values, as in ``fpblur image``.  A weights file with classes
    of both targets keeps the other target's label on those classes (so they can be filtered out).
    """
    from fpblur.models.registry import REGISTRY

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
        others = {cid: lab for cid, n in model_class_names(name).items()
                  if (lab := label_from_class_name(n)) not in (None, target)}
        class_map = others or None
    if isinstance(imgsz, (list, tuple)):
        imgsz = tuple(int(s) for s in imgsz) or None
    return DetectorSpec(target=target, weights=weights, conf=conf, iou=iou, imgsz=imgsz, device=device, half=half,
                        scales=tuple(scales) if scales else None, max_side=max_side, class_map=class_map)


def model_display_name(model: Any) -> str:
    from fpblur.models.registry import REGISTRY

    if isinstance(model, (str, os.PathLike)):
        name = str(model)
        if name in REGISTRY or name == "default":
            return name
        p = Path(name)
        # runs/train/face/weights/best.pt → face/best.pt
        return f"{p.parent.parent.name}/{p.name}" if p.parent.name == "weights" else p.name
    return type(model).__name__


def is_yolo_detector(detector: Any) -> bool:
    """Whether a detector object runs YOLO weights (PyTorch or ONNX Runtime, one size or several merged)."""
    from fpblur.detect.multipass import MultiDetector
    from fpblur.detect.yolo_onnx import OnnxYoloDetector
    from fpblur.detect.yolo_torch import YoloDetector

    if isinstance(detector, MultiDetector):
        return all(is_yolo_detector(m) for m in detector.members)
    return isinstance(detector, (YoloDetector, OnnxYoloDetector))


# -- running the detector --------------------------------------------------------------------------------
def load_image(path: Path) -> np.ndarray:
    from fpblur.media.images import read_image

    return check_image(read_image(path).pixels)


def detect_at(detector: Any, image: np.ndarray, conf: float | None) -> Detections:
    """``detector.detect(image, conf=conf)`` when its ``detect`` takes ``conf``, else ``detector(image)``."""
    fn = getattr(detector, "detect", None)
    if conf is not None and fn is not None and _takes_conf(fn):
        return fn(image, conf=conf)
    return detector(image)


def _takes_conf(fn: Callable) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return "conf" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def predict(detector: Any, images: Sequence[Path], conf: float | None,
            progress: Callable[[int, int], None] | None = None) -> tuple[list[Detections], list[tuple[int, int]]]:
    """Detections at ``conf`` and ``(height, width)`` for every image."""
    dets, shapes = [], []
    for i, path in enumerate(images):
        img = load_image(path)
        dets.append(detect_at(detector, img, conf))
        shapes.append(img.shape[:2])
        if progress:
            progress(i + 1, len(images))
    return dets, shapes


def time_detector(detector: Any, images: Sequence[Path], conf: float | None, n: int = 20) -> float:
    """Mean milliseconds per image of ``detector`` at ``conf`` over the first ``n`` images (one warm-up run)."""
    imgs = [load_image(p) for p in list(images)[:max(1, n)]]
    if not imgs:
        return float("nan")
    detect_at(detector, imgs[0], conf)
    t0 = time.perf_counter()
    for img in imgs:
        detect_at(detector, img, conf)
    return (time.perf_counter() - t0) * 1000 / len(imgs)


# -- metrics -----------------------------------------------------------------------------------------------
def match_predictions(gt: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                      thresholds: np.ndarray = IOU_THRESHOLDS) -> np.ndarray:
    """``D×T`` correct matrix, as ``ultralytics.engine.validator.BaseValidator.match_predictions`` (greedy).

    Detections are taken best score first; at each IoU threshold a detection takes the unclaimed GT box it
    overlaps most and is correct when that IoU reaches the threshold.
    """
    from fpblur.core.boxes import iou_matrix

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


def ultralytics_metrics(dets: Sequence[Detections], gts: Sequence[np.ndarray], label: str,
                        ignore: Sequence[np.ndarray] | None = None, save_dir: Path | None = None) -> dict[str, float]:
    """``{"P", "R", "mAP50", "mAP50-95"}`` from Ultralytics' ``DetMetrics`` (plots its curves into ``save_dir``)."""
    from fpblur.models.offline import import_ultralytics

    import_ultralytics()
    from ultralytics.utils.metrics import DetMetrics

    metrics = DetMetrics(names={0: label})
    for i, (d, g) in enumerate(zip(dets, gts)):
        g = np.asarray(g, np.float64).reshape(-1, 4)
        if ignore is not None and len(ignore[i]):
            g = g[~np.asarray(ignore[i], bool)]
        boxes, scores = d.boxes.astype(np.float64), d.scores.astype(np.float64)
        metrics.update_stats({
            "tp": match_predictions(g, boxes, scores),
            "conf": scores,
            "pred_cls": np.zeros(len(boxes)),
            "target_cls": np.zeros(len(g)),
            "target_img": np.zeros(1 if len(g) else 0),
            "im_name": str(i),
        })
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
    metrics.process(save_dir=save_dir or Path("."), plot=save_dir is not None)
    p, r, map50, map5095 = (float(v) for v in metrics.mean_results())
    return {"P": p, "R": r, "mAP50": map50, "mAP50-95": map5095}


def regions_at(dets: Sequence[Detections], shapes: Sequence[tuple[int, int]], conf: float,
               pad: float | None) -> list[Detections]:
    """The areas the anonymizer would blur: detections at ``conf``, padded by ``pad``, clipped."""
    return [regions_for(d.filter(min_score=conf), pad, w, h) for d, (h, w) in zip(dets, shapes)]


# -- the whole evaluation --------------------------------------------------------------------------------
def evaluate_model(
    model: Any,
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
    sweep_conf: float | None = None,
    max_images: int | None = None,
    timing_images: int = 20,
    out_dir: str | os.PathLike | None = "runs/eval",
    name: str | None = None,
    log: str | os.PathLike | None = DEFAULT_LOG,
    plots: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> EvalRun:
    """Evaluate ``model`` on ``data`` and append a row to ``log`` (None: no log).

    ``model``: ``"centerface"``, ``"plate-yolov8n"``, ``"default"`` (the default model of ``target``), a
    ``.pt``/``.onnx`` weights path, or any detector object (``detector(image_bgr) -> Detections``).
    ``data``: a ``labels.json`` folder, a YOLO data YAML or folder (``split``), or a :class:`LabelledSet`.
    ``conf``: operating threshold (default: fpblur's default for the target).  ``imgsz``, ``scales``, ``iou``,
    ``max_side`` left None take the default profile's values (what ``fpblur image`` runs).  On a YOLO dataset
    whose classes name both targets, only the target's classes are ground truth.  Outputs go to
    ``out_dir/name`` (default name ``<model>_<dataset>``): ``metrics.json``, ``pr_curve.csv``, ``PR_curve.png``
    and Ultralytics' curve plots.
    """
    dataset = data if isinstance(data, LabelledSet) else load_dataset(data, split=split)
    dataset = dataset.head(max_images)
    if not len(dataset):
        raise ValueError(f"{dataset.root}: no images to evaluate")
    target = infer_target(model, dataset, target)
    keep = target_class_ids(dataset.names, target)
    if keep is not None and dataset.classes is not None:
        dataset = dataset.only_classes(keep)
    conf = DEFAULT_CONF[target] if conf is None else float(conf)
    if isinstance(model, (str, os.PathLike)):
        spec = model_spec(model, target, conf, iou, imgsz, device, half, scales, max_side)
        detector = build_detector(spec)
        yolo = not spec.uses_centerface
        imgsz_cell = "+".join(map(str, spec.effective_imgsz)) if yolo else ""
    else:
        detector = model
        yolo = is_yolo_detector(detector)
        sizes = [m.imgsz for m in getattr(detector, "members", [detector]) if hasattr(m, "imgsz")]
        imgsz_cell = "+".join(map(str, sizes)) if yolo else ""
    if sweep_conf is None:
        sweep_conf = SWEEP_CONF_YOLO if yolo else SWEEP_CONF_OTHER
    sweep_conf = min(float(sweep_conf), conf)

    dets, shapes = predict(detector, dataset.images, sweep_conf, progress)
    dets = [d.filter(label=target) for d in dets]  # a two-class YOLO model labels the other target's classes
    ignore = dataset.ignore_masks()
    regions = regions_at(dets, shapes, conf, pad)
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
    """``metrics.json`` (row, per-bucket numbers, WIDER APs), ``pr_curve.csv`` and ``PR_curve.png``."""
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
        np.savetxt(tmp, np.stack([recall, precision], 1), delimiter=",", header="recall,precision",
                   comments="", fmt="%.6f")
    if plots:
        from fpblur.training.eval.plots import close, plot_pr_curves

        close(plot_pr_curves({run.row["model"]: run.pr}, out=run_dir / "PR_curve.png",
                             title=f"{run.row['dataset']}: PR at IoU 0.5"))
