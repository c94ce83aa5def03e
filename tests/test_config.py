"""One configuration, resolved once: the same user choices made through the command line, the Python API, the
front ends' session, the widget demo and the desktop app's form give equal resolved configurations
(:func:`fpblur.config.settings.resolve_config`); the chosen profile decides padding and the video plan; unknown
names fail with one line.  No model is loaded: every front end gets stand-in detectors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from fpblur import Anonymizer
from fpblur.cli import build_parser
from fpblur.cli.common import config_from_args
from fpblur.config import profiles
from fpblur.config.profiles import DEFAULT_PAD, PROFILES, VideoPlan, get_profile
from fpblur.config.settings import (
    MODES,
    RunConfig,
    VideoSettings,
    default_config,
    resolve_config,
)
from fpblur.config.spec import DetectorSpec
from fpblur.core.detections import Detections
from fpblur.core.files import InputError
from fpblur.redact.anonymizer import regions_for
from fpblur.ui.session import (
    TARGETS,
    AnonymizerCache,
    Settings,
    TargetSettings,
    default_target_settings,
    form_defaults,
    settings_from_form,
)

ROOT = Path(__file__).resolve().parents[1]


def nothing(_image: np.ndarray) -> Detections:
    return Detections()


STUBS = {t: nothing for t in TARGETS}  # stand-in detectors: nothing is loaded


def stub_cache() -> AnonymizerCache:
    return AnonymizerCache(build=lambda spec: nothing)


# ---- the same choices, written for each entry point ----------------------------------------------------------
# name: (command line, Anonymizer keywords, session Settings keywords, form: profile, {target: {field: value}},
#        selected targets, mode)
CASES = {
    "defaults": (
        ["image", "in.jpg", "-o", "out"],
        {},
        {},
        (None, {}, TARGETS, "blur"),
    ),
    "fast profile": (
        ["image", "in.jpg", "-o", "out", "--fast"],
        {"profile": "fast"},
        {"profile": "fast"},
        ("fast", {}, TARGETS, "blur"),
    ),
    "face only, conf, pad, pixelate": (
        [
            "image",
            "in.jpg",
            "-o",
            "out",
            "--targets",
            "face",
            "--face-conf",
            "0.35",
            "--pad",
            "0.3",
            "--mode",
            "pixelate",
        ],
        {"targets": ("face",), "specs": {"face": {"conf": 0.35}}, "pad": 0.3, "mode": "pixelate"},
        {
            "targets": ("face",),
            "mode": "pixelate",
            "per_target": {"face": TargetSettings(conf=0.35, pad=0.3), "plate": TargetSettings(pad=0.3)},
        },
        (None, {"face": {"conf": 0.35, "pad": 0.3}, "plate": {"pad": 0.3}}, ("face",), "pixelate"),
    ),
    "video hold and full-every": (
        ["video", "in.mp4", "-o", "out.mp4", "--hold", "10", "--full-every", "1"],
        {"video": {"hold": "10", "full_every": "1"}},
        {"video": {"hold": "10", "full_every": "1"}},
        None,  # the widget and the app have no video options
    ),
    "video deep passes on every full frame": (
        ["video", "in.mp4", "-o", "out.mp4", "--deep-every", "1"],
        {"video": {"full": {"deep_every": 1}}},
        {"video": {"full": {"deep_every": 1}}},
        None,
    ),
}


def cli_config(argv: list[str]) -> RunConfig:
    return config_from_args(build_parser().parse_args(argv))


def form_values(profile: str | None, changes: dict) -> dict:
    """What the app's entry fields hold: the profile's values as text, with ``changes`` typed over them."""
    values = {}
    for t, d in form_defaults(profile).items():
        fields = {"conf": d.conf, "iou": d.iou, "imgsz": d.imgsz, "pad": d.pad, **changes.get(t, {})}
        values[t] = {k: f"{v:g}" if isinstance(v, float) else str(v) for k, v in fields.items()}
    return values


@pytest.mark.parametrize("case", list(CASES))
def test_every_entry_point_resolves_the_same_config(case):
    argv, api, session, form = CASES[case]
    expected = cli_config(argv)
    assert isinstance(expected, RunConfig)
    assert Anonymizer(detectors=STUBS, **api).config == expected  # the Python API
    assert Settings(**session).config() == expected  # the front ends' session
    assert stub_cache().get(Settings(**session)).config == expected  # what the app and the widget run
    if form is not None:  # the desktop app's form (text fields) through the shared builder
        profile, changes, use, mode = form
        settings = settings_from_form({t: t in use for t in TARGETS}, form_values(profile, changes), mode, profile)
        assert settings.config() == expected


@pytest.mark.parametrize("case", [c for c, spec in CASES.items() if spec[3] is not None])
def test_widget_demo_resolves_the_same_config(case, tmp_path):
    pytest.importorskip("ipywidgets")
    from fpblur.ui.widgets import BlurDemo

    argv, _api, _session, (profile, changes, use, mode) = CASES[case]
    demo = BlurDemo(cache=stub_cache(), save_dir=tmp_path)
    try:
        if profile:
            demo.profile.value = profile  # resets the sliders to the profile's values
        for t in TARGETS:
            demo.targets[t].value = t in use
            for name, value in changes.get(t, {}).items():
                demo.controls[t][name].value = value
        demo.mode.value = mode
        assert demo.settings().config() == cli_config(argv)
    finally:
        demo.close()


def test_widget_profile_resets_the_sliders(tmp_path):
    pytest.importorskip("ipywidgets")
    from fpblur.ui.widgets import BlurDemo

    demo = BlurDemo(cache=stub_cache(), save_dir=tmp_path)
    try:
        assert demo.controls["plate"]["conf"].value == pytest.approx(default_config().spec("plate").conf)
        demo.profile.value = "fast"
        assert demo.controls["plate"]["conf"].value == pytest.approx(default_config("fast").spec("plate").conf)
        assert demo.settings().config() == default_config("fast")
    finally:
        demo.close()


APP_CHECK = """
import sys, tkinter as tk
sys.path.insert(0, sys.argv[1])
import make_screenshots
from fpblur.config.settings import default_config
from fpblur.ui.app import FpblurApp
from fpblur.ui.session import TARGETS
from test_config import cli_config, stub_cache

