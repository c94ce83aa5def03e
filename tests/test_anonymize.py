import cv2
import numpy as np
import pytest

from fpblur.core.detections import Detections
from fpblur.redact.anonymizer import regions_for
from fpblur.redact.modes import MODES, anonymize, strong_blur


def textured(h=200, w=300, channels=3, dtype=np.uint8):
    rng = np.random.default_rng(0)
    top = 65535 if dtype == np.uint16 else 255
    img = rng.integers(0, top, size=(h, w, channels) if channels else (h, w), dtype=np.int64).astype(dtype)
    return img


def region(x1=50, y1=40, x2=150, y2=140):
    return Detections(np.array([[x1, y1, x2, y2]], np.float32), [0.9], ["face"])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("channels,dtype", [(3, np.uint8), (0, np.uint8), (4, np.uint8), (3, np.uint16)])
def test_mode_changes_region_only(mode, channels, dtype):
    img = textured(channels=channels, dtype=dtype)
    out = anonymize(img, region(), mode)
    assert out.shape == img.shape and out.dtype == img.dtype
    inside = (slice(40, 140), slice(50, 150))
    assert not np.array_equal(out[inside], img[inside]), mode
    outside = np.ones(img.shape[:2], bool)
    outside[40:140, 50:150] = False
    if mode == "boxes":  # the label is drawn just above the box, from its left edge
        outside[:40, 50:] = False
    assert np.array_equal(out[outside], img[outside]), f"{mode} changed pixels outside the region"
    assert not np.array_equal(img, out) and img is not out
    if channels == 4 and mode != "boxes":
        assert np.array_equal(out[..., 3], img[..., 3]), "alpha must be kept"


def test_blur_strength_scales_with_size():
    """A large face must lose as much detail as a small one (fixed kernels leave big faces readable)."""
    for size in (40, 400):
        img = textured(size, size)
        out = strong_blur(img)
        # high-frequency energy remaining relative to the input
        lap_in = cv2.Laplacian(img, cv2.CV_64F).var()
        lap_out = cv2.Laplacian(out, cv2.CV_64F).var()
        assert lap_out / lap_in < 0.002, size


def runs(roi: np.ndarray, axis: int) -> list[int]:
    """Lengths of the runs of equal pixels along ``axis`` (a new run starts where any pixel across it changes)."""
    other = tuple(a for a in range(roi.ndim) if a != axis)
    change = (np.diff(roi.astype(np.int64), axis=axis) != 0).any(axis=other)
    edges = np.concatenate([[0], np.flatnonzero(change) + 1, [roi.shape[axis]]])
    return np.diff(edges).tolist()


def assert_cells(roi: np.ndarray, cell_w: list[int], cell_h: list[int]) -> None:
    """``roi`` is a mosaic: cells of exactly these widths and heights, each one colour, neighbours different."""
    assert runs(roi, 1) == cell_w and runs(roi, 0) == cell_h
    ys, xs = np.cumsum([0, *cell_h]), np.cumsum([0, *cell_w])
    for y1, y2 in zip(ys[:-1], ys[1:]):
        for x1, x2 in zip(xs[:-1], xs[1:]):
            cell = roi[y1:y2, x1:x2].reshape(-1, *roi.shape[2:])
            assert (cell == cell[0]).all(), (y1, x1)


