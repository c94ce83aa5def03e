"""The seven reported examples of silently wrong outputs (issue 14), each rebuilt as a small input and checked for
the right value: truncated containers, orientation applied twice, animations shrunk to one frame, the pixel
limit, VFR durations, stream properties, WebM → MP4 audio trim."""

from __future__ import annotations

import re
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from fpblur.cli import main
from fpblur.media.specimens import AudioTrack, face_picture, write_specimen_image, write_specimen_video
from fpblur.models.samples import photo_path

FACE_ONLY = ["--targets", "face"]


def errors(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if "error" in line]


def files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# -- 1. truncated containers ----------------------------------------------------------------------------------


def test_truncated_mjpeg_pcm_avi_is_refused(tmp_path, capsys):
    """The reported file: 2 s MJPEG + PCM AVI announcing 50 frames, cut at 60 % of its bytes (it gave 30
    frames and exit 0)."""
    full = write_specimen_video(
        tmp_path / "full.avi", codec="mjpeg", pix_fmt="yuvj420p", size=(64, 48), n=50, fps=25,
        audio=(AudioTrack("pcm_s16le"),),
    )  # fmt: skip
    with av.open(str(full)) as c:
        assert c.streams.video[0].frames == 50
    data = full.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) * 6 // 10])
    out = tmp_path / "out"
    assert main(["video", str(cut), "-o", str(out / "cut.mp4"), *FACE_ONLY]) != 0
    lines = errors(capsys)
    assert len(lines) == 1 and str(cut) in lines[0] and "truncated" in lines[0], lines
    assert files(out) == []  # no output, no temporary file
    # the whole file is fine: all 50 frames
    assert main(["video", str(full), "-o", str(out / "full.mp4"), *FACE_ONLY]) == 0
    with av.open(str(out / "full.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 50


def test_avi_cut_between_chunks_is_refused_by_its_frame_count(tmp_path, capsys):
    """Cut exactly at the start of a video chunk (no half packet, the index gone, so FFmpeg reports ~1.3 s): only
    the header's frame count shows that 20 frames are missing."""
    full = write_specimen_video(tmp_path / "full.avi", codec="mjpeg", pix_fmt="yuvj420p", size=(64, 48), n=50, fps=25)
    with av.open(str(full)) as c:
        positions = [p.pos for p in c.demux(video=0) if p.size]
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: positions[30]])
    with av.open(str(cut)) as c:
        assert c.streams.video[0].frames == 50 and c.duration / 1e6 < 1.5  # the index is gone: FFmpeg counts
    assert main(["video", str(cut), "-o", str(tmp_path / "out"), *FACE_ONLY]) != 0
    lines = errors(capsys)
    assert len(lines) == 1 and re.search(r"3\d of 50 announced video frames", lines[0]), lines
    assert files(tmp_path / "out") == []


TRUNCATED = {
    "mp4-faststart": dict(ext="mp4", options={"movflags": "faststart"}, audio=("aac",)),
    "mp4": dict(ext="mp4", options=None, audio=("aac",)),  # index at the end: cannot even be opened
    "mov-faststart": dict(ext="mov", options={"movflags": "faststart"}, audio=("pcm_s16le",)),
    "m4v-faststart": dict(ext="m4v", options={"movflags": "faststart"}, audio=()),
    "mkv": dict(ext="mkv", options=None, audio=("libopus",)),
    "mkv-silent": dict(ext="mkv", options=None, audio=()),
    "webm": dict(ext="webm", options=None, audio=("libopus",), codec="libvpx-vp9"),
    "avi-h264-mp3": dict(ext="avi", options=None, audio=("libmp3lame",)),
    "ts": dict(ext="ts", options=None, audio=("aac",)),
}


