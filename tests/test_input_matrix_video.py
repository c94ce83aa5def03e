"""The video input matrix: containers × codecs × pixel formats × audio × rotation × display aspect × VFR.  Each
cell is a generated clip of six 160×120 frames showing a real face; the output must display like the input (size,
aspect, orientation, colour), keep the frame count and every frame's time and the durations, keep the streams
as the README documents, and have the face anonymized on every frame."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from fpblur.config.settings import VideoSettings
from fpblur.media.specimens import BACKGROUND, AudioTrack, face_picture, write_specimen_video
from fpblur.media.video_io import CONTAINERS
from fpblur.redact.anonymizer import Anonymizer
from fpblur.run.video import anonymize_video

SIZE = (160, 120)
CELLS: dict[str, dict] = {
    "mp4 h264 yuv420p aac": dict(ext="mp4", audio=(AudioTrack("aac", "eng", "Main", True),)),
    "mov prores yuv422p10 pcm": dict(ext="mov", codec="prores_ks", pix="yuv422p10le", audio=(AudioTrack("pcm_s16le"),)),
    "mkv hevc yuv420p opus": dict(ext="mkv", codec="libx265", audio=(AudioTrack("libopus", "fra"),)),
    "mp4 hevc b-frames aac": dict(ext="mp4", codec="libx265", audio=(AudioTrack("aac"),)),
    "mov hevc b-frames vfr": dict(ext="mov", codec="libx265", pts=[0, 40, 170, 180, 400, 433], end=520, tb=Fraction(1, 1000)),
    "webm vp9 vorbis": dict(ext="webm", codec="libvpx-vp9", audio=(AudioTrack("vorbis", "spa"),)),
    "webm vp9 yuv420p opus": dict(ext="webm", codec="libvpx-vp9", audio=(AudioTrack("libopus"),)),
    "webm av1 yuv420p": dict(ext="webm", codec="libsvtav1"),
    "avi mjpeg yuvj420p pcm": dict(ext="avi", codec="mjpeg", pix="yuvj420p", audio=(AudioTrack("pcm_s16le"),)),
    "avi mjpeg yuvj422p mp3": dict(ext="avi", codec="mjpeg", pix="yuvj422p", audio=(AudioTrack("libmp3lame"),)),
    "ts h264 yuv420p aac": dict(ext="ts", audio=(AudioTrack("aac"),)),
    "m4v h264 yuv444p": dict(ext="m4v", pix="yuv444p"),
    "mp4 h264 gray": dict(ext="mp4", pix="gray"),
    "mkv mpeg4 yuv420p": dict(ext="mkv", codec="mpeg4"),
    "mkv h264 several tracks": dict(
        ext="mkv",
        audio=(AudioTrack("aac", "eng", "Main", True), AudioTrack("libmp3lame", "deu", "Kommentar"), AudioTrack("libopus")),
    ),
    "mp4 h264 rotation 90": dict(ext="mp4", rotation=90, audio=(AudioTrack("aac"),)),
    "mov h264 rotation 270": dict(ext="mov", rotation=270),
    "mp4 h264 rotation 180": dict(ext="mp4", rotation=180),
    "mkv h264 aspect 4:3 pixels": dict(ext="mkv", sar=Fraction(4, 3), audio=(AudioTrack("aac"),)),
    "mp4 h264 aspect 2:3 rotated": dict(ext="mp4", sar=Fraction(2, 3), rotation=90),
    "mp4 h264 vfr aac": dict(ext="mp4", pts=[0, 40, 170, 180, 400, 433], end=520, tb=Fraction(1, 1000), audio=(AudioTrack("aac"),)),
    "mkv h264 vfr": dict(ext="mkv", pts=[0, 40, 170, 180, 400, 433], end=520, tb=Fraction(1, 1000)),
}  # fmt: skip
ENCODERS = {"libx264", "prores_ks", "libx265", "libvpx-vp9", "libsvtav1", "mjpeg", "mpeg4"}


@pytest.fixture(scope="module")
def anonymizer() -> Anonymizer:
    return Anonymizer(targets=("face",))


def displayed(path: Path) -> dict:
    """What a player shows: upright frames (display matrix applied by numpy, not by fpblur), their times and
    durations, the display aspect, the streams."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames, times, ends = [], [], []
        rotation = 0
        for f in c.decode(v):
            if not frames:
                rotation = int(round(f.rotation or 0)) % 360
            img = f.to_ndarray(format="bgr24", src_color_range=int(f.color_range) or None)
            frames.append(np.rot90(img, rotation // 90))
            times.append(float(f.pts * f.time_base))
            ends.append(float((f.pts + (f.duration or 0)) * f.time_base))
        start = float((v.start_time or 0) * v.time_base)
        tag = v.metadata.get("DURATION")  # Matroska: per stream, "HH:MM:SS.nnnnnnnnn"
        if v.duration:  # MP4/MOV: the edit list's end (frame durations there follow decode order)
            end = start + float(v.duration * v.time_base)
        elif tag:
            hh, mm, ss = tag.split(":")
            end = start + int(hh) * 3600 + int(mm) * 60 + float(ss)
        else:
            end = max(ends)
        sar = v.codec_context.sample_aspect_ratio
        sar = Fraction(sar) if sar and sar.numerator else Fraction(1)
        if rotation in (90, 270):
            sar = 1 / sar
        h, w = frames[0].shape[:2]
        audio = [
            (s.codec_context.name, s.metadata.get("language", "und"), s.metadata.get("title") or s.metadata.get("name"))
            for s in c.streams.audio
        ]
        audio_durations = [float(s.duration * s.time_base) if s.duration else None for s in c.streams.audio]
    with av.open(str(path)) as c:
        payloads = [[bytes(p) for p in c.demux(s) if p.size] for s in c.streams.audio]
    return dict(
        frames=frames, times=times, end=end, size=(w, h), aspect=Fraction(w) * sar / h, rotation=rotation,
        audio=audio, audio_durations=audio_durations, payloads=payloads, stored_rotation=rotation,
    )  # fmt: skip


def strip_adts(payload: bytes) -> bytes:
    """AAC from MPEG-TS carries 7/9-byte ADTS headers that MP4 stores in its codec configuration instead (FFmpeg's
    aac_adtstoasc, inserted by the muxer): the audio itself is copied unchanged."""
    if len(payload) > 9 and payload[0] == 0xFF and payload[1] & 0xF6 == 0xF0:
        return payload[7 if payload[1] & 1 else 9 :]
    return payload


@pytest.mark.parametrize("cell", CELLS)
def test_cell(tmp_path, cell, anonymizer):
    spec = CELLS[cell]
    needed = {spec.get("codec", "libx264"), *(a.codec for a in spec.get("audio", ()))}
    if not needed <= set(av.codecs_available):
        pytest.skip(f"this PyAV build cannot encode {sorted(needed - set(av.codecs_available))}")
    src = write_specimen_video(
        tmp_path / f"in.{spec['ext']}",
        codec=spec.get("codec", "libx264"),
        pix_fmt=spec.get("pix", "yuv420p"),
        size=SIZE,
        pts=spec.get("pts"),
        end=spec.get("end"),
        time_base=spec.get("tb"),
        audio=spec.get("audio", ()),
        rotation=spec.get("rotation", 0),
        sample_aspect_ratio=spec.get("sar"),
    )
    ext = f".{spec['ext']}" if f".{spec['ext']}" in CONTAINERS else ".mp4"  # what `fpblur video` plans
    dst = tmp_path / f"out{ext}"
    anonymize_video(src, dst, anonymizer, VideoSettings(progress=False))
    a, b = displayed(src), displayed(dst)
    # displays like the input: size, aspect, orientation (upright pixels, no matrix)
    assert b["rotation"] == 0
    assert b["size"] == a["size"]
    assert b["aspect"] == a["aspect"]
    # same frames at the same times, same end
    assert len(b["frames"]) == len(a["frames"]) == (len(spec["pts"]) if "pts" in spec else 6)
    assert b["times"] == pytest.approx(a["times"], abs=1e-3)
    # Matroska time stamps and MP4 edit lists are whole milliseconds: the last frame may end 1 ms apart
    assert b["end"] == pytest.approx(a["end"], abs=1.01e-3)
    # streams kept: audio codecs, languages, titles, packets byte for byte, durations
    assert b["audio"] == a["audio"]
    assert b["payloads"] == [[strip_adts(x) for x in stream] for stream in a["payloads"]]
    for da, db in zip(a["audio_durations"], b["audio_durations"]):
        if da is not None and db is not None:
            assert db == pytest.approx(da, abs=1e-3)
    # colour kept away from the face, the face anonymized on every frame
    _, (x1, y1, x2, y2) = face_picture(*SIZE)  # the specimens display upright
    for k, (fa, fb) in enumerate(zip(a["frames"], b["frames"])):
        fa, fb = fa.astype(int), fb.astype(int)
        assert np.abs(fb[y1:y2, x1:x2] - fa[y1:y2, x1:x2]).mean() > 8, f"frame {k}: face not anonymized"
        background = np.ones(fa.shape[:2], bool)
        background[max(0, y1 - 12) : y2 + 12, max(0, x1 - 12) : x2 + 12] = False
        background[-10:] = background[:, -10:] = background[:10] = background[:, :10] = False  # the stripe
        assert np.abs(fb[background] - fa[background]).mean() < 4, f"frame {k}: picture changed"
    if spec.get("pix") != "gray":
        bgr = np.median(b["frames"][0][background], axis=0)
        assert np.abs(bgr - np.array(BACKGROUND)).max() < 12  # colour matrix and range right


def test_matrix_covers_what_the_issue_lists():
    text = " ".join(CELLS)
    for word in ("mp4", "mov", "mkv", "webm", "avi", "ts", "m4v", "h264", "hevc", "vp9", "av1", "mjpeg", "prores"):
        assert word in text.split(), word
    for word in ("yuv420p", "yuvj420p", "yuv422p10", "yuv444p", "gray", "aac", "mp3", "opus", "pcm", "several"):
        assert word in text, word
    assert ENCODERS >= {c.get("codec", "libx264") for c in CELLS.values()}
