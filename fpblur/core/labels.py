"""Class names → fpblur labels: the one rule that detectors, evaluation and training share.

A YOLO model or dataset names its classes (``{0: "license_plate"}``); fpblur knows two labels, ``face`` and
``plate`` (:data:`~fpblur.core.detections.LABELS`).  :func:`label_from_class_name` says which label a class name
stands for, :func:`class_label_map` maps a model's class ids to labels, and :func:`labelled` turns a model's raw
``(boxes, scores, class ids)`` into :class:`~fpblur.core.detections.Detections`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from fpblur.core.detections import LABELS, Detections


def label_from_class_name(name: str) -> str | None:
    """The fpblur label a model or dataset class name stands for.

    Args:
        name: a class name (any case), e.g. ``"Face"``, ``"license_plate"``, ``"numberplate"``.

    Returns:
        ``"face"`` when the name contains "face"; ``"plate"`` when it contains "plate" or "licen"
        (licence/license); otherwise None.
    """
    lname = str(name).lower()
    return next((lab for lab in LABELS if lab in lname or (lab == "plate" and "licen" in lname)), None)


def class_label_map(
    names: Mapping[int, str], label: str | None, class_map: Mapping[int | str, str] | None
) -> dict[int, str]:
    """Map a model's class ids to fpblur labels.

    Args:
        names: the model's ``{class id: class name}``.
        label: the detector's target label, given to every class whose name stands for no label (None: such
            classes are left out).
        class_map: explicit ``{class id or class name: label}``; wins over the names.

    Returns:
        ``{class id: label}``.  A class whose name stands for a label (:func:`label_from_class_name`) keeps it
        whatever the target is (a two-class model run as the face detector still labels its plates
        ``plate``); classes missing from the result are dropped by :func:`labelled`.
    """
    out: dict[int, str] = {}
    for cid, name in names.items():
        if class_map and (cid in class_map or name in class_map):
            out[cid] = class_map[cid] if cid in class_map else class_map[name]
            continue
        guess = label_from_class_name(name)
        if guess is not None:
            out[cid] = guess
        elif label is not None:
            out[cid] = label
    return out


def emitted_labels(class_labels: Mapping[int, str], target: str | None = None) -> tuple[str, ...]:
    """The labels a model emits through ``class_labels`` (:func:`class_label_map`), each once, ``target``
    first when it is one of them (the order of :attr:`fpblur.detect.base.Detector.labels`)."""
    emitted = list(dict.fromkeys(class_labels.values()))
    if target in emitted:
        emitted.remove(target)
        emitted.insert(0, target)
    return tuple(emitted)


def labelled(boxes: np.ndarray, scores: np.ndarray, cls: np.ndarray, labels: Mapping[int, str]) -> Detections:
    """Detections for a YOLO model's output.

    Args:
        boxes: N×4 ``x1, y1, x2, y2`` (any float array; kept as given, e.g. original-image pixels).
        scores: N scores.
        cls: N class ids (floats are truncated to int).
        labels: ``{class id: label}`` (see :func:`class_label_map`).

    Returns:
        The boxes whose class is in ``labels``, labelled through it; boxes of other classes are dropped.
    """
    cls = np.asarray(cls).reshape(-1).astype(int)
    keep = np.flatnonzero([int(c) in labels for c in cls])
    names = np.array([labels[int(c)] for c in cls[keep]], dtype="<U8")
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    return Detections(boxes[keep], np.asarray(scores).reshape(-1)[keep], names)


__all__ = ["class_label_map", "emitted_labels", "label_from_class_name", "labelled"]
