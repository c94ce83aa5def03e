"""The notebook demo widget, driven from Python without a kernel: set values, click, check pixels and counts."""

from __future__ import annotations

import base64
import contextlib
import io
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("ipywidgets")

from clips import panning_clip
from doubles import upload_value

from fpblur.ui.session import AnonymizerCache, Settings, TargetSettings
from fpblur.ui.widgets import CODE_STYLE, BlurDemo


@pytest.fixture(scope="module")
def cache():
    return AnonymizerCache()


@pytest.fixture
def demo(cache, tmp_path):
    d = BlurDemo(cache=cache, save_dir=tmp_path / "saved")
    yield d
    d.close()


def decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert img is not None
    return img


def face_boxes(demo: BlurDemo) -> np.ndarray:
    return demo.result.detections.filter(demo.result.detections.labels == "face").boxes


def test_sample_blur_changes_faces_only(demo, zidane, no_network):
    demo.sample.value = "zidane.jpg"
    demo.targets["plate"].value = False
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert "2 faces, 0 plates" in demo.counts.value
    out, orig = demo.result.output, demo.result.original
    assert out.shape == orig.shape == zidane.shape
    assert np.array_equal(orig, zidane)
    regions = demo.cache.get(demo.settings()).regions(demo.result.detections, out.shape)
    mask = np.zeros(out.shape[:2], bool)
    for x1, y1, x2, y2 in np.round(regions.boxes).astype(int):
        mask[max(0, y1 - 1) : y2 + 1, max(0, x1 - 1) : x2 + 1] = True
    assert np.array_equal(out[~mask], orig[~mask])  # outside the padded faces: untouched
    assert np.abs(out[mask].astype(int) - orig[mask]).mean() > 3  # inside: changed
    # before/after previews are real JPEGs of the two images
    before, after = decode(demo.before.value), decode(demo.after.value)
    assert before.shape == after.shape and max(before.shape[:2]) <= 720
    assert np.abs(before.astype(int) - after).sum() > 0
    assert demo.progress.layout.visibility == "hidden"  # no progress bar for images


def test_sliders_and_mode_reach_the_anonymizer(demo, cache):
    demo.sample.value = "zidane.jpg"
    demo.mode.value = "solid"
    demo.controls["face"]["pad"].value = 0.0
    demo.controls["face"]["conf"].value = 0.5
    demo.run_button.click()
    assert demo.error is None, demo.error
    boxes = face_boxes(demo)
    assert len(boxes) == 2 and (demo.result.detections.scores >= 0.5).all()
    x1, y1, x2, y2 = np.round(boxes[0]).astype(int)
    assert (demo.result.output[y1 + 2 : y2 - 2, x1 + 2 : x2 - 2] == 0).all()  # solid black, no padding
    # a higher threshold than any score finds nothing, and mode change reuses the loaded models
    builds = cache.builds
    demo.mode.value = "pixelate"
    demo.run_button.click()
    assert cache.builds == builds
    demo.controls["face"]["conf"].value = 0.95
    demo.run_button.click()
    assert demo.error is None
    assert "0 faces" in demo.counts.value
    assert np.array_equal(demo.result.output, demo.result.original)


def test_settings_map_to_detector_specs(demo):
    demo.controls["plate"]["imgsz"].value = 320
    demo.controls["plate"]["iou"].value = 0.3
    demo.controls["face"]["imgsz"].value = 640
    s = demo.settings()
    specs = s.specs()
    assert specs["plate"].imgsz == (320,) and specs["plate"].effective_iou == pytest.approx(0.3)  # resolved: a tuple
    assert specs["face"].max_side == 640 and specs["face"].weights is None  # CenterFace: imgsz caps the side
    assert Settings(per_target={"face": TargetSettings(imgsz=0)}).specs()["face"].max_side is None


