"""The Tk desktop app, driven for real under Xvfb (a virtual X display the test starts)."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

tk = pytest.importorskip("tkinter", reason="Python was built without Tk")

ROOT = Path(__file__).resolve().parent.parent


def _load_harness():
    """``scripts/make_screenshots.py``: the Voilà/Chromium/Xvfb helpers shared with the screenshot script."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import make_screenshots

    return make_screenshots


@pytest.fixture(scope="module")
def display():
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb); CI installs it")
    with _load_harness().xvfb_display() as disp:  # starts Xvfb on a free display and sets DISPLAY
        yield disp


@pytest.fixture(scope="module")
def cache():
    from fpblur.ui.session import AnonymizerCache

    return AnonymizerCache()  # shared: models load once for the module


@pytest.fixture
def app(display, cache):
    from fpblur.ui.app import FpblurApp

    a = FpblurApp(tk.Tk(), dialogs=_load_harness().RecordingDialogs(), cache=cache)
    a.root.update()
    yield a
    a.cancel()
    if a._worker is not None:
        a._worker.join(timeout=30)
    a.root.destroy()


def test_run_image_writes_output_and_preview(app, tmp_path, ultralytics_assets):
    src = tmp_path / "zidane.jpg"
    shutil.copyfile(ultralytics_assets / "zidane.jpg", src)
    dst = tmp_path / "out" / "result.png"
    app.input_path.set(str(src))
    app.output_path.set(str(dst))
    app.operation.set("pixelate")
    app.use["plate"].set(False)
    app.params["face"]["conf"].set("0.3")
    app.params["face"]["pad"].set("0.25")
    app.run_button.invoke()
    app.wait(120)
    assert app.dialogs.errors == []
    status = app.status.get()
    assert status.startswith("Done: 2 faces, 0 plates"), status
    assert str(dst) in status
    out = cv2.imread(str(dst))
    orig = cv2.imread(str(src))
    assert out.shape == orig.shape
    assert np.abs(out.astype(int) - orig).sum() > 0  # faces changed
    assert app.last_result.detections.count("face") == 2
    assert app.preview.cget("image")  # a preview is shown
    assert str(app.run_button.cget("state")) != "disabled"


def test_default_output_beside_input(app, tmp_path, zidane):
    src = tmp_path / "photo.jpg"
    cv2.imwrite(str(src), zidane)
    app.input_path.set(str(src))
    app.operation.set("boxes")
    app.run_button.invoke()
    app.wait(120)
    assert (tmp_path / "photo_anon.jpg").is_file()
    assert "photo_anon.jpg" in app.status.get()


@pytest.mark.parametrize(
    "setup, expected",
    [
        (lambda a, p: None, "choose an input file"),
        (lambda a, p: a.input_path.set(str(p / "missing.jpg")), "no such file"),
        (
            lambda a, p: (a.input_path.set(str(p / "notes.txt")), (p / "notes.txt").write_text("x")),
            "unsupported file type",
        ),
        (
            lambda a, p: (a.input_path.set(str(p / "clip.mp4")), (p / "clip.mp4").write_bytes(b"x")),
            "switch the mode to Video",
        ),
        (
            lambda a, p: (
                a.input_path.set(str(p / "a.jpg")),
                (p / "a.jpg").write_bytes(b"x"),
                a.params["face"]["conf"].set("high"),
            ),
            "face conf must be a number",
        ),
        (
            lambda a, p: (
                a.input_path.set(str(p / "a.jpg")),
                (p / "a.jpg").write_bytes(b"x"),
                a.params["plate"]["iou"].set("3"),
            ),
            "plate iou must be between 0 and 1",
        ),
        (
            lambda a, p: (
                a.input_path.set(str(p / "a.jpg")),
                (p / "a.jpg").write_bytes(b"x"),
                a.weights["face"].set(str(p / "nope.pt")),
            ),
            "face weights file not found",
        ),
        (
            lambda a, p: (
                a.input_path.set(str(p / "a.jpg")),
                (p / "a.jpg").write_bytes(b"x"),
                a.use["face"].set(False),
                a.use["plate"].set(False),
            ),
            "select at least one target",
        ),
    ],
    ids=[
        "no-input",
        "missing",
        "not-media",
        "video-in-image-mode",
        "bad-number",
        "out-of-range",
        "bad-weights",
        "no-target",
    ],
)
def test_bad_form_shows_error_dialog(app, tmp_path, setup, expected):
    setup(app, tmp_path)
    app.run_button.invoke()
    assert not app.busy
    assert len(app.dialogs.errors) == 1
    assert expected in app.dialogs.errors[0][1]
    assert expected in app.status.get()