@pytest.mark.parametrize("blocks,cell", [(8, 20), (16, 10), (4, 40)])
def test_pixelate_cells_have_the_documented_size(blocks, cell):
    """About ``blocks`` cells along the longer side: a 160×80 region gives ``160 / blocks`` px square cells,
    counted from the region's own corner (not the image's)."""
    img = textured(200, 300)
    out = anonymize(img, region(50, 40, 210, 120), "pixelate", pixel_blocks=blocks)
    assert_cells(out[40:120, 50:210], [cell] * blocks, [cell] * (blocks // 2))
    assert np.array_equal(out[:40], img[:40]) and np.array_equal(out[:, 210:], img[:, 210:])


def test_pixelate_cells_on_a_portrait_region_and_uneven_sizes():
    img = textured(200, 300)
    # portrait 60×120: the longer side is the height → 8 rows of 15 px, 4 columns of 15 px
    out = anonymize(img, region(10, 20, 70, 140), "pixelate")
    assert_cells(out[20:140, 10:70], [15] * 4, [15] * 8)
    # 100×100 with 8 blocks: 12.5 px cells, so 8 cells of 12 or 13 px that add up to the side
    out = anonymize(img, region(0, 0, 100, 100), "pixelate")
    widths = runs(out[:100, :100], 1)
    assert len(widths) == 8 and set(widths) == {12, 13} and sum(widths) == 100
    assert_cells(out[:100, :100], widths, runs(out[:100, :100], 0))


def test_pixelate_cells_are_at_least_two_pixels():
    """A tiny region (10×6 px, 8 blocks → 1.25 px) still gets 2 px cells: never the original pixels."""
    img = textured(50, 50)
    out = anonymize(img, region(4, 4, 14, 10), "pixelate")
    assert_cells(out[4:10, 4:14], [2] * 5, [2] * 3)
    # gray, BGRA (alpha untouched) and 16-bit images get the same cells
    for image in (textured(channels=0), textured(channels=4), textured(dtype=np.uint16)):
        out = anonymize(image, region(50, 40, 210, 120), "pixelate")
        color = out[40:120, 50:210, :3] if image.ndim == 3 else out[40:120, 50:210]
        assert_cells(color, [20] * 8, [20] * 4)
        if image.ndim == 3 and image.shape[2] == 4:
            assert np.array_equal(out[..., 3], image[..., 3])


def test_solid_fills_black():
    out = anonymize(textured(), region(), "solid")
    assert out[40:140, 50:150].max() == 0


def test_ellipse_keeps_corners():
    img = textured()
    out = anonymize(img, region(), "ellipse")
    assert np.array_equal(out[40, 50], img[40, 50])  # corner of the box is outside the ellipse
    assert not np.array_equal(out[90, 100], img[90, 100])


def test_padding_and_clipping():
    dets = Detections(np.array([[0, 0, 100, 50], [250, 150, 300, 200]], np.float32), [1, 1], ["face", "plate"])
    reg = regions_for(dets, 0.18, width=300, height=200)
    np.testing.assert_allclose(reg.boxes[0], [0, 0, 118, 59])
    np.testing.assert_allclose(reg.boxes[1], [241, 141, 300, 200])
    reg2 = regions_for(dets, {"face": 0.0, "plate": 0.5}, 300, 200)
    np.testing.assert_allclose(reg2.boxes[0], [0, 0, 100, 50])
    out = anonymize(textured(), reg, "solid")
    assert out[0:59, 0:118].max() == 0


def test_plate_regions_reach_a_share_of_the_plate_width_above_and_below():
    """The plate model's box hugs the characters; the default profile's plate regions also reach 0.1 of the
    plate's width above and below (a square plate's 0.82-covered box left part of it sharp).  Faces: unchanged."""
    from fpblur import Anonymizer
    from fpblur.cli.common import pad_text
    from fpblur.config.settings import resolve_config

    dets = Detections(np.array([[100, 100, 200, 200], [100, 300, 300, 340]], np.float32), [1, 1], ["face", "plate"])
    reg = regions_for(dets, None, 1000, 1000)  # the default profile: faces 0.22, plates 0.25 + 0.1 of the width
    np.testing.assert_allclose(reg.boxes[0], [78, 78, 222, 222], rtol=1e-5)
    np.testing.assert_allclose(reg.boxes[1], [50, 300 - 10 - 20, 350, 340 + 10 + 20], rtol=1e-5)
    assert np.array_equal(Anonymizer(resolve_config()).regions(dets, (1000, 1000, 3)).boxes, reg.boxes)
    # one explicit number pads by it alone; pad_by_width adds the share to any padding
    np.testing.assert_allclose(regions_for(dets, 0.0, 1000, 1000).boxes[1], [100, 300, 300, 340])
    np.testing.assert_allclose(regions_for(dets, 0.0, 1000, 1000, {"plate": 0.2}).boxes[1], [100, 260, 300, 380])
    np.testing.assert_allclose(Detections.coerce(np.array([[0, 0, 10, 4]])).pad(0.0, 0.5).boxes, [[0, -5, 10, 9]])
    # --pad / pad= keeps the profile's share; redact={"pad_by_width": ...} changes it (0: none)
    cfg = resolve_config(pad=0.3)
    assert cfg.redact.pad["plate"] == 0.3 and cfg.redact.pad_by_width_for("plate") == 0.1
    assert cfg.redact.pad_by_width_for("face") == 0.0
    off = resolve_config(redact={"pad_by_width": 0})
    np.testing.assert_allclose(Anonymizer(off).regions(dets, (1000, 1000)).boxes[1], [50, 290, 350, 350])
    assert resolve_config(redact={"pad_by_width": {"face": 0.05}}).redact.pad_by_width == {"face": 0.05, "plate": 0.1}
    assert resolve_config("fast").redact.pad_by_width_for("plate") == 0.1
    for bad, message in ((-0.1, "pad_by_width must be 0 or more"), ("wide", "pad_by_width must be a number")):
        with pytest.raises(ValueError, match=message):
            resolve_config(redact={"pad_by_width": bad})
    assert "plate 0.25 + 0.1 of its width above and below" in pad_text(resolve_config())


def test_empty_and_out_of_image_regions():
    img = textured()
    assert np.array_equal(anonymize(img, Detections.empty(), "blur"), img)
    off = Detections(np.array([[400, 400, 500, 500]], np.float32), [1], ["face"])
    assert np.array_equal(anonymize(img, off, "blur"), img)


def test_unknown_mode():
    with pytest.raises(ValueError, match="unknown mode"):
        anonymize(textured(), region(), "sparkle")


def test_default_padding_follows_the_default_profile():
    """The Python API, the CLI, the front ends and evaluation pad with the same default (the profile's)."""
    from fpblur.config.profiles import get_profile
    from fpblur.config.settings import resolve_config
    from fpblur.ui.session import default_target_settings

    pads = get_profile("default").pad
    dets = Detections(np.array([[100, 100, 200, 200], [100, 100, 200, 200]], np.float32), [1, 1], ["face", "plate"])
    reg = regions_for(dets, None, 1000, 1000)
    np.testing.assert_allclose(reg.boxes[:, 0], [100 - 100 * pads["face"], 100 - 100 * pads["plate"]], rtol=1e-5)
    for target in ("face", "plate"):
        settings = default_target_settings(target)
        assert settings.pad == pads[target]
        assert settings.spec(target).effective_imgsz == resolve_config("default").spec(target).effective_imgsz


def test_front_end_pad_none_means_the_profiles_pad():
    """``TargetSettings.pad`` left unset pads like the profile (faces 0.22, plates 0.25), not a fixed 0.18."""
    from fpblur.config.profiles import get_profile
    from fpblur.ui.session import Settings, TargetSettings

    pads = get_profile("default").pad
    assert TargetSettings().pad is None
    TargetSettings().check("face")  # None passes the range check
    settings = Settings(per_target={"face": TargetSettings(), "plate": TargetSettings(pad=0.5)})
    assert settings.pads() == {"face": pads["face"], "plate": 0.5}
    assert Settings(per_target={}).pads() == {t: pads[t] for t in ("face", "plate")}


@pytest.mark.parametrize("mode", [m for m in MODES if m != "boxes"])
@pytest.mark.parametrize(
    "boxes",
    [
        np.array([[50, 40, 150, 140]], np.float32),
        [[50, 40, 150, 140]],
        (50, 40, 150, 140),
        np.array([[50, 40, 150, 140]]),
    ],
)
def test_anonymize_accepts_boxes_as_an_array(mode, boxes):
    """``anonymize(image, N×4 array, mode)`` works like the Detections form (it raised AttributeError)."""
    img = textured()
    np.testing.assert_array_equal(anonymize(img, boxes, mode), anonymize(img, region(), mode))


def test_boxes_as_arrays_through_every_public_entry():
    from fpblur.redact.anonymizer import Anonymizer
    from fpblur.redact.modes import draw_boxes

    img = textured()
    drawn = anonymize(img, [[50, 40, 150, 140]], "boxes")
    assert drawn.shape == img.shape and not np.array_equal(drawn, img)
    assert not np.array_equal(draw_boxes(img, np.array([[50, 40, 150, 140]])), img)
    padded = regions_for(np.array([[100, 100, 200, 200]]), 0.1, 1000, 1000)
    np.testing.assert_allclose(padded.boxes, [[90, 90, 210, 210]])
    assert len(anonymize(img, np.zeros((0, 4)), "blur")) == len(img)  # no box: an unchanged copy
    np.testing.assert_array_equal(anonymize(img, np.zeros((0, 4)), "blur"), img)
    anon = Anonymizer(targets=("face",), detectors={"face": lambda im: Detections()}, pad=0.0, mode="solid")
    out = anon.apply(img, [[50, 40, 150, 140]])
    # array boxes carry no label: they get the fallback padding (0.18 of 100 px = 18 px per side)
    assert (out[40:140, 50:150] == 0).all() and (out[22:158, 32:168] == 0).all()
    assert np.array_equal(out[160:], img[160:]) and np.array_equal(out[:, 170:], img[:, 170:])


@pytest.mark.parametrize(
    "bad,error,shown",
    [
        ("abc", TypeError, "got str"),
        ([[1, 2, 3]], ValueError, "shape (1, 3)"),
        (np.zeros((2, 2, 4)), ValueError, "shape (2, 2, 4)"),
    ],
)
def test_bad_boxes_give_one_line_saying_what_is_expected(bad, error, shown):
    with pytest.raises(error) as info:
        anonymize(textured(), bad, "blur")
    message = str(info.value)
    assert "N×4 array of [x1, y1, x2, y2]" in message and shown in message and "\n" not in message