app = FpblurApp(tk.Tk(), dialogs=make_screenshots.RecordingDialogs(), cache=stub_cache())
assert app.settings().config() == cli_config(["image", "in.jpg", "-o", "out"])
app.profile.set("fast")  # resets the fields to the fast profile's values
assert app.params["plate"]["conf"].get() == f"{default_config('fast').spec('plate').conf:g}"
assert app.settings().config() == cli_config(["image", "in.jpg", "-o", "out", "--fast"])
app.use["plate"].set(False)
app.operation.set("pixelate")
app.params["face"]["conf"].set("0.35")
for t in TARGETS:
    app.params[t]["pad"].set("0.3")
assert app.settings().config() == cli_config(
    ["image", "in.jpg", "-o", "out", "--fast", "--targets", "face", "--face-conf", "0.35", "--pad", "0.3",
     "--mode", "pixelate"])
app.root.destroy()
print("app ok")
"""


def test_desktop_app_resolves_the_same_config():
    """The real Tk form (under its own Xvfb, in a child process: Tk keeps its X connection for the process's
    life): the default form, the fast profile chosen in it, then fields changed."""
    pytest.importorskip("tkinter", reason="Python was built without Tk")
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb)")
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_screenshots

    path = os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    with make_screenshots.xvfb_display():
        done = subprocess.run(
            [sys.executable, "-c", APP_CHECK, str(ROOT / "scripts")],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": path},
        )
    assert done.returncode == 0 and "app ok" in done.stdout, done.stderr[-3000:]


# ---- what the resolved configuration holds ------------------------------------------------------------------
def test_default_config_is_what_the_default_profile_says():
    config, prof = default_config(), get_profile()
    assert config.profile == "default" and config.targets == ("face", "plate") and config.mode == "blur"
    face, plate = config.spec("face"), config.spec("plate")
    assert (face.conf, face.iou, face.scales, face.max_side, face.imgsz) == (
        prof.face.conf,
        prof.face.iou,
        prof.face.passes,
        prof.face.max_side,
        None,
    )
    assert (plate.conf, plate.iou, plate.imgsz, plate.scales) == (
        prof.plate.conf,
        prof.plate.iou,
        prof.plate.imgsz,
        None,
    )
    assert config.redact.pad == prof.pad
    assert (config.video.full_every, config.video.light_every, config.video.light) == (
        prof.video.full_every,
        prof.video.light_every,
        prof.video.light,
    )
    # a resolved spec builds the same detector as the bare spec (every field the profile decides filled in)
    for t in TARGETS:
        bare = DetectorSpec(t)
        assert (config.spec(t).effective_conf, config.spec(t).effective_iou) == (
            bare.effective_conf,
            bare.effective_iou,
        )
    assert plate.effective_imgsz == DetectorSpec("plate").effective_imgsz


def test_cli_option_defaults_come_from_the_config():
    config = default_config()
    args = build_parser().parse_args(["video", "in.mp4", "-o", "out.mp4"])
    assert (args.hold, args.lookahead, args.batch, args.crf, args.preset) == (
        config.video.hold,
        config.video.lookahead,
        config.video.batch,
        config.video.crf,
        config.video.preset,
    )
    assert args.mode == config.mode and tuple(args.targets) == config.targets
    assert build_parser().parse_args(["image", "in.jpg", "-o", "o"]).max_pixels == config.image.max_pixels
    assert cli_config(["video", "in.mp4", "-o", "out.mp4"]) == config
    assert cli_config(["image", "in.jpg", "-o", "o", "--keep-metadata", "--max-pixels", "5"]).image == replace(
        config.image, keep_metadata=True, max_pixels=5
    )


def test_detect_conf_override_applies_to_every_target():
    config = cli_config(["detect", "in.jpg", "--json", "o.json", "--conf", "0.5", "--face-conf", "0.1"])
    assert config.spec("face").conf == config.spec("plate").conf == 0.5


def test_cli_and_api_agree_on_custom_weights_and_sizes():
    cli = cli_config(["image", "in.jpg", "-o", "out", "--plates", "my.pt", "--imgsz", "320", "--iou", "0.5"])
    api = Anonymizer(
        detectors=STUBS, specs={"face": {"iou": 0.5}, "plate": {"weights": "my.pt", "imgsz": 320, "iou": 0.5}}
    )
    assert api.config == cli
    assert cli.spec("plate").imgsz == (320,) and cli.spec("plate").weights == "my.pt"
    assert cli.spec("face").imgsz is None  # CenterFace has no input size: --imgsz is for YOLO models


@pytest.fixture
def wide_profile(monkeypatch):
    """A third profile whose padding and video plan differ from the default profile's."""
    wide = replace(
        get_profile(),
        name="wide",
        summary="test profile",
        pad={"face": 0.4, "plate": 0.33},
        video=VideoPlan(full_every="5", light_every="0"),
    )
    monkeypatch.setitem(profiles.PROFILES, "wide", wide)
    return wide