@pytest.mark.parametrize("spelling", ["same", "dotted", "hard-link"])
def test_output_equal_to_input_is_refused(app, tmp_path, zidane, spelling):
    import os

    src = tmp_path / "photo.jpg"
    cv2.imwrite(str(src), zidane)
    before = src.read_bytes()
    app.input_path.set(str(src))
    if spelling == "same":
        app.output_path.set(str(src))
    elif spelling == "dotted":
        app.output_path.set(str(tmp_path / "." / "photo.jpg"))
    else:  # another name for the same file
        os.link(src, tmp_path / "alias.jpg")
        app.output_path.set(str(tmp_path / "alias.jpg"))
    app.run_button.invoke()
    app.wait(60)
    assert len(app.dialogs.errors) == 1, app.dialogs.errors
    assert "output path equals the input; refusing to overwrite an input" in app.dialogs.errors[0][1]
    assert src.read_bytes() == before  # the input was not touched
    assert str(app.run_button.cget("state")) != "disabled"


def test_video_types_the_writer_cannot_produce_default_to_mp4(app, tmp_path):
    app.media.set("video")
    for name, expected in (
        ("clip.avi", "clip_anon.mp4"),
        ("clip.webm", "clip_anon.mp4"),
        ("clip.ts", "clip_anon.mp4"),
        ("clip.m4v", "clip_anon.m4v"),
        ("clip.mov", "clip_anon.mov"),
    ):
        (tmp_path / name).write_bytes(b"x")
        app.input_path.set(str(tmp_path / name))
        app.output_path.set("")
        assert app.plan() == (tmp_path / name, tmp_path / expected, "video")
        app.output_path.set(str(tmp_path / "out"))
        (tmp_path / "out").mkdir(exist_ok=True)
        assert app.plan()[1] == tmp_path / "out" / expected  # an output folder gets the same name
    app.output_path.set(str(tmp_path / "x.avi"))
    from fpblur.core.files import InputError

    with pytest.raises(InputError, match=r"x.avi: video output must end in one of .mp4, .m4v, .mov, .mkv"):
        app.plan()


def test_imgsz_label_describes_the_profile_default(app):
    def frames(widget):
        for child in widget.winfo_children():
            yield child
            yield from frames(child)

    labels = [str(w.cget("text")) for w in frames(app.root) if w.winfo_class() == "TLabelframe"]
    detection = next(text for text in labels if text.startswith("Detection"))
    assert "model default" not in detection and "default profile" in detection and "CenterFace" in detection


def test_unreadable_image_reports_error_from_worker(app, tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    app.input_path.set(str(bad))
    app.run_button.invoke()
    app.wait(60)
    assert app.dialogs.errors and "not a readable image" in app.dialogs.errors[0][1]
    assert not (tmp_path / "broken_anon.jpg").exists()
    assert str(app.run_button.cget("state")) != "disabled"  # usable again


def make_video(path: Path, frames: int = 90, size: tuple[int, int] = (320, 240)) -> None:
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            img = np.full((size[1], size[0], 3), 40 + i % 100, np.uint8)
            img[::8] = rng.integers(0, 255, (len(img[::8]), size[0], 3), dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def test_cancel_video_run(app, tmp_path):
    src = tmp_path / "clip.mp4"
    make_video(src, frames=300)
    dst = tmp_path / "clip_out.mp4"
    app.media.set("video")
    app.input_path.set(str(src))
    app.output_path.set(str(dst))
    app.use["plate"].set(False)
    app.run_button.invoke()
    deadline = time.monotonic() + 60
    while not app.status.get().startswith("Frame"):  # cancel mid-video, once frames are flowing
        assert app.busy and time.monotonic() < deadline, app.status.get()
        app.root.update()
        time.sleep(0.01)
    app.cancel_button.invoke()
    app.wait(60)
    assert app.status.get().startswith("Cancelled"), (app.status.get(), app.dialogs.errors)
    assert not dst.exists()
    assert not [p for p in tmp_path.iterdir() if p.name not in ("clip.mp4",)]  # no partial file left
    assert app.dialogs.errors == []
    assert str(app.run_button.cget("state")) != "disabled"


def test_video_run_completes(app, tmp_path):
    src = tmp_path / "clip.mp4"
    make_video(src, frames=12)
    app.media.set("video")
    app.input_path.set(str(src))
    app.use["plate"].set(False)
    app.run_button.invoke()
    app.wait(120)
    assert app.dialogs.errors == []
    assert app.status.get().startswith("Done: 0 faces"), app.status.get()
    import av

    with av.open(str(tmp_path / "clip_anon.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 12
    assert float(app.progress.cget("value")) == float(app.progress.cget("maximum"))


def test_output_name_follows_the_chosen_input(app, tmp_path, zidane):
    """Choosing an input fills Output with NAME_anon.EXT; an output the user chose for a previous input gives way
    to the new input's name in the same folder (a .jpg left over for a video input used to fail the run)."""
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), zidane[:240, :320])
    clip = tmp_path / "clip.avi"
    make_video(tmp_path / "clip.mp4", frames=6)
    (tmp_path / "clip.mp4").rename(clip)
    (tmp_path / "mine").mkdir()

    app.dialogs.answers[:] = [str(photo)]
    app.choose_input()
    assert app.output_path.get() == str(tmp_path / "photo_anon.jpg")  # derived when chosen, shown in the field
    app.dialogs.answers[:] = [str(tmp_path / "mine" / "blurred.jpg")]
    app.choose_output()  # the user's choice for this input
    assert app.output_path.get() == str(tmp_path / "mine" / "blurred.jpg")
    app.operation.set("boxes")
    assert app.plan()[1] == tmp_path / "mine" / "blurred.jpg"

    app.media.set("video")
    app.dialogs.answers[:] = [str(clip)]
    app.choose_input()  # a new input: the old .jpg name is not reused; the user's folder is
    assert app.output_path.get() == str(tmp_path / "mine" / "clip_anon.mp4")
    app.use["plate"].set(False)
    app.run_button.invoke()
    app.wait(120)
    assert app.dialogs.errors == [], app.dialogs.errors
    assert app.status.get().startswith("Done: 0 faces"), app.status.get()
    assert (tmp_path / "mine" / "clip_anon.mp4").is_file()

    app.input_path.set(str(tmp_path / "clip.avi"))  # the same input again: the derived name stays
    assert app.output_path.get() == str(tmp_path / "mine" / "clip_anon.mp4")
    app.output_path.set(str(tmp_path / "mine"))  # a folder is kept for every input (the name goes inside)
    app.media.set("image")
    app.input_path.set(str(photo))
    assert app.output_path.get() == str(tmp_path / "mine")
    assert app.plan()[1] == tmp_path / "mine" / "photo_anon.jpg"
    app.output_path.set("")  # emptied by the user: the next input derives again, beside itself
    app.input_path.set(str(tmp_path / "other.png"))
    assert app.output_path.get() == str(tmp_path / "other_anon.png")


def test_output_typed_before_the_input_is_kept(app, tmp_path, zidane):
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), zidane[:240, :320])
    app.output_path.set(str(tmp_path / "result.png"))
    for partial in ("/", str(tmp_path), str(photo)):  # typed by hand, one piece at a time
        app.input_path.set(partial)
    assert app.output_path.get() == str(tmp_path / "result.png")
    assert app.plan() == (photo, tmp_path / "result.png", "image")


