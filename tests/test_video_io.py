"""Video I/O through ``fpblur video``: audio copied byte for byte, frame count/timing kept, rotation, odd
sizes, containers by extension, truncated and failing inputs (videos generated here with PyAV/ffmpeg)."""

from __future__ import annotations

import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from fpblur.cli import main
from fpblur.media.synth import pattern_frame, probe, write_video

FACE_ONLY = ["--targets", "face"]  # the I/O tests need a detector, not the slower plate model


def run_cli(*args: str) -> int:
    return main(["video", *map(str, args)])


def assert_same_timing(src: Path, dst: Path) -> None:
    a, b = probe(src), probe(dst)
    assert b.frames == a.frames
    assert np.allclose(b.times, a.times, atol=1e-3), (a.times, b.times)
    assert b.duration == pytest.approx(a.duration, abs=0.03)


def assert_audio_copied(src: Path, dst: Path, streams: int) -> None:
    a, b = probe(src), probe(dst)
    assert len(a.audio) == len(b.audio) == streams
    assert b.audio_codecs == a.audio_codecs
    for sa, sb in zip(a.audio, b.audio):
        assert len(sa) == len(sb) > 0
        assert [payload for _, payload in sa] == [payload for _, payload in sb]  # byte-identical packets


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_aac_audio_copied_and_timing_kept(tmp_path):
    src = write_video(tmp_path / "in.mp4", n=12, audio=("aac",))
    dst = tmp_path / "out.mp4"
    assert run_cli(src, "-o", dst, *FACE_ONLY) == 0
    assert_same_timing(src, dst)
    assert_audio_copied(src, dst, 1)
    out = probe(dst, images=True)
    assert out.codec == "h264" and out.format.startswith("mov,mp4")
    # nothing detected on the pattern: pixels are the input's (up to re-encoding)
    for i, img in enumerate(out.images):
        assert mean_abs_diff(img, pattern_frame(64, 48, i)) < 6


def test_two_audio_tracks_in_mkv(tmp_path):
    src = write_video(tmp_path / "two.mkv", audio=("aac", "aac"))
    dst = tmp_path / "out" / "two.mkv"
    assert run_cli(src, "-o", dst, *FACE_ONLY) == 0
    assert probe(dst).format.startswith("matroska")
    assert_same_timing(src, dst)
    assert_audio_copied(src, dst, 2)


def test_no_audio(tmp_path):
    src = write_video(tmp_path / "silent.mov")
    dst = tmp_path / "silent_out.mov"
    assert run_cli(src, "-o", dst, *FACE_ONLY) == 0
    assert probe(dst).audio == []
    assert probe(dst).format.startswith("mov,mp4")
    assert_same_timing(src, dst)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_applied_to_pixels(tmp_path, rotation):
    """Phone videos store landscape pixels plus a display matrix; the output is upright pixels (no matrix)
    and looks exactly like ffmpeg's own autorotated decode of the input."""
    src = write_video(tmp_path / f"rot{rotation}.mp4", size=(64, 48), rotation=rotation, audio=("aac",))
    assert probe(src).rotation == rotation
    dst = tmp_path / "upright.mp4"
    assert run_cli(src, "-o", dst, *FACE_ONLY) == 0
    out = probe(dst, images=True)
    assert out.rotation == 0
    assert (out.width, out.height) == ((48, 64) if rotation in (90, 270) else (64, 48))
    import imageio_ffmpeg

    raw = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(src), "-f", "rawvideo", "-pix_fmt", "bgr24", "-"],
        capture_output=True,
        check=True,
    ).stdout
    reference = np.frombuffer(raw, np.uint8).reshape(-1, out.height, out.width, 3)
    assert len(reference) == out.frames
    assert mean_abs_diff(np.array(out.images), reference) < 6
    # the red block stored top-left ends where a player shows it
    first = out.images[0].astype(int)
    red = (first[:, :, 2] > 150) & (first[:, :, 0] < 80)
    ys, xs = np.nonzero(red)
    corner = {90: ("bottom", "left"), 180: ("bottom", "right"), 270: ("top", "right")}[rotation]
    assert (ys.mean() > out.height / 2) == (corner[0] == "bottom")
    assert (xs.mean() > out.width / 2) == (corner[1] == "right")
    assert_audio_copied(src, dst, 1)
    assert_same_timing(src, dst)