def test_the_chosen_profiles_padding_is_used(wide_profile):
    anon = Anonymizer(profile="wide", detectors=STUBS)
    assert anon.config.redact.pad == {"face": 0.4, "plate": 0.33}
    dets = Detections(np.array([[100, 100, 200, 200], [100, 100, 200, 200]], np.float32), [0.9, 0.9], ["face", "plate"])
    regions = anon.regions(dets, (1000, 1000, 3))
    np.testing.assert_allclose(regions.boxes[:, 0], [100 - 40, 100 - 33], rtol=1e-5)
    # not the default profile's
    default = Anonymizer(detectors=STUBS).regions(dets, (1000, 1000, 3))
    assert not np.allclose(regions.boxes, default.boxes)
    # a pad given for one label keeps the profile's for the other; another mode keeps the padding
    assert Anonymizer(profile="wide", pad={"face": 0.1}, detectors=STUBS).config.redact.pad == {
        "face": 0.1,
        "plate": 0.33,
    }
    assert anon.with_mode("solid").config.redact.pad == anon.config.redact.pad
    assert anon.with_mode("solid").detectors == anon.detectors and anon.with_mode("solid").mode == "solid"
    # the front ends' defaults follow the chosen profile too
    assert default_target_settings("face", "wide").pad == 0.4
    assert Settings(profile="wide").pads() == {"face": 0.4, "plate": 0.33}
    # a label no profile names
    assert regions_for(
        Detections(np.array([[0, 0, 100, 100]], np.float32), [0.9], ["sign"]), anon.config.redact.pad, 1000, 1000
    ).boxes[0, 2] == pytest.approx(100 + 100 * DEFAULT_PAD)