def test_plate_sample_and_download_link(demo):
    demo.sample.value = "car_plate.png"
    demo.targets["face"].value = False
    demo.mode.value = "boxes"
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert "1 plate" in demo.counts.value
    m = re.search(r'download="([^"]+)" href="data:image/png;base64,([^"]+)"', demo.download.value)
    assert m and m.group(1) == "car_plate_boxes.png"
    linked = cv2.imdecode(np.frombuffer(base64.b64decode(m.group(2)), np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(linked, demo.result.output)  # PNG: lossless round trip


def test_upload_image_and_save(demo, zidane, tmp_path):
    ok, buf = cv2.imencode(".png", zidane[:360, :640])
    demo.upload.value = upload_value("crop.png", buf.tobytes(), "image/png")
    assert demo.sample.value == ""  # the upload takes over from the sample
    demo.mode.value = "ellipse"
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert demo.result.original.shape == (360, 640, 3)
    assert demo.save_path.value.endswith("crop_ellipse.png")
    demo.save_button.click()
    saved = Path(demo.save_path.value)
    assert saved.is_file() and saved.parent == tmp_path / "saved"
    assert np.array_equal(cv2.imread(str(saved)), demo.result.output)
    custom = demo.save(tmp_path / "elsewhere" / "x.png")
    assert custom.is_file()


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("notes.txt", b"hello", "notes.txt: unsupported file type"),
        ("photo.jpg", b"not really a jpeg", "photo.jpg: not a readable image file"),
        ("empty.png", b"", "empty.png: empty file"),
        ("clip.mp4", b"\x00\x00\x00 garbage", "clip.mp4: cannot open as a video"),
    ],
)
def test_bad_uploads_are_reported_in_the_ui(demo, name, content, expected):
    demo.upload.value = upload_value(name, content)
    demo.run_button.click()
    assert demo.error is not None and expected in demo.error, demo.error
    assert "/tmp" not in demo.error  # the user's file name, not the temporary copy
    assert not demo.run_button.disabled  # still usable
    assert demo.result is None


def test_other_errors_are_reported_and_ui_recovers(demo, tmp_path):
    demo.sample.value = ""
    demo.run_button.click()
    assert "upload an image or video" in demo.error
    demo.save_button.click()
    assert "nothing to save yet" in demo.error
    demo.sample.value = "zidane.jpg"
    demo.controls["face"]["weights"].value = str(tmp_path / "missing.pt")
    demo.run_button.click()
    assert "face weights file not found" in demo.error
    demo.controls["face"]["weights"].value = str(tmp_path)
    demo.run_button.click()
    assert "face weights file not found" in demo.error
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    demo.controls["face"]["weights"].value = str(bad)
    demo.run_button.click()  # loading fails inside Ultralytics/torch: still a message, not a traceback
    assert demo.error and not demo.run_button.disabled
    for t in demo.targets.values():
        t.value = False
    demo.controls["face"]["weights"].value = ""
    demo.run_button.click()
    assert "select at least one target" in demo.error
    demo.targets["face"].value = True
    demo.run_button.click()
    assert demo.error is None and "2 faces" in demo.counts.value


def test_custom_weights_path_is_used(demo, tmp_path):
    from fpblur.models.registry import model_path

    weights = tmp_path / "my_plates.pt"
    weights.write_bytes(model_path("plate-yolov8n-pt").read_bytes())
    demo.sample.value = "car_plate.png"
    demo.targets["face"].value = False
    demo.controls["plate"]["weights"].value = str(weights)
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert demo.cache.get(demo.settings()).config.spec("plate").weights == str(weights)
    assert "1 plate" in demo.counts.value


def panning_video(photo: np.ndarray, frames: int) -> bytes:
    """An H.264 mp4 (in memory, lossless: :mod:`clips`) that pans across ``photo``: real faces in every frame."""
    buf = io.BytesIO()
    panning_clip(photo, buf, frames, step=8)
    return buf.getvalue()