def test_preview_is_cleared_when_a_run_starts_and_when_it_is_cancelled(app, tmp_path, zidane):
    """The previous picture (here an un-anonymized Bounding Box frame) never stays on screen during the next run
    or after Cancel."""
    photo = tmp_path / "photo.jpg"
    cv2.imwrite(str(photo), zidane)
    app.input_path.set(str(photo))
    app.operation.set("boxes")
    app.use["plate"].set(False)
    app.run_button.invoke()
    app.wait(120)
    assert str(app.preview.cget("image")), "a preview is shown after a run"

    app.operation.set("pixelate")
    app.run_button.invoke()  # the worker's result is only handled by the Tk loop: nothing has run it yet
    assert str(app.preview.cget("image")) == ""
    assert str(app.preview.cget("text")) == "Working on photo.jpg…"
    app.wait(120)
    assert str(app.preview.cget("image")) and app.status.get().startswith("Done: 2 faces")

    clip = tmp_path / "clip.mp4"
    make_video(clip, frames=300)
    app.media.set("video")
    app.input_path.set(str(clip))
    assert str(app.preview.cget("image")) == ""  # another input: the old result goes at once
    app.operation.set("boxes")
    app.run_button.invoke()
    assert str(app.preview.cget("image")) == ""
    deadline = time.monotonic() + 60
    while not app.status.get().startswith("Frame"):
        assert app.busy and time.monotonic() < deadline, app.status.get()
        app.root.update()
        time.sleep(0.01)
    app.cancel_button.invoke()
    app.wait(60)
    assert app.status.get().startswith("Cancelled"), app.status.get()
    assert str(app.preview.cget("image")) == "" and "Cancelled" in str(app.preview.cget("text"))

    bad = tmp_path / "broken.jpg"  # a failed run leaves no picture either
    bad.write_bytes(b"not a jpeg")
    app.media.set("image")
    app.input_path.set(str(photo))
    app.run_button.invoke()
    app.wait(120)
    assert str(app.preview.cget("image"))
    app.input_path.set(str(bad))
    app.run_button.invoke()
    app.wait(60)
    assert app.dialogs.errors and str(app.preview.cget("image")) == ""


def test_entry_points_without_tk_give_the_friendly_message(tmp_path):
    import os
    import subprocess

    fake = tmp_path / "no_tk" / "tkinter"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError(\"No module named '_tkinter'\")\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(fake.parent), str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    for cmd in ([sys.executable, "-m", "fpblur", "app"], [sys.executable, str(ROOT / "face_plate_tool.py")]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 2, proc
        assert "the desktop app needs tkinter" in proc.stderr and "python3-tk" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    help_text = subprocess.run(
        [sys.executable, str(ROOT / "face_plate_tool.py"), "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "--faces" in help_text and "--plates" in help_text  # same flags as fpblur app


def test_cli_entry_points_without_a_display(tmp_path):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    for cmd in ([sys.executable, "-m", "fpblur", "app"], [sys.executable, str(ROOT / "face_plate_tool.py")]):
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert proc.returncode == 2, proc
        assert "needs a display" in proc.stderr and "xvfb-run" in proc.stderr
        assert "Traceback" not in proc.stderr
    help_text = subprocess.run(
        [sys.executable, "-m", "fpblur", "app", "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "--faces" in help_text and "--plates" in help_text
