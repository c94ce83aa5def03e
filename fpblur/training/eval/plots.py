"""Figures for training and evaluation (matplotlib, Agg-safe): training curves from ``results.csv``, PR curves,
coverage recall by box height, a metric comparison from the eval log, and a qualitative grid of predictions."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

from fpblur.core.files import atomic_output
from fpblur.training.eval.metrics import BUCKET_NAMES

LOSSES = ("box_loss", "cls_loss", "dfl_loss")
TRAIN_METRICS = ("metrics/precision(B)", "metrics/recall(B)", "metrics/mAP50(B)", "metrics/mAP50-95(B)")


def _save(fig, out: str | os.PathLike | None):
    if out is not None:
        with atomic_output(out) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    return fig


def _figure(ncols: int, nrows: int = 1, size: tuple[float, float] = (4.2, 3.2)):
    """A pyplot figure (shown inline in notebooks; close it with :func:`close` when only saving)."""
    import matplotlib.pyplot as plt  # optional: [train] extra

    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return fig, axes


def close(fig) -> None:
    """Close a pyplot figure (frees it when it was only saved)."""
    import matplotlib.pyplot as plt  # optional: [train] extra

    plt.close(fig)


def read_results(results_csv: str | os.PathLike):
    """Ultralytics' training ``results.csv`` as a DataFrame with stripped column names.

    Raises:
        FileNotFoundError: no such file.
    """
    import pandas as pd  # optional: [train] extra

    path = Path(results_csv)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no results.csv (is this a training run folder?)")
    df = pd.read_csv(path)
    df.columns = [c.strip() for c in df.columns]
    return df


def plot_training(results: str | os.PathLike | Mapping[str, object], out: str | os.PathLike | None = None):
    """Loss curves (train and val) and P/R/mAP per epoch of one or more Ultralytics runs.

    Args:
        results: a ``results.csv`` path (named after its run folder) or ``{name: results.csv}``.
        out: also save the figure there (PNG, atomically).

    Returns:
        The matplotlib figure.

    Raises:
        FileNotFoundError: a missing ``results.csv``.
    """
    runs = dict(results) if isinstance(results, Mapping) else {Path(results).parent.name: results}
    fig, axes = _figure(4, 1)
    for name, csv_path in runs.items():
        df = read_results(csv_path)
        x = df["epoch"] if "epoch" in df else np.arange(1, len(df) + 1)
        for ax, loss in zip(axes[0][:3], LOSSES):
            for split, style in (("train", "-"), ("val", "--")):
                col = f"{split}/{loss}"
                if col in df:
                    ax.plot(x, df[col], style, marker=".", label=f"{name} {split}")
            ax.set_title(loss)
            ax.set_xlabel("epoch")
        for col in TRAIN_METRICS:
            if col in df:
                axes[0][3].plot(x, df[col], marker=".", label=f"{name} {col.split('/')[1].replace('(B)', '')}")
    axes[0][3].set_title("validation metrics")
    axes[0][3].set_xlabel("epoch")
    axes[0][3].set_ylim(0, 1)
    for ax in axes[0]:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out)


def plot_pr_curves(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    out: str | os.PathLike | None = None,
    title: str = "precision-recall at IoU 0.5",
):
    """One PR curve per model, precision drawn as its monotone envelope (as VOC AP integrates it).

    Args:
        curves: ``{name: (recall, precision)}`` arrays (e.g. from :func:`~fpblur.training.eval.metrics.pr_curve`).
        out: also save the figure there.
        title: the axes' title.

    Returns:
        The matplotlib figure.
    """
    fig, axes = _figure(1, 1, (5.0, 4.0))
    ax = axes[0][0]
    for name, (recall, precision) in curves.items():
        recall, precision = np.asarray(recall, float), np.asarray(precision, float)
        if len(recall):
            envelope = np.maximum.accumulate(precision[::-1])[::-1]
            ax.plot(recall, envelope, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if curves:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def plot_coverage_by_size(
    coverage: Mapping[str, Mapping[str, float]],
    out: str | os.PathLike | None = None,
    title: str = "coverage recall by box height (px)",
):
    """Grouped bars of coverage recall per box-height bucket (pixels).

    Args:
        coverage: ``{model: {bucket: coverage}}`` over :data:`BUCKET_NAMES` (missing/empty/NaN drawn as 0).
        out: also save the figure there.
        title: the axes' title.

    Returns:
        The matplotlib figure.
    """
    fig, axes = _figure(1, 1, (6.0, 3.6))
    ax = axes[0][0]
    n = max(1, len(coverage))
    width = 0.8 / n
    xs = np.arange(len(BUCKET_NAMES))
    for i, (name, by_bucket) in enumerate(coverage.items()):
        vals = [by_bucket.get(b, np.nan) for b in BUCKET_NAMES]
        vals = [np.nan if v is None or v == "" else float(v) for v in vals]
        ax.bar(xs + (i - (n - 1) / 2) * width, np.nan_to_num(vals), width, label=name)
    ax.set_xticks(xs, BUCKET_NAMES)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("coverage recall")
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="y")
    if coverage:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(fig, out)


def coverage_from_log(df) -> dict[str, dict[str, float]]:
    """``{"model @ dataset": {bucket: coverage}}`` from eval-log rows (a DataFrame with ``coverage_<bucket>``
    columns; missing ones give NaN).
    """
    out = {}
    for _, r in df.iterrows():
        out[f"{r['model']} @ {r['dataset']}"] = {b: r.get(f"coverage_{b}", np.nan) for b in BUCKET_NAMES}
    return out


def plot_metric_comparison(
    df, metrics: Sequence[str] = ("mAP50", "mAP50-95", "recall", "coverage"), out: str | os.PathLike | None = None
):
    """Bars of ``metrics`` (eval-log columns) for each eval-log row, labelled ``model @ dataset``.

    Args:
        df: eval-log rows (:func:`~fpblur.training.eval.log.read_log`).
        metrics: columns to plot, one panel each (missing columns and NaN drawn as 0; ratios on a 0–1 axis).
        out: also save the figure there.

    Returns:
        The matplotlib figure.
    """
    fig, axes = _figure(len(metrics), 1, (3.4, 3.4))
    labels = [f"{m}\n@ {d}" for m, d in zip(df["model"], df["dataset"])]
    for ax, metric in zip(axes[0], metrics):
        vals = df[metric].astype(float).to_numpy() if metric in df else np.full(len(df), np.nan)
        ax.bar(range(len(df)), np.nan_to_num(vals), color=[f"C{i}" for i in range(len(df))])
        ax.set_xticks(range(len(df)), labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(metric)
        if metric != "fp_per_img" and metric != "ms_per_img":
            ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return _save(fig, out)


def draw_boxes(image: np.ndarray, gt: np.ndarray, pred, color_gt=(0, 200, 0), color_pred=(0, 0, 255)) -> np.ndarray:
    """Copy of a BGR ``image`` with GT boxes and predictions (with their scores) drawn.

    Args:
        image: H×W×3 uint8 BGR.
        gt: N×4 GT boxes, pixels.
        pred: :class:`Detections` (anything with ``boxes``/``scores``).
        color_gt, color_pred: BGR colours (default green and red).
    """
    out = image.copy()
    thick = max(1, round(max(image.shape[:2]) / 400))
    for x1, y1, x2, y2 in np.asarray(gt, float).reshape(-1, 4):
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), color_gt, thick)
    boxes = getattr(pred, "boxes", np.zeros((0, 4)))
    scores = getattr(pred, "scores", np.zeros(len(boxes)))
    for (x1, y1, x2, y2), s in zip(boxes, scores):
        cv2.rectangle(out, (int(x1), int(y1)), (int(x2), int(y2)), color_pred, thick)
        cv2.putText(
            out,
            f"{s:.2f}",
            (int(x1), max(10, int(y1) - 3)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.4 * thick,
            color_pred,
            thick,
            cv2.LINE_AA,
        )
    return out


def prediction_grid(
    images: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    preds: Sequence,
    cols: int = 4,
    cell: int = 320,
    titles: Sequence[str] | None = None,
    out: str | os.PathLike | None = None,
):
    """A grid figure of BGR images with GT (green) and predictions (red), each shrunk to at most ``cell`` pixels.

    Args:
        images: H×W×3 uint8 BGR images.
        gts: per image, N×4 GT boxes in pixels.
        preds: per image, :class:`Detections`.
        cols: panels per row.
        cell: longest side of a panel's image, pixels.
        titles: one per image (default: ``"<detections> det / <gt> gt"``).
        out: also save the figure there.

    Returns:
        The matplotlib figure.
    """
    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, (n + cols - 1) // cols)
    fig, axes = _figure(cols, rows, (3.2, 3.0))
    for ax in axes.flat:
        ax.axis("off")
    for i, (img, gt, pred) in enumerate(zip(images, gts, preds)):
        drawn = draw_boxes(img, gt, pred)
        scale = cell / max(drawn.shape[:2])
        if scale < 1:
            drawn = cv2.resize(drawn, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ax = axes.flat[i]
        ax.imshow(drawn[:, :, ::-1])
        ax.set_title(titles[i] if titles else f"{len(getattr(pred, 'boxes', []))} det / {len(gt)} gt", fontsize=8)
    fig.tight_layout()
    return _save(fig, out)
