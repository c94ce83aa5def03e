"""Large frames searched in tiles at their own scale (fpblur.detect.tiles)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fpblur.config.settings import resolve_config
from fpblur.core.detections import Detections
from fpblur.detect.base import CallableDetector, Detector
from fpblur.detect.factory import build_detector
from fpblur.detect.tiles import TiledDetector, merge_tiled, tile_windows
from fpblur.models.samples import synthetic_car


@pytest.mark.parametrize(("w", "h"), [(2560, 1920), (1920, 1080), (4000, 3000), (1300, 200), (1024, 1024), (5000, 97)])
@pytest.mark.parametrize(("tile", "overlap"), [(1024, 128), (640, 160)])
def test_tiles_cover_the_image_with_the_overlap_and_stay_within_the_tile_side(w, h, tile, overlap):
    windows = tile_windows(w, h, tile, overlap)
    covered = np.zeros((h, w), bool)
    for x0, y0, x1, y1 in windows:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
        assert x1 - x0 <= tile and y1 - y0 <= tile
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = sorted({(x0, x1) for x0, _, x1, _ in windows})
    ys = sorted({(y0, y1) for _, y0, _, y1 in windows})
    for spans in (xs, ys):
        for (_, a1), (b0, _) in zip(spans, spans[1:]):
            assert a1 - b0 >= overlap  # neighbours overlap: an object up to `overlap` px is whole in one tile


def test_tiles_refuse_an_overlap_as_large_as_the_tile():
    with pytest.raises(ValueError, match="larger than the overlap"):
        tile_windows(2000, 2000, 128, 128)


def test_a_box_cut_at_a_seam_is_dropped_when_the_neighbour_sees_it_whole():
    # tile A ends at x=1000; tile B starts at x=800; the object spans x 950-1040
    a, b = (0, 0, 1000, 800), (800, 0, 1800, 800)
    cut = Detections.from_arrays(np.array([[950, 100, 1000, 130]], np.float32), [0.9], "plate")  # higher score
    whole = Detections.from_arrays(np.array([[950, 100, 1040, 130]], np.float32), [0.6], "plate")
    merged = merge_tiled(Detections.empty(), [(a, cut), (b, whole)], 1800, 800, iou=0.45)
    assert len(merged) == 1
    np.testing.assert_allclose(merged.boxes[0], [950, 100, 1040, 130])  # the whole box, not the cut part


def test_boxes_away_from_the_seams_and_from_the_whole_pass_are_merged_without_duplicates():
    a, b = (0, 0, 1000, 800), (800, 0, 1800, 800)
    box = np.array([[850, 300, 900, 320]], np.float32)  # inside the overlap: both tiles see it
    merged = merge_tiled(
        Detections.from_arrays(np.array([[100, 100, 400, 200]], np.float32), [0.8], "plate"),
        [(a, Detections.from_arrays(box, [0.7], "plate")), (b, Detections.from_arrays(box + 1, [0.6], "plate"))],
        1800,
        800,
        iou=0.45,
    )
    assert len(merged) == 2


class _SeesOnlyBigObjects(Detector):
    """A stand-in network with a resolution limit: it reports the bright squares of an image only when they are
    at least 16 px on its input (after letterboxing the image to ``imgsz``), in the image's pixels."""

    labels = ("plate",)
    conf = 0.5
    backend = "custom"

    def __init__(self, imgsz: int) -> None:
        self.imgsz = imgsz

    def _predict(self, images, conf):
        out = []
        for im in images:
            scale = self.imgsz / max(im.shape[:2])
            n, _, stats, _ = cv2.connectedComponentsWithStats((im[..., 0] > 200).astype(np.uint8))
            b = np.array([[x, y, x + w, y + h] for x, y, w, h, _ in stats[1:n] if h * scale >= 16], np.float32).reshape(
                -1, 4
            )
            out.append(Detections.from_arrays(b, np.full(len(b), 0.9), "plate"))
        return out


def test_tiled_detector_finds_small_objects_of_a_large_frame_the_whole_pass_cannot_see():
    frame = np.zeros((1920, 2560, 3), np.uint8)
    squares = [(100, 100), (1000, 1010), (2500, 1880), (1010, 500)]  # one straddles a seam, one in a corner
    for x, y in squares:
        frame[y : y + 40, x : x + 40] = 255
    whole = _SeesOnlyBigObjects(640)
    assert len(whole.detect(frame)) == 0  # 40 px at 640/2560 = 10 px on the input
    tiled = TiledDetector(whole, _SeesOnlyBigObjects, tile=1024, overlap=128, above=1280)
    found = tiled.detect(frame)
    expected = sorted([x, y, min(x + 40, 2560), min(y + 40, 1920)] for x, y in squares)
    assert sorted(found.boxes.astype(int).tolist()) == expected  # each once, whole
    assert tiled.light(resolve_config().video.light) is whole  # light video frames search no tiles
    small = frame[:720, :1280]
    assert tiled.windows(1280, 720) == []  # at most `above`: the whole pass only
    assert tiled.detect(small).boxes.tolist() == whole.detect(small).boxes.tolist()


def test_default_plate_detector_reads_small_plates_of_a_2560_frame():
    car, _ = synthetic_car(size=(320, 240), plate_width=120)  # plate about 60×15 px
    frame = np.full((1920, 2560, 3), 90, np.uint8)
    spots = [(100, 1500), (1000, 700), (2100, 200), (870, 1600)]
    for x, y in spots:
        frame[y : y + 240, x : x + 320] = car
    det = build_detector(resolve_config(targets="plate").spec("plate"))
    found = det.detect(frame)
    plain = CallableDetector(lambda im: det.light(resolve_config().video.light).detect(im), ("plate",))
    assert len(plain.detect(frame)) == 0  # the whole-frame pass alone misses them all
    centres = (found.boxes[:, :2] + found.boxes[:, 2:]) / 2
    for x, y in spots:
        inside = (
            (centres[:, 0] > x + 110)
            & (centres[:, 0] < x + 210)
            & (centres[:, 1] > y + 140)
            & (centres[:, 1] < y + 200)
        )
        assert inside.sum() == 1, (x, y, found.boxes)
    assert (found.boxes[:, 3] - found.boxes[:, 1]).max() < 128  # no tile-sized boxes on the flat background
