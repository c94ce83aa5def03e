"""Full video frames: the image profile with its frame-size-dependent extras bounded
(:class:`~fpblur.config.profiles.FullFramePasses`): upscaling stops at 2560 px (never below ×1), no crowd flip,
and (``deep_every``) the deep passes (upscaled, rotated) on only every N-th full frame."""

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


def test_full_frames_run_the_upscaling_pass_on_the_shipped_int8_graph_and_the_rest_on_fp32(monkeypatch):
    """Video full frames: the ×2 pass (half of all ONNX time at 960×540) on int8, every other pass on fp32; the
    int8 session is built once and shared by every copy; images and light passes never use it."""
    face = CenterFaceDetector(scales=("2@4096", "640px"), providers=["CPUExecutionProvider"])
    video = face.video_full(FullFramePasses())
    assert video.upscale_precision == "int8" and video.session is face.session
    int8 = video.upscale_session()
    assert int8 is not face.session and int8 is face.video_full(FullFramePasses()).upscale_session()
    assert face.upscale_session() is face.session  # images: the detector's own graph
    assert face.light(LightPasses()).upscale_session() is face.session
    assert face.video_full(FullFramePasses(upscale_precision="fp32")).upscale_session() is face.session
    seen: list[str] = []
    real_pass = CenterFaceDetector._pass

    def spy(self, rgb, scale, conf):  # which graph each pass runs on
        seen.append("int8" if scale > 1 and self.upscale_session() is int8 else "fp32")
        return real_pass(self, rgb, scale, conf)

    import cv2

    from fpblur.models.samples import photo_path

    small = cv2.resize(cv2.imread(str(photo_path("zidane.jpg"))), (480, 270), interpolation=cv2.INTER_AREA)
    monkeypatch.setattr(CenterFaceDetector, "_pass", spy)
    found = video(small)
    assert seen == ["int8", "fp32"]  # ×2 on int8, 640 px on fp32
    assert len(found) >= 2  # both faces of the frame (about 30 px tall), found by the int8 ×2 pass
    with pytest.raises(ValueError, match="upscale_precision"):
        FullFramePasses(upscale_precision="fp16")


def test_another_centerface_file_is_not_quantised_behind_a_video(tmp_path, monkeypatch):
    """A CenterFace file whose int8 graph is not shipped or cached runs its ×2 video pass on its own graph: the
    int8 build needs ~7 GB of memory and is only done when ``precision="int8"`` asks for it."""
    import onnx

    from fpblur.detect import centerface_int8
    from fpblur.models.registry import model_path

    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path / "cache"))

    def no_build(*args, **kwargs):
        raise AssertionError("a video must not quantise a model")

    monkeypatch.setattr(centerface_int8, "quantize_model", no_build)
    custom = tmp_path / "custom.onnx"
    model = onnx.load(str(model_path("centerface")))
    model.producer_name = "custom"
    onnx.save(model, str(custom))
    face = CenterFaceDetector(custom, scales=("2@4096", "640px"), providers=["CPUExecutionProvider"])
    video = face.video_full(FullFramePasses())
    assert video.upscale_precision is None and video.upscale_session() is face.session
    cached = sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file())
    assert all(name.startswith("centerface-prepared-") for name in cached), cached  # the fp32 graph only, no int8


def test_full_frames_run_their_own_rotated_pass():
    """``FullFramePasses.rotation_pass``: the turned copies of a full frame run this pass (default ``1@960``: a
    960x540 frame's rotated copies at full resolution, not at the profile's 640 px as photos; None: the
    profile's), and the full frames between deep ones run no rotated pass at all."""
    from fpblur.detect.rotations import RotatedPasses

    anon = Anonymizer(resolve_config(targets="face"))
    face = anon.detectors["face"]
    assert isinstance(face, RotatedPasses) and [str(p) for p in face.rotated.passes] == ["640px"]
    assert FullFramePasses().rotation_pass == "1@960"
    video = face.video_full(FullFramePasses())
    assert [str(p) for p in video.rotated.passes] == ["1@960"] and video.rotated.session is face.rotated.session
    assert [str(p) for p in face.video_full(FullFramePasses(rotation_pass=None)).rotated.passes] == ["640px"]
    assert face.video_full(FullFramePasses().plain()).angles == ()
    with pytest.raises(ValueError, match="bad CenterFace pass"):
        face.video_full(FullFramePasses(rotation_pass="sideways"))


