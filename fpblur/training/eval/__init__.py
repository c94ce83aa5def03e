"""Evaluation of detections against ground truth: AP, recall/precision, FP per image, coverage recall
(the privacy metric), per box-height bucket, and the WIDER FACE protocol.  See :mod:`fpblur.training.eval.metrics`
for the exact definitions."""

from fpblur.training.eval.datasets import LabelledSet, load_labelled
from fpblur.training.eval.metrics import (
    BUCKET_NAMES,
    BUCKETS,
    MIN_COVER,
    EvalResult,
    ImageMatch,
    average_precision,
    coverage_hits,
    covered_fraction,
    evaluate,
    height_bucket,
    match_image,
    pr_curve,
    voc_ap,
)
from fpblur.training.eval.wider import SUBSETS, wider_ap, wider_evaluate, wider_ignore

__all__ = [
    "BUCKETS",
    "BUCKET_NAMES",
    "MIN_COVER",
    "EvalResult",
    "ImageMatch",
    "LabelledSet",
    "SUBSETS",
    "average_precision",
    "coverage_hits",
    "covered_fraction",
    "evaluate",
    "height_bucket",
    "load_labelled",
    "match_image",
    "pr_curve",
    "voc_ap",
    "wider_ap",
    "wider_evaluate",
    "wider_ignore",
]