@pytest.mark.parametrize("kind", TRUNCATED)
def test_every_accepted_container_fails_closed_when_truncated(tmp_path, kind, capsys):
    spec = TRUNCATED[kind]
    full = write_specimen_video(
        tmp_path / f"full.{spec['ext']}",
        codec=spec.get("codec", "libx264"),
        size=(64, 48),
        n=50,
        fps=25,
        audio=tuple(AudioTrack(a) for a in spec["audio"]),
        container_options=spec["options"],
    )
    data = full.read_bytes()
    cut = tmp_path / f"cut.{spec['ext']}"
    size = len(data) * 6 // 10
    if spec["ext"] == "ts" and size % 188 == 0:
        size -= 94  # a download cut exactly between two TS packets cannot be told from a short file (README)
    cut.write_bytes(data[:size])
    out = tmp_path / "out"
    assert main(["video", str(cut), "-o", str(out), *FACE_ONLY]) != 0
    lines = errors(capsys)
    assert len(lines) == 1 and str(cut) in lines[0], lines
    assert files(out) == []
    assert main(["video", str(full), "-o", str(out), *FACE_ONLY]) == 0  # the whole file passes every check


# -- 2. orientation applied once, for every format -----------------------------------------------------------


def test_tiff_orientation_is_applied_once(tmp_path):
    """zidane.jpg stored turned with Orientation 3/6/8, as TIFF (PIL's TIFF reader turns it itself), JPEG, PNG
    and WebP: every output is upright and equals the upright input's output."""
    rgb = Image.open(photo_path("zidane.jpg")).convert("RGB").resize((640, 360))
    src = tmp_path / "in"
    src.mkdir()
    rgb.save(src / "upright.tif")
    stored = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    for fmt, ext in (("TIFF", "tif"), ("JPEG", "jpg"), ("PNG", "png"), ("WEBP", "webp")):
        for o, turn in stored.items():
            exif = Image.Exif()
            exif[0x0112] = o
            kw = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
            rgb.transpose(turn).save(src / f"o{o}.{ext}", format=fmt, exif=exif.tobytes(), **kw)
    out = tmp_path / "out"
    assert main(["image", str(src), "-o", str(out), *FACE_ONLY]) == 0
    reference = cv2.imread(str(out / "upright.tif")).astype(int)
    assert reference.shape == (360, 640, 3)
    assert np.abs(reference - cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)).mean() > 0.5  # faces anonymized
    for path in files(out):
        got = cv2.imread(str(path))
        assert got.shape == reference.shape, path.name
        lossy = path.suffix in (".jpg", ".webp")
        assert np.abs(got.astype(int) - reference).mean() < (4 if lossy else 0.01), path.name


# -- 3. animations keep every frame --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["WEBP", "PNG", "GIF"])
def test_animations_keep_every_frame_duration_and_loop(tmp_path, fmt):
    ext = {"WEBP": "webp", "PNG": "png", "GIF": "gif"}[fmt]
    src, box = write_specimen_image(
        tmp_path / f"anim.{ext}", format=fmt, frames=3, durations=[100, 250, 400], loop=2, size=(240, 180)
    )
    out = tmp_path / f"out.{ext}"
    assert main(["image", str(src), "-o", str(out), *FACE_ONLY]) == 0
    x1, y1, x2, y2 = box
    with Image.open(src) as a, Image.open(out) as b:
        assert b.format == a.format and getattr(b, "n_frames", 1) == 3
        for k in range(3):
            a.seek(k)
            b.seek(k)
            a.load()
            b.load()
            assert b.info.get("duration") == a.info.get("duration") == [100, 250, 400][k]
            assert b.info.get("loop") == 2
            pa, pb = np.asarray(a.convert("RGB")).astype(int), np.asarray(b.convert("RGB")).astype(int)
            assert np.abs(pb[y1:y2, x1:x2] - pa[y1:y2, x1:x2]).mean() > 8, f"frame {k} not anonymized"
            assert np.abs(pb[:, x2 + 10 :] - pa[:, x2 + 10 :]).mean() < 3  # the rest unchanged