def test_default_detectors_pass_the_variant_through_their_wrappers():
    """Rotated passes (faces), tiles and the low-light pass (plates) wrap the variant of what they wrap."""
    anon = Anonymizer(resolve_config())
    face = anon.detectors["face"].video_full(FullFramePasses())
    assert type(face) is type(anon.detectors["face"]) and face.base.upscale_max_side == 2560
    assert face.base.crowd_flip is None and anon.detectors["face"].base.crowd_flip is not None
    plate = anon.detectors["plate"].video_full(FullFramePasses())
    assert type(plate) is type(anon.detectors["plate"]) and plate.inner.tile == anon.detectors["plate"].inner.tile


def test_plain_full_frames_run_neither_upscaling_nor_rotated_passes():
    plain = FullFramePasses().plain()
    assert plain == FullFramePasses(upscale_max_side=1, rotations=False)
    face = CenterFaceDetector(scales=("2@4096", "640px"))
    assert [round(f, 4) for f, _, _ in face.video_full(plain).plan(540, 960)] == [1.0, 0.6667]
    assert [round(f, 4) for f, _, _ in face.video_full(FullFramePasses()).plan(540, 960)] == [2.0, 0.6667]
    anon = Anonymizer(resolve_config(targets="face"))
    default = anon.detectors["face"]
    assert len(default.angles) == 2  # the default profile's 90 and 270 degree passes
    between = default.video_full(plain)
    assert between.angles == () and between.base.upscale_max_side == 1 and len(default.angles) == 2
    assert default.video_full(FullFramePasses()).angles == default.angles


@pytest.mark.parametrize("bad", [0, -1, True])
def test_deep_every_must_be_a_positive_whole_number(bad):
    with pytest.raises(ValueError, match="deep_every must be"):
        FullFramePasses(deep_every=bad)


def test_settings_take_the_plan_and_overrides():
    assert resolve_config().video.full == FullFramePasses(upscale_max_side=2560, crowd_flip=False, deep_every=1)
    assert resolve_config().video.light == LightPasses(face_passes=("0.75@1280",), plate_imgsz=(480,))
    light = resolve_config(video={"light": {"face_passes": ["0.5"], "plate_imgsz": [320]}}).video.light
    assert light == LightPasses(face_passes=("0.5",), plate_imgsz=(320,))  # JSON lists become tuples
    with pytest.raises(ValueError, match="unknown video light-frame setting"):
        resolve_config(video={"light": {"faces": ["0.5"]}})
    with pytest.raises(ValueError, match="video light-frame settings must be a mapping"):
        resolve_config(video={"light": "0.5"})
    mine = resolve_config(video={"full": {"upscale_max_side": None, "crowd_flip": True}}).video.full
    assert mine == FullFramePasses(None, True)
    with pytest.raises(ValueError, match="unknown video full-frame setting"):
        resolve_config(video={"full": {"upscale": 100}})
    with pytest.raises(ValueError, match="video full-frame settings must be a mapping"):
        resolve_config(video={"full": True})


class _Spy(Detector):
    """Records which variant each call ran: ``full`` (video full frame), ``light`` or ``image``."""

    labels = ("face",)

    def __init__(self, log: list[str], kind: str = "image", expect: FullFramePasses | None = None) -> None:
        self.log, self.kind, self.conf = log, kind, 0.5
        self.expect = expect if expect is not None else FullFramePasses()

    def _predict(self, images, conf):
        # which frame: the test's frames are flat grey, 40 + 8 × index
        self.log.extend(f"{self.kind} {round((float(im.mean()) - 40) / 8)}" for im in images)
        return [Detections() for _ in images]

    def light(self, passes: LightPasses) -> Detector:
        return _Spy(self.log, "light", self.expect)

    def video_full(self, full: FullFramePasses) -> Detector:
        assert full in (self.expect, self.expect.plain())
        return _Spy(self.log, "deep" if full == self.expect else "plain", self.expect)