def test_variable_frame_rate_pts_preserved(tmp_path):
    pts = [0, 40, 80, 200, 240, 400, 410, 420, 600, 700, 1000, 1033]
    src = write_video(tmp_path / "vfr.mp4", pts=pts, time_base=Fraction(1, 1000), fps=12, audio=("aac",))
    assert np.allclose(probe(src).times, np.array(pts) / 1000)
    dst = tmp_path / "vfr_out.mkv"  # across containers too (mp4 → mkv time bases differ)
    assert run_cli(src, "-o", dst, *FACE_ONLY) == 0
    assert np.allclose(probe(dst).times, np.array(pts) / 1000, atol=1e-3)
    assert probe(dst).frames == len(pts)
    assert probe(dst).duration == pytest.approx(probe(src).duration, abs=0.03)
    assert_audio_copied(src, dst, 1)


@pytest.mark.parametrize("codec", ["libx264rgb", "mjpeg"])
def test_odd_width_and_height_padded_by_one_pixel(tmp_path, codec):
    src = write_video(tmp_path / "odd.mkv", size=(63, 47), codec=codec, audio=("aac",))
    assert (probe(src).width, probe(src).height) == (63, 47)
    dst = tmp_path / "odd_out.mp4"
    assert run_cli(src, "-o", dst, *FACE_ONLY) == 0
    a, b = probe(src, images=True), probe(dst, images=True)
    assert (b.width, b.height) == (64, 48) and b.frames == a.frames
    picture = np.array(b.images)[:, :47, :63]
    assert mean_abs_diff(picture, np.array(a.images)) < 9  # same picture (yuv420p chroma on a sharp pattern)
    # the added column/row repeats the last one
    assert mean_abs_diff(np.array(b.images)[:, :47, 63], np.array(b.images)[:, :47, 62]) < 9
    assert_audio_copied(src, dst, 1)


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


@pytest.mark.parametrize("kind", ["mp4", "mp4-faststart", "mkv"])
def test_truncated_input_fails_without_output(tmp_path, kind, capsys):
    full = write_video(tmp_path / "full.mp4", n=24, audio=("aac",))
    if kind == "mp4-faststart":
        _ffmpeg("-i", str(full), "-c", "copy", "-movflags", "+faststart", str(tmp_path / "fs.mp4"))
        full = tmp_path / "fs.mp4"
    elif kind == "mkv":
        _ffmpeg("-i", str(full), "-c", "copy", str(tmp_path / "full.mkv"))
        full = tmp_path / "full.mkv"
    data = full.read_bytes()
    src = tmp_path / f"cut{full.suffix}"
    src.write_bytes(data[: len(data) * 3 // 5])
    out_dir = tmp_path / "out"
    rc = run_cli(src, "-o", out_dir, *FACE_ONLY)
    err = capsys.readouterr().err
    assert rc != 0
    lines = [line for line in err.splitlines() if "error" in line]
    assert len(lines) == 1 and str(src) in lines[0], err
    assert not any(out_dir.rglob("*")) if out_dir.exists() else True  # no output, no temp file


def test_not_a_video_and_empty_file(tmp_path, capsys):
    (tmp_path / "text.mp4").write_text("hello")
    (tmp_path / "empty.mp4").write_bytes(b"")
    good = write_video(tmp_path / "good.mp4")
    rc = run_cli(tmp_path / "text.mp4", tmp_path / "empty.mp4", good, "-o", tmp_path / "out", *FACE_ONLY)
    err = capsys.readouterr().err
    assert rc == 1  # some failed, the good one was done
    assert "text.mp4" in err and "empty.mp4" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.mp4"]


class ExplodingDetector:
    """A face detector that fails on its 5th call (a model or driver crash mid-video)."""

    label = "face"

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, image):
        from fpblur.core.detections import Detections

        self.calls += 1
        if self.calls == 5:
            raise RuntimeError("CUDA error: device lost")
        return Detections()


def test_failure_mid_video_leaves_no_output(tmp_path):
    from fpblur.config.settings import VideoSettings
    from fpblur.redact.anonymizer import Anonymizer
    from fpblur.run.video import VideoError, anonymize_video

    src = write_video(tmp_path / "in.mp4", n=40, audio=("aac",))
    dst = tmp_path / "out.mp4"
    anon = Anonymizer(targets=("face",), detectors={"face": ExplodingDetector()})
    with pytest.raises(VideoError, match="device lost") as info:
        anonymize_video(src, dst, anon, VideoSettings(queue_size=2, batch=1, lookahead=0))
    assert str(src) in str(info.value) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == [src]  # neither the output nor its temporary file


def test_folder_recursive_mirrored_skip_existing_and_log(tmp_path, capsys):
    import json

    src = tmp_path / "videos"
    write_video(src / "a.mp4", n=6)
    write_video(src / "trip" / "b.mkv", n=6, audio=("aac",))
    write_video(src / "old" / "c.avi", n=6, codec="mpeg4")
    out = tmp_path / "out"
    log = tmp_path / "frames.jsonl"
    assert run_cli(src, "-o", out, "--log", log, *FACE_ONLY) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "a.mp4",
        "old/c.mp4",
        "trip/b.mkv",
    ]  # .avi cannot hold our H.264 stream as-is: written as .mp4
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 18
    assert {r["video"] for r in records} == {"a.mp4", "trip/b.mkv", "old/c.avi"}
    assert set(records[0]) >= {"video", "frame", "pts", "time", "detections", "anonymized"}
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert run_cli(src, "-o", out, *FACE_ONLY) == 0
    assert "skipped 3" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert run_cli(src / "a.mp4", "-o", out / "a.mp4", "--overwrite", *FACE_ONLY) == 0
    assert (out / "a.mp4").stat().st_mtime_ns != before[out / "a.mp4"]