def test_multipage_tiff_keeps_every_page(tmp_path):
    src, box = write_specimen_image(tmp_path / "pages.tif", format="TIFF", frames=3)
    out = tmp_path / "out.tif"
    assert main(["image", str(src), "-o", str(out), *FACE_ONLY]) == 0
    x1, y1, x2, y2 = box
    with Image.open(src) as a, Image.open(out) as b:
        assert b.n_frames == 3
        for k in range(3):
            a.seek(k)
            b.seek(k)
            pa, pb = np.asarray(a.convert("RGB")).astype(int), np.asarray(b.convert("RGB")).astype(int)
            assert np.abs(pb[y1:y2, x1:x2] - pa[y1:y2, x1:x2]).mean() > 8


def test_animation_to_a_single_image_format_is_refused(tmp_path, capsys):
    src, _ = write_specimen_image(tmp_path / "anim.gif", format="GIF", frames=3, durations=[100, 100, 100])
    good, _ = write_specimen_image(tmp_path / "still.gif", format="GIF")
    out = tmp_path / "out"
    assert main(["image", str(src), "-o", str(out / "anim.jpg"), *FACE_ONLY]) != 0
    lines = errors(capsys)
    assert len(lines) == 1 and "3 frames cannot be written as .jpg" in lines[0], lines
    assert files(out) == []
    assert main(["image", str(good), "-o", str(out / "still.jpg"), *FACE_ONLY]) == 0  # one frame: fine


# -- 4. one pixel limit: the user's --------------------------------------------------------------------------


def test_96_megapixel_jpeg_is_read_under_the_default_and_a_larger_user_limit(tmp_path):
    from fpblur.media.images import read_image

    big = tmp_path / "big.jpg"
    Image.new("L", (12000, 8000), 128).save(big, quality=50)
    assert read_image(big).pixels.shape == (8000, 12000)  # 96 MP < the 100 MP default
    assert read_image(big, max_pixels=300_000_000).pixels.shape == (8000, 12000)
    assert Image.MAX_IMAGE_PIXELS == 89_478_485  # PIL's own setting is left as it was