def test_video_upload_shows_progress_and_result(demo, zidane):
    import av

    data = panning_video(zidane, frames=10)
    demo.upload.value = upload_value("pan.mp4", data, "video/mp4")
    demo.targets["plate"].value = False
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert demo.progress.layout.visibility == "visible"
    assert demo.progress.value == demo.progress.max == 10
    assert demo.progress.bar_style == "success"
    assert "2 faces" in demo.counts.value  # two face tracks
    assert demo.after_video.value[4:8] == b"ftyp" and demo.after_video.layout.display is None
    assert demo.result_name == "pan_blur.mp4"
    with av.open(str(demo.result.path)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 10
    assert 'href="data:video/mp4;base64,' in demo.download.value
    saved = demo.save()
    assert saved.name == "pan_blur.mp4" and saved.read_bytes() == demo.result.path.read_bytes()


def test_weights_named_for_the_other_target_are_refused(demo, cache):
    from fpblur.core.files import InputError
    from fpblur.models.registry import weights_for
    from fpblur.ui.session import resolve_weights

    assert resolve_weights("face", "centerface") is None and resolve_weights("plate", "default") is None
    assert weights_for("plate", " plate-yolov8n ") is None and weights_for("face", None) is None
    with pytest.raises(InputError, match="^plate-yolov8n detects plates, not faces$"):
        resolve_weights("face", "plate-yolov8n")
    with pytest.raises(InputError, match="^centerface detects faces, not plates$"):
        weights_for("plate", "centerface")
    builds = cache.builds
    demo.sample.value = "zidane.jpg"
    demo.controls["face"]["weights"].value = "plate-yolov8n"
    demo.run_button.click()
    assert demo.error == "plate-yolov8n detects plates, not faces"
    assert demo.result is None and cache.builds == builds  # no model was loaded for it


def test_imgsz_tooltips_describe_the_profile_default(demo):
    face, plate = demo.controls["face"]["imgsz"].tooltip, demo.controls["plate"]["imgsz"].tooltip
    assert "full resolution" not in face and "640 px" in face and "caps CenterFace's long side" in face
    assert "640 + 480 px" in plate


def test_default_output_switches_unwritable_video_types_to_mp4():
    from fpblur.ui.session import default_output

    assert default_output("/d/clip.avi") == Path("/d/clip_anon.mp4")
    assert default_output("/d/clip.webm", "/out") == Path("/out/clip_anon.mp4")
    assert default_output("/d/clip.ts") == Path("/d/clip_anon.mp4")
    assert default_output("/d/clip.m4v") == Path("/d/clip_anon.m4v")
    assert default_output("/d/clip.MOV") == Path("/d/clip_anon.MOV")
    assert default_output("/d/photo.PNG") == Path("/d/photo_anon.PNG")


def test_save_encodes_for_the_target_name_and_never_overwrites_the_input(demo, tmp_path, monkeypatch):
    from fpblur.models import samples
    from fpblur.ui.widgets import sample_path

    real_folder = samples.sample_folder  # a private sample folder: a regression must not hit the user's cache
    monkeypatch.setattr(samples, "sample_folder", lambda dest=None: real_folder(dest or tmp_path / "samples"))
    demo.sample.value = "zidane.jpg"
    demo.targets["plate"].value = False
    demo.run_button.click()
    assert demo.error is None, demo.error
    png = demo.save(tmp_path / "as.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # a PNG, though the result's name is .jpg
    assert np.array_equal(cv2.imread(str(png)), demo.result.output)
    assert demo.save(tmp_path / "as.jpeg").read_bytes()[:3] == b"\xff\xd8\xff"
    sample = sample_path("zidane.jpg")
    assert sample == tmp_path / "samples" / "zidane.jpg"
    before = sample.read_bytes()
    for bad, expected in (
        (sample, "output path equals the input"),
        (tmp_path / "as.txt", "an image result must be"),
        (tmp_path / "noext", "an image result must be"),
    ):
        demo.save_path.value = str(bad)
        demo.save_button.click()
        assert demo.error and expected in demo.error and str(bad) in demo.error, demo.error
    assert sample.read_bytes() == before  # the cached sample survived
    assert not (tmp_path / "as.txt").exists() and not (tmp_path / "noext").exists()


def test_same_upload_copied_once_and_old_outputs_removed(demo, zidane, tmp_path, monkeypatch):
    import weakref

    from fpblur.media import video_io

    ok, buf = cv2.imencode(".png", zidane[:200, :300])
    demo.upload.value = upload_value("crop.png", buf.tobytes(), "image/png")
    demo.targets["plate"].value = False
    for _ in range(2):
        demo.run_button.click()
        assert demo.error is None, demo.error
    assert len(list(demo._work.glob("in-*"))) == 1  # two clicks, one copy of the upload

    opened = []
    real_init = video_io.VideoReader.__init__

    def counting_init(self, path):
        opened.append(Path(path).name)
        real_init(self, path)

    monkeypatch.setattr(video_io.VideoReader, "__init__", counting_init)
    demo.upload.value = upload_value("pan.mp4", panning_video(zidane, frames=3), "video/mp4")
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert len(list(demo._work.glob("in-*"))) == 1  # the new upload replaced the old copy
    assert opened.count("pan.mp4") == 2  # the preview/frame-count probe and the pipeline, no third open
    first_out = demo.result.path.parent
    first_bytes = demo.after_video.value
    demo.mode.value = "pixelate"
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert not first_out.exists() and len(list(demo._work.glob("out-*"))) == 1  # only the latest output kept
    assert demo.after_video.value != first_bytes
    # the output is read once per run: Save and the player share the bytes even if the file is gone
    data = demo.after_video.value
    demo.result.path.unlink()
    assert demo.save(tmp_path / "v.m4v").read_bytes() == data
    demo.save_path.value = str(tmp_path / "v.mkv")
    demo.save_button.click()
    assert "the video result is MP4; save it as .mp4 or .m4v" in demo.error
    assert not (tmp_path / "v.mkv").exists()
    assert isinstance(demo._cleanup, weakref.finalize) and demo._cleanup.alive  # removed on GC / at exit too
    work = demo._work
    demo.close()
    assert not work.exists() and not demo._cleanup.alive


def test_colab_switch_is_a_no_op_elsewhere():
    from fpblur.ui.widgets import enable_colab_widgets

    assert enable_colab_widgets() is False


def broken_images(demo: BlurDemo) -> list[str]:
    """The panes that would show a broken-image icon: an Image or Video displayed without a value."""
    panes = {"before": demo.before, "after": demo.after, "after-video": demo.after_video}
    return [name for name, w in panes.items() if w.layout.display != "none" and not w.value]


def test_input_is_shown_as_soon_as_it_is_chosen(demo, zidane):
    """On load and on every choice the Before pane shows the input, and nothing shows a broken-image icon."""
    assert broken_images(demo) == []
    before = decode(demo.before.value)  # the preselected sample, before any click
    assert before.shape == (405, 720, 3)
    assert np.abs(before.astype(int) - cv2.resize(zidane, (720, 405), interpolation=cv2.INTER_AREA)).mean() < 4
    assert demo.after.layout.display == "none" and "Anonymize" in demo.after_note.value
    demo.sample.value = "car_plate.png"
    assert broken_images(demo) == [] and decode(demo.before.value).shape == (480, 640, 3)
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert broken_images(demo) == [] and demo.after.layout.display != "none"
    # another input: its picture at once, the previous result gone (After, counts, link, save path, result)
    demo.sample.value = "bus.jpg"
    assert broken_images(demo) == [] and decode(demo.before.value).shape[:2] == (720, 540)
    assert demo.after.layout.display == "none" and demo.after_note.layout.display != "none"
    assert demo.counts.value == demo.download.value == demo.save_path.value == ""
    assert demo.result is None
    demo.save_button.click()
    assert "nothing to save yet" in demo.error
    # an upload too: a video shows its first frame, and it is probed once for the preview and the run
    demo.upload.value = upload_value("pan.mp4", panning_video(zidane, frames=3), "video/mp4")
    assert demo.sample.value == "" and broken_images(demo) == []
    assert decode(demo.before.value).shape == (272, 480, 3) and "3 frames" in demo.message.value
    demo.upload.value = upload_value("bad.png", b"not a png", "image/png")  # a second upload replaces it
    assert "bad.png: not a readable image file" in demo.error and broken_images(demo) == []
    assert demo.before.layout.display == "none"


def test_a_run_clears_the_previous_result_first(demo, zidane, monkeypatch):
    """While a video runs, nothing of the previous (image) result is shown: counts, link, save path, After."""
    import fpblur.ui.widgets as widgets

    demo.sample.value = "zidane.jpg"
    demo.run_button.click()
    assert "2 faces" in demo.counts.value and demo.download.value and demo.save_path.value
    seen = []
    real = widgets.anonymize_video_file

    def spy(*args, progress=None, **kwargs):
        def on_progress(done, total):
            if not seen:  # the panel as the user sees it during the run
                seen.append(
                    {
                        "counts": demo.counts.value,
                        "download": demo.download.value,
                        "save_path": demo.save_path.value,
                        "after": demo.after.layout.display,
                        "note": demo.after_note.value,
                        "broken": broken_images(demo),
                        "result": demo.result,
                    }
                )
            progress(done, total)

        return real(*args, progress=on_progress, **kwargs)

    monkeypatch.setattr(widgets, "anonymize_video_file", spy)
    demo.upload.value = upload_value("pan.mp4", panning_video(zidane, frames=4), "video/mp4")
    demo.run_button.click()
    assert demo.error is None, demo.error
    assert seen == [
        {
            "counts": "",
            "download": "",
            "save_path": "",
            "after": "none",
            "note": '<i class="fpblur-note">working…</i>',
            "broken": [],
            "result": None,
        }
    ]
    assert "2 faces" in demo.counts.value and demo.save_path.value.endswith("pan_blur.mp4")


def test_save_goes_to_a_git_ignored_folder_beside_the_notebook(cache, monkeypatch):
    """Voilà and Jupyter run the notebook in notebooks/: the default save folder there is ignored by git."""
    import shutil
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    monkeypatch.chdir(root / "notebooks")
    d = BlurDemo(cache=cache)
    try:
        d.sample.value = "car_plate.png"
        d.run_button.click()
        assert d.error is None, d.error
        assert Path(d.save_path.value).is_absolute()  # the user sees where it goes
        saved = d.save()
        try:
            assert saved == Path(d.save_path.value) and saved.is_file()
            inside = saved.resolve().is_relative_to(root.resolve())
            ignored = subprocess.run(["git", "-C", str(root), "check-ignore", "-q", str(saved)]).returncode == 0
            assert ignored or not inside, f"{saved} would show up in git status"
        finally:
            saved.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                saved.parent.rmdir()
    finally:
        d.close()


def choose(demo: BlurDemo, case: str, tmp_path: Path) -> None:
    """Set the demo's widgets for one of the snippet test cases (as a user would, one widget at a time)."""
    if case == "face-pixelate":
        demo.targets["plate"].value = False
        demo.mode.value = "pixelate"
        demo.controls["face"]["conf"].value = 0.35
        demo.controls["face"]["pad"].value = 0.1
        demo.controls["face"]["imgsz"].value = 640
    elif case == "fast-plate-solid":
        demo.sample.value = "car_plate.png"
        demo.profile.value = "fast"
        demo.targets["face"].value = False
        demo.mode.value = "solid"
        demo.controls["plate"]["iou"].value = 0.3
        demo.controls["plate"]["imgsz"].value = 320
        demo.controls["plate"]["pad"].value = 0.4
    elif case == "custom-weights-boxes":
        demo.sample.value = "car_plate.png"
        demo.mode.value = "boxes"
        demo.controls["plate"]["weights"].value = str(own_plate_weights(tmp_path))
        demo.controls["plate"]["conf"].value = 0.25


SNIPPET_CASES = ("defaults", "face-pixelate", "fast-plate-solid", "custom-weights-boxes")


def own_plate_weights(tmp_path: Path) -> Path:
    from fpblur.models.registry import model_path

    weights = tmp_path / "my_plates.onnx"
    if not weights.exists():
        weights.write_bytes(model_path("plate-yolov8n").read_bytes())
    return weights


@pytest.mark.parametrize("case", SNIPPET_CASES)
def test_code_snippet_runs_and_reproduces_the_demo(demo, tmp_path, monkeypatch, case):
    """The "same from code" snippet follows the settings and, run as is, builds the demo's configuration and
    anonymizes the input the same way."""
    choose(demo, case, tmp_path)
    code = demo.code_text()
    assert f'mode="{demo.mode.value}"' in code and f'profile="{demo.profile.value}"' in code
    assert _unescape_html(demo.code.value) == f'<pre class="fpblur-code-text" style="{CODE_STYLE}">{code}</pre>'
    demo.run_button.click()
    assert demo.error is None, demo.error
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "<snippet>", "exec"), ns)  # the code as shown, unchanged
    assert ns["anonymizer"].config == demo.settings().config()
    assert np.array_equal(ns["out"], demo.result.output)
    assert ns["detections"].count("face") == demo.result.counts["face"]
    assert ns["detections"].count("plate") == demo.result.counts["plate"]
    assert (tmp_path / demo.result_name).is_file()  # written under the result's name


