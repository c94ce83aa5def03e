"""Large images searched at their own resolution in overlapping tiles, merged without duplicates at the seams.

A detector that letterboxes the whole image to its input size (the plate model at 640 px) sees a 40 px plate of
a 2560 px frame at 10 px, below what it was trained on.  :class:`TiledDetector` runs its ``base`` detector on the
whole image as before and, when the image's long side is above ``above`` pixels, also runs a tile detector on
overlapping tiles at the image's own scale (each tile letterboxed at its own size, so nothing is shrunk).

The slicing follows SAHI (Akyon et al. 2022, "Slicing Aided Hyper Inference and Fine-tuning for Small Object
Detection"; the ``sahi`` package): full-image pass + sliced passes, merged.  It is written here rather than
taken from ``sahi`` because that package pulls in its own model wrappers and heavy dependencies for what is
a grid and a merge.  The grid (:func:`tile_windows`) spreads tiles evenly so that neighbours overlap by at
least ``overlap`` pixels: an object up to that size lies wholly inside some tile.  Merging
(:func:`merge_tiled`): a tile's box that touches a seam (a tile edge inside the image) and lies mostly inside
another box of its label is the cut-off part of an object a neighbour (or the whole-image pass) sees whole, and
is dropped; the rest are merged per label by NMS (:func:`~fpblur.detect.multipass.merge_per_label`).  A tile's box
taller than the overlap is dropped too: tiles are for the small objects the whole-image pass cannot see.

Cost: the tiles cover the image about once (plus the overlaps), so a 2560×1920 frame costs about what one pass
at 2560 px costs (~16 passes at 640 px), in tiles of bounded memory.  Video: :meth:`TiledDetector.light`
returns the base detector's light variant, so only full frames (every 0.3 s by default) search tiles; the
tracker re-checks carried boxes on crops at their own scale in between (:mod:`fpblur.track.recheck`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fpblur.core.boxes import touching_inner_edges
from fpblur.core.detections import Detections
from fpblur.detect.base import Detector, WrapsBase
from fpblur.detect.multipass import merge_per_label

SEAM_PX = 2.0  # a box this close to a tile edge that lies inside the image touches a seam
CUT_SHARE = 0.5  # a seam-touching box at least this much inside another box of its label is a cut-off part


def tile_windows(width: int, height: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Overlapping tiles covering a ``width`` × ``height`` image, spread evenly.

    Args:
        width, height: the image size, pixels.
        tile: the largest tile side, pixels (> ``overlap``).
        overlap: neighbouring tiles overlap by at least this many pixels.

    Returns:
        ``(x0, y0, x1, y1)`` per tile (x1/y1 exclusive), row by row; one tile (the whole image) when it fits.

    Raises:
        ValueError: ``tile <= overlap`` or ``overlap < 0``.
    """
    if overlap < 0 or tile <= overlap:
        raise ValueError(f"tile side {tile} must be larger than the overlap {overlap} (>= 0)")

    def spans(size: int) -> list[tuple[int, int]]:
        if size <= tile:
            return [(0, size)]
        n = math.ceil((size - overlap) / (tile - overlap))
        side = math.ceil((size + (n - 1) * overlap) / n)
        starts = [round(i * (size - side) / (n - 1)) for i in range(n)]
        return [(s, min(size, s + side)) for s in starts]

    return [(x0, y0, x1, y1) for y0, y1 in spans(height) for x0, x1 in spans(width)]