def test_the_user_limit_replaces_pils_bomb_limit_both_ways(tmp_path, monkeypatch, capsys):
    from fpblur.core.files import InputError
    from fpblur.media.images import read_image

    path = tmp_path / "img.png"
    Image.new("RGB", (100, 80), (1, 2, 3)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # PIL alone would refuse 8000 pixels as a bomb
    assert read_image(path, max_pixels=8000).pixels.shape == (80, 100, 3)
    loads = []
    monkeypatch.setattr(Image.Image, "load", lambda self: loads.append(1))
    with pytest.raises(InputError, match="exceeds the pixel limit of 7,999"):
        read_image(path, max_pixels=7999)
    assert loads == []  # refused from the header, before decoding
    assert Image.MAX_IMAGE_PIXELS == 1000
    monkeypatch.undo()
    assert main(["image", str(path), "-o", str(tmp_path / "o.png"), "--max-pixels", "7999", *FACE_ONLY]) == 2
    assert "pixel limit of 7,999" in errors(capsys)[0]


# -- 5. variable frame rate: durations exactly kept ----------------------------------------------------------


def test_vfr_h264_mp4_keeps_its_duration_exactly(tmp_path):
    rng = np.random.default_rng(5)
    gaps = rng.integers(20, 90, 39)
    pts = [0, *np.cumsum(gaps * 2000 // gaps.sum()).tolist()]  # 40 irregular frames over 2 s, tb 1/1000
    src = write_specimen_video(
        tmp_path / "vfr.mp4", size=(64, 48), pts=pts, end=2100, time_base=Fraction(1, 1000), fps=20,
        audio=(AudioTrack("aac"),),
    )  # fmt: skip
    with av.open(str(src)) as c:
        assert c.duration == 2_100_000 and float(c.streams.video[0].duration * c.streams.video[0].time_base) == 2.1
    for ext in ("mp4", "mov", "mkv"):
        dst = tmp_path / f"out.{ext}"
        assert main(["video", str(src), "-o", str(dst), *FACE_ONLY]) == 0
        with av.open(str(dst)) as c:
            v = c.streams.video[0]
            times = [float(f.pts * f.time_base) for f in c.decode(v)]
            assert times == pytest.approx([p / 1000 for p in pts], abs=1e-6)
            assert c.duration == 2_100_000, ext
            if ext != "mkv":  # Matroska has no per-stream duration field
                assert float(v.duration * v.time_base) == 2.1


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_a_video_stream_that_starts_late_keeps_its_end(tmp_path, ext):
    """A video stream starting after 0 (B-frame delay, or remuxed after an AAC start offset): Matroska's per-stream
    DURATION says where the stream ends counted from 0, MP4's duration counts from the stream's start; either
    way the output's last frame ends where the input's does (it grew by the start offset, 23 ms, in Matroska)."""
    pts = [23 + 40 * i for i in range(20)]  # tb 1/1000: the video starts at 23 ms, the last frame ends at 823 ms
    src = write_specimen_video(
        tmp_path / f"late.{ext}", size=(64, 48), pts=pts, end=823, time_base=Fraction(1, 1000), fps=25,
        audio=(AudioTrack("aac"),),
    )  # fmt: skip

    def last_end(path: Path) -> float:
        with av.open(str(path)) as c:
            frames = list(c.decode(video=0))
            return float((frames[-1].pts + frames[-1].duration) * frames[-1].time_base)

    assert last_end(src) == pytest.approx(0.823)
    dst = tmp_path / f"out.{ext}"
    assert main(["video", str(src), "-o", str(dst), *FACE_ONLY]) == 0
    assert last_end(dst) == pytest.approx(0.823)


# -- 6. stream properties ------------------------------------------------------------------------------------


def _ffmpeg(*args: str) -> None:
    import imageio_ffmpeg

    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", *args], check=True)


def with_tracks(tmp_path: Path, ext: str) -> Path:
    """AAC ``eng`` "Main" (default), MP3 ``deu`` "Deutsch", a forced French subtitle track, a titled video."""
    base = write_specimen_video(
        tmp_path / "base.mkv", size=(64, 48), n=24, audio=(AudioTrack("aac"), AudioTrack("libmp3lame"))
    )
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello\n\n2\n00:00:01,000 --> 00:00:01,900\nWorld\n")
    dst = tmp_path / f"tracks.{ext}"
    _ffmpeg(
        "-i", str(base), "-i", str(srt), "-map", "0", "-map", "1", "-c", "copy",
        "-c:s", "mov_text" if ext == "mp4" else "srt",
        "-metadata:s:v:0", "title=Camera",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=Main",
        "-metadata:s:a:1", "language=deu", "-metadata:s:a:1", "title=Deutsch",
        "-metadata:s:s:0", "language=fra", "-metadata:s:s:0", "title=Francais",
        "-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:s:0", "forced",
        str(dst),
    )  # fmt: skip
    return dst


def stream_properties(path: Path) -> list[tuple]:
    with av.open(str(path)) as c:
        return [
            (
                s.type,
                s.codec_context.name,
                s.metadata.get("language", "und"),
                s.metadata.get("title") or s.metadata.get("name"),
                bool(s.disposition & av.stream.Disposition.default),
                bool(s.disposition & av.stream.Disposition.forced),
            )
            for s in c.streams
        ]


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_languages_flags_titles_and_subtitles_are_kept(tmp_path, ext):
    src = with_tracks(tmp_path, ext)
    before = stream_properties(src)
    assert [p[2:] for p in before[1:3]] == [("eng", "Main", True, False), ("deu", "Deutsch", False, False)]
    assert before[3][2:4] == ("fra", "Francais") and before[3][5]  # forced (MP4 also marks it default)
    dst = tmp_path / f"out.{ext}"
    assert main(["video", str(src), "-o", str(dst), *FACE_ONLY]) == 0
    after = stream_properties(dst)
    assert [p[0] for p in after] == ["video", "audio", "audio", "subtitle"]
    assert after[0][3] == "Camera" and after[0][4:] == before[0][4:]
    assert after[1:] == before[1:]
    with av.open(str(src)) as a, av.open(str(dst)) as b:  # the subtitle packets themselves are copied
        subs = [[bytes(p) for p in c.demux(subtitles=0) if p.size] for c in (a, b)]
        assert subs[0] == subs[1] and len(subs[0]) == 2


def test_subtitles_the_output_container_cannot_hold_are_a_clear_refusal(tmp_path, capsys):
    src = with_tracks(tmp_path, "mkv")
    assert main(["video", str(src), "-o", str(tmp_path / "out" / "x.mp4"), *FACE_ONLY]) != 0
    lines = errors(capsys)
    assert len(lines) == 1 and "subtitle" in lines[0] and "use .mkv" in lines[0], lines
    assert files(tmp_path / "out") == []


# -- 7. WebM → MP4: Opus trim kept ---------------------------------------------------------------------------


def _audio_seconds(path: Path) -> float:
    """Seconds of audio the file presents: the trimmed decode for Matroska (skip samples at both ends), the
    edit list's duration for MP4 (FFmpeg's decoder does not trim the end of an MP4 track itself)."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        if a.duration:
            return float(a.duration * a.time_base)
        return sum(f.samples for f in c.decode(a)) / a.codec_context.sample_rate


@pytest.mark.parametrize("codec", ["libopus", "vorbis"])
def test_webm_opus_and_vorbis_to_mp4_keep_the_audio_length(tmp_path, codec):
    """WebM marks the encoder padding at both ends with skip-samples side data, which MP4 cannot store: the
    start becomes the pre-skip / edit list, the end a shorter last packet (they used to add 13-19 ms)."""
    src = write_specimen_video(
        tmp_path / "clip.webm", codec="libvpx-vp9", size=(64, 48), n=24, audio=(AudioTrack(codec),)
    )
    length = _audio_seconds(src)  # 2 s of tone once the padding at both ends is dropped
    assert length == pytest.approx(2.0, abs=0.002)
    out = tmp_path / "out"
    assert main(["video", str(src), "-o", str(out), *FACE_ONLY]) == 0
    dst = out / "clip.mp4"
    assert _audio_seconds(dst) == pytest.approx(length, abs=0.0015)  # Matroska's ms timestamps: ±1 ms
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert b.streams.audio[0].codec_context.name == a.streams.audio[0].codec_context.name
        payloads = [[bytes(p) for p in c.demux(audio=0) if p.size] for c in (a, b)]
        assert payloads[0] == payloads[1]  # still copied, not re-encoded


def test_mp4_mp3_end_trim_kept(tmp_path):
    """An MP4 whose edit list ends the MP3 track inside its last packet (encoder padding): the output's edit
    list ends at the same sample (it used to grow by the padding, 12 ms)."""
    src = with_tracks(tmp_path, "mp4")
    dst = tmp_path / "out.mp4"
    assert main(["video", str(src), "-o", str(dst), *FACE_ONLY]) == 0
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        for sa, sb in zip(a.streams.audio, b.streams.audio):
            assert float(sb.duration * sb.time_base) == pytest.approx(float(sa.duration * sa.time_base), abs=1e-4)


def test_face_picture_has_the_face_where_it_says():
    img, (x1, y1, x2, y2) = face_picture(160, 120)
    assert img.shape == (120, 160, 3) and 0 <= x1 < x2 <= 160 and 0 <= y1 < y2 <= 120
    assert (img[y1:y2, x1:x2] != img[0, 0]).any(axis=2).mean() > 0.9