def test_the_video_plan_comes_from_the_chosen_profile(wide_profile):
    config = resolve_config("wide", targets="plate")
    assert (config.video.full_every, config.video.light_every) == ("5", "0")
    assert Anonymizer(profile="wide", targets=("plate",), detectors=STUBS).config.video == config.video
    assert Settings(profile="wide", targets=("plate",)).config().video == config.video
    assert cli_config(["video", "in.mp4", "-o", "out.mp4"]).video.full_every == get_profile().video.full_every
    # explicit options win over the plan; frames as a number or as text are the same span
    assert resolve_config("wide", video={"full_every": "2"}).video.full_every == "2"
    assert (
        resolve_config("wide", video={"full_every": 2}).video == resolve_config("wide", video={"full_every": "2"}).video
    )


def test_profile_choice_reaches_every_detector_spec():
    config = resolve_config("fast")
    assert {spec.profile for spec in config.detectors.values()} == {"fast"}
    assert config.spec("plate").imgsz == PROFILES["fast"].plate.imgsz
    assert config.spec("face").scales == PROFILES["fast"].face.passes and config.spec("face").max_side == 1920
    # an override's own profile never mixes profiles
    assert resolve_config("fast", detectors={"face": DetectorSpec("face", conf=0.3)}).spec("face").profile == "fast"