def test_code_snippet_for_an_uploaded_video(demo, zidane, tmp_path, monkeypatch):
    demo.upload.value = upload_value("pan.mp4", panning_video(zidane, frames=6), "video/mp4")
    demo.targets["plate"].value = False
    demo.mode.value = "ellipse"
    code = demo.code_text()
    assert 'anonymize_video("pan.mp4", "pan_ellipse.mp4", anonymizer, anonymizer.config.video)' in code
    demo.run_button.click()
    assert demo.error is None, demo.error
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pan.mp4").write_bytes(demo.upload.value[0]["content"])  # the user's own file, by its name
    ns: dict = {}
    exec(compile(code, "<snippet>", "exec"), ns)
    assert ns["anonymizer"].config == demo.settings().config()
    assert ns["report"].frames == demo.result.frames == 6
    assert {t: ns["report"].tracks.get(t, 0) for t in ("face", "plate")} == demo.result.counts


def test_code_snippet_says_why_when_settings_are_refused(demo):
    for t in demo.targets.values():
        t.value = False
    assert demo.code.value.startswith('<pre class="fpblur-code-text"')
    assert "# not runnable with these settings: select at least one target" in _unescape_html(demo.code.value)
    demo.targets["face"].value = True
    assert 'targets=("face",)' in _unescape_html(demo.code.value)


def _unescape_html(text: str) -> str:
    return text.replace("&quot;", '"').replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
