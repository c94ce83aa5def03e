"""Full video frames: the image profile with its frame-size-dependent extras bounded
(:class:`~fpblur.config.profiles.FullFramePasses`): upscaling stops at 2560 px (never below ×1), no crowd flip."""

from __future__ import annotations

import numpy as np
import pytest

from fpblur import Anonymizer
from fpblur.config.profiles import FullFramePasses, LightPasses
from fpblur.config.settings import resolve_config
from fpblur.core.detections import Detections
from fpblur.detect.base import Detector
from fpblur.detect.centerface import CenterFaceDetector, ScalePass


@pytest.mark.parametrize(
    ("text", "long", "factor"),
    [
        ("2@4096", 640, 2.0),  # small frames: the ×2 pass as in images
        ("2@4096", 1280, 2.0),
        ("2@4096", 1920, 2560 / 1920),  # enlarged to 2560 px only
        ("2@4096", 2560, 1.0),
        ("2@4096", 3840, 1.0),  # never below the frame's own resolution
        ("1", 3840, 1.0),  # passes that do not upscale are left alone
        ("640px", 2560, 0.25),
        ("0.75", 1920, 0.75),
    ],
)
def test_upscaling_stops_at_the_cap_but_never_below_full_resolution(text, long, factor):
    assert ScalePass.parse(text).factor(long * 9 // 16, long, upscale_max_side=2560) == pytest.approx(factor)


def test_image_passes_are_unchanged_without_the_cap():
    assert ScalePass.parse("2@4096").factor(1440, 2560) == pytest.approx(1.6)


def test_centerface_full_frame_variant_shares_the_session_and_leaves_the_original():
    face = CenterFaceDetector(scales=("2@4096", "640px"), crowd_flip=(10, 24.0, 0.3))
    video = face.video_full(FullFramePasses())
    assert video.session is face.session and video.crowd_flip is None and video.upscale_max_side == 2560
    assert [round(f, 4) for f, _, _ in video.plan(1440, 2560)] == [1.0, 0.25]
    assert [round(f, 4) for f, _, _ in face.plan(1440, 2560)] == [1.6, 0.25]  # images: as before
    assert face.crowd_flip == (10, 24.0, 0.3) and face.upscale_max_side is None
    kept = face.video_full(FullFramePasses(upscale_max_side=None, crowd_flip=True))
    assert kept.crowd_flip == face.crowd_flip and [f for f, _, _ in kept.plan(1440, 2560)] == [1.6, 0.25]


def test_default_detectors_pass_the_variant_through_their_wrappers():
    """Rotated passes (faces), tiles and the low-light pass (plates) wrap the variant of what they wrap."""
    anon = Anonymizer(resolve_config())
    face = anon.detectors["face"].video_full(FullFramePasses())
    assert type(face) is type(anon.detectors["face"]) and face.base.upscale_max_side == 2560
    assert face.base.crowd_flip is None and anon.detectors["face"].base.crowd_flip is not None
    plate = anon.detectors["plate"].video_full(FullFramePasses())
    assert type(plate) is type(anon.detectors["plate"]) and plate.inner.tile == anon.detectors["plate"].inner.tile


def test_settings_take_the_plan_and_overrides():
    assert resolve_config().video.full == FullFramePasses(upscale_max_side=2560, crowd_flip=False)
    assert resolve_config().video.light == LightPasses(face_passes=("0.75@1280",), plate_imgsz=(480,))
    mine = resolve_config(video={"full": {"upscale_max_side": None, "crowd_flip": True}}).video.full
    assert mine == FullFramePasses(None, True)
    with pytest.raises(ValueError, match="unknown video full-frame setting"):
        resolve_config(video={"full": {"upscale": 100}})
    with pytest.raises(ValueError, match="video full-frame settings must be a mapping"):
        resolve_config(video={"full": True})


class _Spy(Detector):
    """Records which variant each call ran: ``full`` (video full frame), ``light`` or ``image``."""

    labels = ("face",)

    def __init__(self, log: list[str], kind: str = "image") -> None:
        self.log, self.kind, self.conf = log, kind, 0.5

    def _predict(self, images, conf):
        self.log.extend(self.kind for _ in images)
        return [Detections() for _ in images]

    def light(self, passes: LightPasses) -> Detector:
        return _Spy(self.log, "light")

    def video_full(self, full: FullFramePasses) -> Detector:
        assert full == FullFramePasses()
        return _Spy(self.log, "full")


def test_video_full_frames_run_the_variant_and_images_do_not(tmp_path):
    from fpblur.media.synth import write_video
    from fpblur.run.video import anonymize_video

    log: list[str] = []
    anon = Anonymizer(resolve_config(targets="face"), detectors={"face": _Spy(log)})
    frames = [np.full((64, 96, 3), 40 + 8 * i, np.uint8) for i in range(10)]
    clip = write_video(tmp_path / "in.mp4", frames, fps=25)
    anonymize_video(clip, tmp_path / "out.mp4", anon, anon.config.video)
    assert "full" in log and "image" not in log
    log.clear()
    anon.detect(frames[0])
    assert log == ["image"]
