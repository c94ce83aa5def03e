"""Read labelled image folders: ``labels.json`` (``{"image": [[x1, y1, x2, y2], ...]}``), ``images/`` and an
optional ``flags.json`` (per-box dicts, e.g. WIDER's invalid/easy/medium/hard)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class LabelledSet:
    root: Path
    images: list[Path]
    gts: list[np.ndarray]
    flags: list[list[dict]] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def head(self, n: int | None) -> "LabelledSet":
        if n is None:
            return self
        return LabelledSet(self.root, self.images[:n], self.gts[:n], None if self.flags is None else self.flags[:n])


def load_labelled(folder: str | Path) -> LabelledSet:
    """Load a folder laid out as ``labels.json`` + ``images/`` (+ ``flags.json``), sorted by image name."""
    root = Path(folder)
    labels_path = root / "labels.json"
    if not labels_path.is_file():
        raise FileNotFoundError(f"{labels_path}: no labels.json")
    labels = json.loads(labels_path.read_text())
    flags_path = root / "flags.json"
    flags = json.loads(flags_path.read_text()) if flags_path.is_file() else None
    names = sorted(labels)
    image_dir = root / "images" if (root / "images").is_dir() else root
    gts = [np.asarray(labels[n], np.float64).reshape(-1, 4) for n in names]
    if flags is not None:
        for n in names:
            if len(flags.get(n, [])) != len(labels[n]):
                raise ValueError(f"{flags_path}: {n} has {len(flags.get(n, []))} flags for {len(labels[n])} boxes")
    return LabelledSet(root, [image_dir / n for n in names], gts, None if flags is None else [flags[n] for n in names])