def test_video_full_frames_run_the_variant_and_images_do_not(tmp_path):
    from fpblur.media.synth import write_video
    from fpblur.run.video import anonymize_video

    log: list[str] = []
    every_other = FullFramePasses(deep_every=2)
    config = resolve_config(targets="face", video={"full": {"deep_every": 2}})
    anon = Anonymizer(config, detectors={"face": _Spy(log, expect=every_other)})
    frames = [np.full((64, 96, 3), 40 + 8 * i, np.uint8) for i in range(26)]
    clip = write_video(tmp_path / "in.mp4", frames, fps=25)
    records: list[dict] = []
    anonymize_video(clip, tmp_path / "out.mp4", anon, anon.config.video, on_frame=records.append)
    assert not any(k.startswith("image") for k in log)
    full = [r["frame"] for r in records if r["pass"] == "full"]
    assert full == [0, 8, 16, 24, 25]  # every 8th frame at 25 fps, and the last one
    # full frames alternate deep and plain (deep_every = 2); the last frame is always deep
    assert sorted(k for k in log if not k.startswith("light")) == sorted(
        ["deep 0", "plain 8", "deep 16", "plain 24", "deep 25"]
    )
    log.clear()
    default = Anonymizer(resolve_config(targets="face"), detectors={"face": _Spy(log)})
    anonymize_video(clip, tmp_path / "out2.mp4", default, default.config.video)
    assert not any(k.startswith(("plain", "image")) for k in log) and "deep 8" in log  # default: every full frame deep
    log.clear()
    anon.detect(frames[0])
    assert log == ["image 0"]


def test_frame_passes_change_the_profile_plan_by_field():
    from fpblur.config.settings import frame_passes

    base = FullFramePasses(upscale_max_side=1920)
    assert frame_passes(None, base) is base
    assert frame_passes({"deep_every": 3}, base) == FullFramePasses(upscale_max_side=1920, deep_every=3)
    assert frame_passes({"plate_imgsz": [320]}, LightPasses()) == LightPasses(plate_imgsz=(320,))
    with pytest.raises(ValueError, match="unknown video full-frame setting"):
        frame_passes({"deep": 2}, base)


def test_onnx_sessions_do_not_spin_between_operators():
    """Video runs two sessions at once beside decoding and encoding; spinning threads take their cores."""
    face = CenterFaceDetector()
    options = face.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_full_frames_run_the_plate_model_at_640_only_and_light_frames_at_480():
    """``FullFramePasses.plate_imgsz`` (default 640): the profile's 480 px plate pass is what light frames run two
    frames later, so full frames skip it; photos run both sizes, None restores them on full frames, and a
    detector with none of the listed sizes (``--imgsz 1280,960``) keeps all of its own."""
    plate = Anonymizer(resolve_config(targets="plate")).detectors["plate"]
    assert plate.input_sizes == (640, 480)  # photos
    assert plate.video_full(FullFramePasses()).input_sizes == (640,)
    assert plate.video_full(FullFramePasses(plate_imgsz=None)).input_sizes == (640, 480)
    assert plate.light(LightPasses()).input_sizes == (480,)
    own = Anonymizer(resolve_config(targets="plate", detectors={"plate": {"imgsz": (1280, 960)}})).detectors["plate"]
    assert own.video_full(FullFramePasses()).input_sizes == (1280, 960)
    assert resolve_config(video={"full": {"plate_imgsz": [640, 480]}}).video.full.plate_imgsz == (640, 480)
    assert FullFramePasses(plate_imgsz=[480]).plate_imgsz == (480,)


@pytest.mark.parametrize("bad", ["640", 640, [], [True], [16], [640.5]])
def test_full_frame_plate_sizes_are_checked(bad):
    with pytest.raises(ValueError, match="plate_imgsz must be"):
        FullFramePasses(plate_imgsz=bad)


def test_full_frame_plate_sizes_leave_other_labels_alone():
    """``plate_imgsz`` names the plate model's sizes: a multi-size detector of faces keeps all of its sizes."""
    from fpblur.detect.base import CallableDetector
    from fpblur.detect.multipass import MultiDetector

    class Sized(CallableDetector):
        def __init__(self, label: str, size: int) -> None:
            super().__init__(lambda image: Detections(), (label,))
            self.size = size

        @property
        def input_sizes(self) -> tuple[int, ...]:
            return (self.size,)

    faces = MultiDetector([Sized("face", 640), Sized("face", 480)], iou=0.5)
    plates = MultiDetector([Sized("plate", 640), Sized("plate", 480)], iou=0.5)
    assert faces.video_full(FullFramePasses()).input_sizes == (640, 480)
    assert plates.video_full(FullFramePasses()).input_sizes == (640,)