def _inside_share(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """N×M: the share of each of ``boxes``' area that lies inside each of ``others``."""
    lt = np.maximum(boxes[:, None, :2], others[None, :, :2])
    rb = np.minimum(boxes[:, None, 2:], others[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area = np.clip(boxes[:, 2:] - boxes[:, :2], 1e-6, None).prod(axis=1)
    return inter / area[:, None]


def merge_tiled(
    whole: Detections,
    tiles: list[tuple[tuple[int, int, int, int], Detections]],
    width: int,
    height: int,
    iou: float,
    vote_iou: float | None = None,
) -> Detections:
    """Merge a whole-image pass with tile passes into one set of boxes, without duplicates at the seams.

    Args:
        whole: the whole-image pass, image pixels.
        tiles: ``(window, detections)`` per tile, detections already in whole-image pixels.
        width, height: the image size, pixels.
        iou: NMS IoU of the final merge, per label.
        vote_iou: box-voting IoU of that merge (None: plain NMS).

    Returns:
        Detections in image pixels, per label best first: seam-cut parts dropped (see the module docstring),
        then NMS.
    """
    parts = [whole]
    for window, dets in tiles:
        if not len(dets):
            continue
        cut = touching_inner_edges(dets.boxes, window, width, height, SEAM_PX)
        if cut.any():
            drop = np.zeros(len(dets), bool)
            for label in dict.fromkeys(dets.labels[cut].tolist()):
                # another box of the label from anywhere (whole pass, any tile, this tile's others)
                others = [d.boxes[d.labels == label] for _, d in tiles] + [whole.boxes[whole.labels == label]]
                pool = np.concatenate([o.reshape(-1, 4) for o in others]).astype(np.float64)
                idx = np.flatnonzero(cut & (dets.labels == label))
                share = _inside_share(dets.boxes[idx].astype(np.float64), pool)
                own = np.all(np.isclose(pool[None, :, :], dets.boxes[idx].astype(np.float64)[:, None, :]), axis=2)
                share[own] = 0.0  # not inside itself
                drop[idx] = (share >= CUT_SHARE).any(axis=1)
            dets = dets[~drop]
        parts.append(dets)
    return merge_per_label(parts, iou, vote_iou)


class TiledDetector(WrapsBase):
    """``base`` on the whole image, plus tiles at the image's own scale when it is large (module docstring).

    Args:
        base: the whole-image detector (its labels, threshold and backend are this detector's).
        tile_detector: ``side -> Detector`` that searches a tile of at most ``side`` pixels per side at its own
            scale (for a YOLO model: the loaded model at ``imgsz=side``); called once per distinct side and cached.
        tile: the largest tile side, pixels.
        overlap: neighbouring tiles overlap by at least this many pixels (objects up to this size are whole in
            some tile; larger ones are large enough for the whole-image pass).
        above: images whose long side is at most this many pixels run ``base`` alone.
        iou: NMS IoU of the merge.  vote_iou: box voting of the merge (None: plain NMS).

    Raises:
        ValueError: ``tile <= overlap``.
    """

    def __init__(
        self,
        base: Detector,
        tile_detector: Callable[[int], Detector],
        *,
        tile: int = 1024,
        overlap: int = 128,
        above: int = 1280,
        iou: float = 0.45,
        vote_iou: float | None = None,
    ) -> None:
        if tile <= overlap:
            raise ValueError(f"tile side {tile} must be larger than the overlap {overlap}")
        self.base = base
        self.tile_detector = tile_detector
        self.tile, self.overlap, self.above = int(tile), int(overlap), int(above)
        self.iou, self.vote_iou = float(iou), vote_iou
        self.labels, self.conf, self.backend = base.labels, base.conf, base.backend
        self._by_side: dict[int, Detector] = {}

    @property
    def input_sizes(self) -> tuple[int, ...]:
        """The whole-image pass's input sizes (tiles follow the image)."""
        return self.base.input_sizes

    def windows(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """The tiles searched on a ``width`` × ``height`` image (none when its long side is at most ``above``)."""
        if max(width, height) <= self.above:
            return []
        return tile_windows(width, height, self.tile, self.overlap)

    def _for_side(self, side: int) -> Detector:
        side = int(math.ceil(side / 32) * 32)  # the network's stride: letterboxing pads to it anyway
        if side not in self._by_side:
            self._by_side[side] = self.tile_detector(side)
        return self._by_side[side]

    def _predict(self, images: list[np.ndarray], conf: float) -> list[Detections]:
        wholes = self.base._predict(images, conf)
        out = []
        for image, whole in zip(images, wholes):
            h, w = image.shape[:2]
            windows = self.windows(w, h)
            if not windows:
                out.append(whole)
                continue
            found = []
            for x0, y0, x1, y1 in windows:
                dets = self._for_side(max(x1 - x0, y1 - y0))._predict([image[y0:y1, x0:x1]], conf)[0]
                # tiles are for small objects: one taller than the overlap is the whole-image pass's to find (and
                # a tile of flat colour gets tile-sized false boxes from the plate model)
                dets = dets[(dets.boxes[:, 3] - dets.boxes[:, 1]) <= self.overlap]
                found.append(((x0, y0, x1, y1), dets.shift(x0, y0)))
            out.append(merge_tiled(whole, found, w, h, self.iou, self.vote_iou))
        return out


__all__ = ["TiledDetector", "merge_tiled", "tile_windows"]
