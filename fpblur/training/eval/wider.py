"""WIDER FACE evaluation protocol on top of :mod:`fpblur.training.eval.metrics`.

In the official protocol a GT box is scored in a subset (easy / medium / hard) only when it belongs to that
subset and is not flagged ``invalid``; every other GT box of the image is an **ignore region**: a detection
whose best match (IoU >= 0.5) is such a box is neither a true nor a false positive, and the box is never a
miss.  The subsets are nested (easy ⊂ medium ⊂ hard).  ``"all"`` scores every valid box (only ``invalid``
boxes are ignored).  AP is VOC all-point (:func:`fpblur.training.eval.metrics.voc_ap`), not WIDER's 1000-threshold
sampling, so numbers are close to but not identical with the official MATLAB script.

``flags`` per image are lists of dicts aligned with the GT boxes, with boolean-ish keys ``invalid``, ``easy``,
``medium``, ``hard`` (the format of ``faces/flags.json`` in the evaluation data).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fpblur.training.eval.metrics import EvalResult, average_precision, evaluate, match_image

SUBSETS = ("easy", "medium", "hard")


def wider_ignore(flags: Sequence[dict], subset: str | None = None) -> np.ndarray:
    """Ignore mask of one image's GT boxes under the WIDER FACE protocol (Yang et al. 2016).

    Args:
        flags: per-box dicts (``invalid``, ``easy``, ``medium``, ``hard``; missing keys count as False).
        subset: ``"easy"``, ``"medium"``, ``"hard"``; None or ``"all"``: only invalid boxes are ignored.

    Returns:
        A boolean array, True for invalid boxes and (for a subset) boxes outside it.

    Raises:
        ValueError: an unknown subset.
    """
    if subset is not None and subset not in SUBSETS:
        raise ValueError(f"unknown WIDER subset {subset!r}; expected one of {', '.join(SUBSETS)}")
    invalid = np.array([bool(f.get("invalid", False)) for f in flags], dtype=bool)
    if subset is None or subset == "all":
        return invalid
    member = np.array([bool(f.get(subset, False)) for f in flags], dtype=bool)
    return invalid | ~member


def wider_ap(
    dets: Sequence[Any], gts: Sequence[Any], flags: Sequence[Sequence[dict]], iou: float = 0.5
) -> dict[str, float]:
    """Average precision per WIDER FACE subset (Yang et al. 2016's ignore rules, VOC all-point AP instead of the
    official 1000-threshold sampling).

    Args:
        dets: detections per image (:class:`Detections` or ``(boxes, scores)``, pixels).
        gts: GT boxes per image, M×4 pixels.
        flags: per image, per-box flag dicts aligned with its GT boxes.
        iou: the matching IoU.

    Returns:
        ``{"all": AP, "easy": AP, "medium": AP, "hard": AP}`` (NaN for a subset without boxes).
    """
    out = {}
    for subset in ("all",) + SUBSETS:
        key = None if subset == "all" else subset
        matches = [match_image(d, g, wider_ignore(f, key), iou) for d, g, f in zip(dets, gts, flags)]
        out[subset] = average_precision(matches)
    return out


def wider_evaluate(
    dets: Sequence[Any],
    gts: Sequence[Any],
    flags: Sequence[Sequence[dict]],
    *,
    regions: Sequence[Any] | None = None,
    threshold: float = 0.0,
    iou: float = 0.5,
    region_shape: str = "box",
) -> tuple[EvalResult, dict[str, float]]:
    """Full :func:`~fpblur.training.eval.metrics.evaluate` result with WIDER's invalid boxes ignored, plus the
    per-subset APs of :func:`wider_ap` (arguments as there and in ``evaluate``).

    Returns:
        ``(EvalResult, {"all", "easy", "medium", "hard": AP})``.
    """
    ignore = [wider_ignore(f) for f in flags]
    res = evaluate(dets, gts, ignore=ignore, regions=regions, threshold=threshold, iou=iou, region_shape=region_shape)
    return res, wider_ap(dets, gts, flags, iou)