def test_refuses_bad_output_extension_and_input_as_output(tmp_path, capsys):
    src = write_video(tmp_path / "in.mp4")
    assert run_cli(src, "-o", tmp_path / "out.avi", *FACE_ONLY) == 2
    assert run_cli(src, "-o", src, "--overwrite", *FACE_ONLY) == 2
    err = capsys.readouterr().err
    assert ".avi" in err and "equals the input" in err


def test_settings_parse_frames_and_seconds():
    from fpblur.run.video import span_frames

    assert span_frames("0.5s", 30) == 15
    assert span_frames("12", 30) == 12
    assert span_frames(0, 30) == 0
    with pytest.raises(ValueError):
        span_frames("1.5", 30)
    with pytest.raises(SystemExit):
        main(["video", "x.mp4", "-o", "y", "--hold", "abc"])


def test_memory_does_not_grow_with_video_length(tmp_path):
    """Bounded queues: peak memory for a 5× longer video is about the same."""
    import tracemalloc

    from fpblur.config.settings import VideoSettings
    from fpblur.redact.anonymizer import Anonymizer
    from fpblur.run.video import anonymize_video

    anon = Anonymizer(targets=("face",))
    peaks = []
    for n in (40, 200):
        src = write_video(tmp_path / f"len{n}.mp4", size=(320, 240), n=n, fps=25)
        tracemalloc.start()
        anonymize_video(src, tmp_path / f"out{n}.mp4", anon, VideoSettings(lookahead="4", queue_size=4))
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    frame = 320 * 240 * 3
    assert peaks[1] < peaks[0] * 1.3 + 4 * frame, peaks
    assert peaks[1] < 80 * frame  # far below the 200 frames of the longer video


def test_two_inputs_to_one_output_and_log_over_input_refused(tmp_path, capsys):
    """Refused while planning, before any decoding: the files need not even be videos."""
    (tmp_path / "clip.avi").write_bytes(b"x")
    (tmp_path / "clip.mp4").write_bytes(b"x")
    assert run_cli(tmp_path / "clip.avi", tmp_path / "clip.mp4", "-o", tmp_path / "out", *FACE_ONLY) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "would be written twice" in err[0] and str(tmp_path / "out" / "clip.mp4") in err[0]
    assert run_cli(tmp_path / "clip.mp4", "-o", tmp_path / "out", "--log", tmp_path / "clip.mp4", *FACE_ONLY) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and "refusing to overwrite an input" in err[0]
    assert (tmp_path / "clip.mp4").read_bytes() == b"x" and not (tmp_path / "out").exists()


def test_cancel_raises_cancelled_and_leaves_no_output(tmp_path):
    """Setting ``cancel`` stops every stage; the one cancellation type comes out unchanged (not a VideoError)."""
    import threading

    from fpblur.config.settings import VideoSettings
    from fpblur.core.detections import Detections
    from fpblur.redact.anonymizer import Anonymizer
    from fpblur.run.video import Cancelled, VideoError, anonymize_video

    src = write_video(tmp_path / "in.mp4", n=60, audio=("aac",))
    anon = Anonymizer(targets=("face",), detectors={"face": lambda image: Detections()})
    cancel = threading.Event()
    seen = []

    def on_frame(record):
        seen.append(record["frame"])
        if len(seen) == 5:
            cancel.set()

    with pytest.raises(Cancelled) as info:
        anonymize_video(
            src, tmp_path / "out.mp4", anon, VideoSettings(queue_size=2, lookahead=0), on_frame=on_frame, cancel=cancel
        )
    assert not isinstance(info.value, VideoError) and len(seen) < 60
    assert list(tmp_path.iterdir()) == [src]  # neither the output nor its temporary file
    with pytest.raises(Cancelled):  # already set: nothing is done
        anonymize_video(src, tmp_path / "out.mp4", anon, VideoSettings(), cancel=cancel)
    assert list(tmp_path.iterdir()) == [src]
