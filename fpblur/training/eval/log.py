"""The evaluation log: one CSV row per ``fpblur eval`` run (default ``runs/eval_log.csv``).

Columns come in a fixed order (:data:`COLUMNS`); keys a row has beyond them are appended after them in the
order first seen.  The header is the file's first line and appears once.  When a row brings a column the file
does not have yet, the file is rewritten (atomically) with the wider header and the old rows keep blank cells
there; a row lacking some columns gets blank cells.  Reading back is :func:`read_log` (a pandas DataFrame).
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fpblur.core.files import atomic_output
from fpblur.training.eval.metrics import BUCKET_NAMES

DEFAULT_LOG = Path("runs") / "eval_log.csv"

#: Stable column order of the log.
COLUMNS: tuple[str, ...] = (
    "time",
    "model",
    "dataset",
    "split",
    "target",
    "imgsz",
    "conf",
    "n_images",
    "n_boxes",
    # Ultralytics' validation metrics (computed by ultralytics.utils.metrics on fpblur's detections)
    "P",
    "R",
    "mAP50",
    "mAP50-95",
    # fpblur's privacy metrics (fpblur.training.eval.metrics) at the operating threshold ``conf``
    "AP50",
    "recall",
    "precision",
    "fp_per_img",
    "coverage",
    *(f"coverage_{b}" for b in BUCKET_NAMES),
    "wider_easy",
    "wider_medium",
    "wider_hard",
    "ms_per_img",
    "device",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def read_header(path: str | os.PathLike) -> list[str]:
    """The CSV log's header (first row) at ``path``; ``[]`` for a missing or empty file."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return []
    with open(path, newline="") as fh:
        return next(csv.reader(fh), [])


def header_for(existing: list[str], row: Mapping[str, Any]) -> list[str]:
    """The header after adding ``row``: a new file gets :data:`COLUMNS` then the row's other keys; an existing
    file keeps its columns and gains the row's keys it lacks (canonical ones first).

    Args:
        existing: the file's header (``[]``: no file yet).
        row: the row to add.
    """
    if not existing:
        return list(COLUMNS) + [k for k in row if k not in COLUMNS]
    new = [c for c in COLUMNS if c in row and c not in existing]
    new += [k for k in row if k not in COLUMNS and k not in existing]
    return list(existing) + new


def append_row(row: Mapping[str, Any], path: str | os.PathLike = DEFAULT_LOG) -> Path:
    """Append ``row`` to the CSV log at ``path`` (created with its header when missing).

    Floats are written with 6 significant digits, None and NaN as empty cells.  When ``row`` brings new columns
    the file is rewritten atomically with the wider header.

    Returns:
        ``path``.

    Raises:
        OSError: the log cannot be read or written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = read_header(path)
    header = header_for(existing, row)
    cells = [_cell(row.get(c)) for c in header]
    if existing and header == existing:
        with open(path, "a", newline="") as fh:
            csv.writer(fh).writerow(cells)
        return path
    old_rows: list[dict[str, str]] = []
    if existing:
        with open(path, newline="") as fh:
            old_rows = list(csv.DictReader(fh))
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for old in old_rows:
            w.writerow([old.get(c) or "" for c in header])
        w.writerow(cells)
    return path


def read_log(path: str | os.PathLike = DEFAULT_LOG):
    """The log at ``path`` as a pandas DataFrame (empty with :data:`COLUMNS` when the file does not exist)."""
    import pandas as pd  # optional: [train] extra

    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.read_csv(path)