def test_anonymizer_keywords():
    anon = Anonymizer(targets="face", mode="solid", color=(1, 2, 3), pixel_blocks=4, detectors=STUBS)
    assert anon.targets == ("face",) and anon.mode == "solid"
    assert anon.mode_options == {"blur_strength": 0.25, "pixel_blocks": 4, "color": (1, 2, 3)}
    config = resolve_config(targets="face")
    assert Anonymizer(config, detectors=STUBS).config is config
    with pytest.raises(TypeError, match="not both"):
        Anonymizer(config, mode="blur", detectors=STUBS)
    with pytest.raises(TypeError, match="RunConfig"):
        Anonymizer(("face",))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: resolve_config("turbo"), "unknown profile 'turbo'"),
        (lambda: resolve_config(targets="faces"), "targets must be face, plate or face,plate"),
        (lambda: resolve_config(targets=()), "targets must be face, plate or face,plate"),
        (lambda: resolve_config(mode="sparkle"), "unknown mode 'sparkle'"),
        (lambda: resolve_config(detectors={"car": {}}), "unknown detector target"),
        (lambda: resolve_config(detectors={"face": {"confidence": 0.3}}), "unknown face detector setting"),
        (lambda: resolve_config(detectors={"face": {"conf": 1.5}}), "face conf must be between 0 and 1"),
        (lambda: resolve_config(video={"hodl": 3}), "unknown video setting"),
        (lambda: resolve_config(video={"preset": "warp"}), "unknown x264 preset 'warp'"),
        (lambda: resolve_config(video={"batch": 0}), "batch must be at least 1"),
        (lambda: resolve_config(image={"max_pixels": 0}), "max_pixels must be positive"),
        (lambda: resolve_config(redact={"sigma": 2}), "unknown redaction setting"),
        (lambda: resolve_config(pad=-0.1), "pad must be 0 or more"),
        (lambda: Anonymizer(profile="turbo", detectors=STUBS), "unknown profile 'turbo'"),
        (lambda: Anonymizer(mode="sparkle", detectors=STUBS), "unknown mode 'sparkle'"),
        (lambda: cli_config(["image", "in.jpg", "-o", "o", "--fast", "--profile", "default"]), "--fast contradicts"),
    ],
)
def test_unknown_names_and_bad_values_fail_with_one_line(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_front_ends_report_bad_choices_as_input_errors():
    with pytest.raises(InputError, match="unknown profile 'turbo'"):
        Settings(profile="turbo").config()
    with pytest.raises(InputError, match="select at least one target"):
        Settings(targets=()).config()
    with pytest.raises(InputError, match="face conf must be a number"):
        settings_from_form({t: True for t in TARGETS}, form_values(None, {"face": {"conf": "high"}}), "blur")
    assert set(MODES) >= {"blur", "pixelate", "solid", "ellipse", "boxes"}


def test_good_recheck_and_tracker_settings_reach_the_video_settings():
    from fpblur.config.settings import resolve_config
    from fpblur.track.recheck import RecheckSettings

    video = resolve_config(video={"recheck": {"budget": 0.3, "rotated": False}, "tracker": {"grow": 0.05}}).video
    assert video.recheck == {"budget": 0.3, "rotated": False} and video.tracker == {"grow": 0.05}
    assert RecheckSettings(**video.recheck).budget == 0.3
    assert resolve_config(video={"recheck": False}).video.recheck is False
    assert resolve_config().video.recheck is True


def test_video_settings_of_the_config_work_with_the_video_runner_settings():
    """``fpblur video`` hands ``config.video`` to the runner: every field the runner reads is there."""
    from fpblur.run import video as run_video

    assert run_video.VideoSettings is VideoSettings  # one definition: the runner takes the resolved settings


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"redact": {"pad_by_width": [0.1]}}, "pad_by_width must be a number"),
        ({"redact": {"pad_by_width": True}}, "pad_by_width must be a number"),
        ({"redact": {"pad_by_width": float("inf")}}, "pad_by_width must be 0 or more and finite"),
        ({"pad": float("inf")}, "pad must be 0 or more and finite"),
        ({"pad": float("nan")}, "pad must be 0 or more"),
        ({"redact": 5}, "redact must be a mapping"),
        ({"redact": ["pad_by_width"]}, "redact must be a mapping"),
        ({"video": 5}, "video must be a mapping"),
        ({"video": {"fast_motion": "x"}}, "fast_motion must be a number"),
        ({"video": {"fast_motion": -1}}, "fast_motion must be 0 or more"),
        ({"video": {"full": {"deep_every": 1.5}}}, "deep_every must be a whole number"),
        ({"video": {"full": {"upscale_max_side": -1}}}, "upscale_max_side must be a whole number"),
        ({"video": {"full": {"upscale_precision": "fp16"}}}, "upscale_precision must be fp32 or int8"),
        # the crop re-checks' and the tracker's settings are checked here too, not when a run has started
        ({"video": {"recheck": {"budgett": 0.5}}}, "unknown recheck setting.*budgett.*expected some of.*budget"),
        ({"video": {"recheck": {"budget": -1}}}, "recheck budget must be >= 0"),
        ({"video": {"recheck": {"budget": "all"}}}, "recheck settings .*budget"),
        ({"video": {"recheck": {"rotated": "no"}}}, "recheck rotated must be true or false"),
        ({"video": {"recheck": "yes"}}, "recheck must be true, false or a mapping"),
        ({"video": {"tracker": {"hodl": 3}}}, "unknown tracker setting.*hodl"),
        ({"video": {"tracker": {"hold": 3}}}, "hold: set hold \\(--hold\\)"),
        ({"video": {"tracker": {"conf": 0.3}}}, "conf: set the detector's conf"),
        ({"video": {"tracker": 3}}, "tracker must be a mapping"),
    ],
)
def test_bad_settings_are_one_line_errors_naming_the_setting(changes, message):
    from fpblur.config.settings import resolve_config

    with pytest.raises(ValueError, match=message) as info:
        resolve_config(**changes)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"recheck": {"coarsee": 1}}, "unknown recheck setting"), ({"tracker": {"hold": 3}}, "set hold \\(--hold\\)")],
)
def test_video_settings_made_without_the_resolver_get_the_same_checks(tmp_path, changes, message):
    """``VideoSettings`` built directly (``dataclasses.replace``) reach the runner unchecked: it refuses them with
    the resolver's one-line error before writing anything."""
    from dataclasses import replace

    from doubles import ScriptedDetector

    from fpblur.media.synth import write_video
    from fpblur.run.video import anonymize_video

    anonymizer = Anonymizer(targets=("face",), detectors={"face": ScriptedDetector(None, "face")})
    src = write_video(tmp_path / "clip.mp4", n=4)
    with pytest.raises(ValueError, match=message) as info:
        anonymize_video(
            src, tmp_path / "out.mp4", anonymizer, replace(anonymizer.config.video, progress=False, **changes)
        )
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
