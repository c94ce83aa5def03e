"""The low-light plate pass (:mod:`fpblur.detect.lowlight`) on generated images (no evaluation data)."""

import numpy as np
import pytest

from fpblur.config.profiles import FullFramePasses, LightPasses, get_profile
from fpblur.config.spec import DetectorSpec
from fpblur.core.boxes import iou_matrix
from fpblur.core.detections import Detections
from fpblur.detect.base import Detector
from fpblur.detect.factory import build_detector
from fpblur.detect.lowlight import LowLightDetector, brighten, equalize, mean_luma
from fpblur.models.samples import synthetic_car


def night(image: np.ndarray, gain: float = 0.02, seed: int = 0) -> np.ndarray:
    """A frame at 2 % of its brightness with a dark floor and sensor noise (mean luminance about 7)."""
    noise = np.random.default_rng(seed).normal(0.0, 1.0, image.shape)
    return np.clip(image.astype(np.float32) * gain + 6.0 + noise, 0, 255).astype(np.uint8)


def best_score(dets: Detections, box) -> float:
    if len(dets) == 0:
        return 0.0
    overlap = iou_matrix(np.array([box], np.float32), dets.boxes)[0]
    return float((dets.scores * (overlap > 0.3)).max())


@pytest.fixture(scope="module")
def plates():
    return build_detector(DetectorSpec("plate"))


def test_default_profile_runs_the_dark_pass(plates):
    assert get_profile().plate.dark_luma
    assert isinstance(plates, LowLightDetector)
    assert plates.labels == ("plate",)
    assert plates.conf == get_profile().plate.conf


def test_dark_pass_finds_a_plate_the_plain_pass_misses(plates, no_network):
    img, box = synthetic_car(plate_width=120, size=(1280, 720))
    dark = night(img)
    assert mean_luma(dark) < plates.max_luma
    conf = plates.conf
    assert best_score(plates.inner.detect(img), box) >= conf  # found by day
    assert best_score(plates.inner.detect(dark), box) < conf  # the plain pass misses it at night
    found = plates.detect(dark)
    assert best_score(found, box) >= conf  # the merged dark pass finds it
    assert found.labels.tolist() == ["plate"] * len(found)


def test_bright_frames_run_the_inner_detector_alone():
    calls = []

    class Recorder(Detector):
        labels = ("plate",)
        conf = 0.3

        def _predict(self, images, conf):
            calls.append([float(im.mean()) for im in images])
            return [Detections.empty() for _ in images]

    det = LowLightDetector(Recorder(), max_luma=70)
    bright = np.full((64, 64, 3), 150, np.uint8)
    dark = np.full((64, 64, 3), 20, np.uint8)
    det.predict([bright])
    assert len(calls) == 1
    det.predict([bright, dark])
    assert len(calls) == 3 and len(calls[2]) == 2  # the dark frame only, once per enhancement (CLAHE, gamma)
    assert det.conf == 0.3
    det.conf = 0.4
    assert det.inner.conf == 0.4


def test_light_video_passes_do_not_get_the_extra_pass(plates):
    light = plates.light(LightPasses())
    assert not isinstance(light, LowLightDetector)
    assert light.input_sizes == (480,)


def test_enhancements_keep_shape_and_raise_contrast():
    img, _ = synthetic_car()
    dark = night(img)
    for out in (equalize(dark), brighten(dark)):
        assert out.shape == dark.shape and out.dtype == np.uint8
        assert out.std() > 1.5 * dark.std()
    assert 100 < mean_luma(brighten(dark)) < 130  # mean mapped to about 0.45 of full scale
    assert np.array_equal(brighten(img), img) or mean_luma(img) < 0.45 * 255


def test_unknown_enhancement_is_refused():
    with pytest.raises(ValueError, match="unknown low-light enhancement"):
        LowLightDetector(LowLightDetector.__new__(LowLightDetector), enhance=("hdr",))


def test_dark_frames_also_run_the_extra_size_on_the_frame_its_mirror_and_both_copies(plates):
    """``PlateSettings.dark_imgsz``: the plate model at 320 px on a dark frame, on its mirror image (boxes mapped
    back) and on both brightened copies; bright frames and light video frames never run it."""
    seen = []

    class Extra(Detector):  # finds one box on the left of every image it is given, and records what it saw
        labels = ("plate",)
        conf = 0.3

        def _predict(self, images, conf):
            seen.extend(images)
            return [Detections(np.array([[2, 10, 12, 20]], np.float32), [0.9], ["plate"]) for _ in images]

    class Nothing(Detector):
        labels = ("plate",)
        conf = 0.3

        def _predict(self, images, conf):
            return [Detections.empty() for _ in images]

    det = LowLightDetector(Nothing(), max_luma=70, extra=Extra())
    dark = np.full((40, 64, 3), 20, np.uint8)
    dark[:, :8] = 5  # not symmetric, so the mirror image differs
    found = det.predict([dark])[0]
    assert len(seen) == 4 and np.array_equal(seen[0], dark) and np.array_equal(seen[1], dark[:, ::-1])
    assert seen[2].mean() > dark.mean() and seen[3].mean() > dark.mean()  # CLAHE, gamma
    np.testing.assert_allclose(sorted(found.boxes[:, 0].tolist()), [2, 52])  # x 2-12 and, mirrored back, 52-62
    det.predict([np.full((40, 64, 3), 150, np.uint8)])
    assert len(seen) == 4  # bright: no extra pass
    assert plates.extra is not None and plates.extra.input_sizes == (320,)  # the default profile's
    assert plates.video_full(FullFramePasses()).extra is plates.extra
    assert not isinstance(plates.light(LightPasses()), LowLightDetector)


def test_mirrored_detections_map_back_onto_the_original():
    dets = Detections(np.array([[2, 10, 12, 20], [50, 0, 64, 5]], np.float32), [0.9, 0.5], ["plate", "face"])
    back = dets.mirrored(64)
    np.testing.assert_allclose(back.boxes, [[52, 10, 62, 20], [0, 0, 14, 5]])
    assert back.labels.tolist() == ["plate", "face"] and back.scores.tolist() == dets.scores.tolist()
    np.testing.assert_allclose(back.mirrored(64).boxes, dets.boxes)
