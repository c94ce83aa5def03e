"""fpblur.training.data.frames: interval / scene-change sampling, near-duplicate drop, manifest, split by video."""

from __future__ import annotations

import pandas as pd
import pytest

from fpblur.training.data import fixtures, frames, split


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    return [fixtures.make_video(d / f"cam{i}.mp4", seed=i) for i in range(3)]


def test_interval_sampling_drops_near_duplicates(videos, tmp_path):
    kept, dropped = frames.extract_frames(videos[0], tmp_path, frames.FrameConfig(every_s=0.5, scene_threshold=None))
    # 6 s sampled every 0.5 s = 12 candidates; the frames of one static scene are near-duplicates
    assert [r["timestamp"] for r in kept] == [0.0, 2.0, 4.0]
    assert len(dropped) == 9 and {d["duplicate_of"] for d in dropped} == {r["file"] for r in kept}
    for r in kept:
        assert (
            (tmp_path / r["file"]).is_file()
            and r["video"] == str(videos[0])
            and (r["width"], r["height"]) == (160, 120)
        )


def test_without_dedup_every_interval_frame_is_kept(videos, tmp_path):
    kept, dropped = frames.extract_frames(
        videos[0], tmp_path, frames.FrameConfig(every_s=0.5, scene_threshold=None, phash_threshold=-1)
    )
    assert len(kept) == 12 and not dropped
    assert kept[1]["timestamp"] == pytest.approx(0.5) and kept[1]["file"] == "cam0_t000000500ms.jpg"


def test_scene_change_sampling_finds_the_cuts(videos, tmp_path):
    kept, _ = frames.extract_frames(videos[1], tmp_path, frames.FrameConfig(every_s=None, scene_threshold=0.15))
    assert [(r["timestamp"], r["reason"]) for r in kept] == [(0.0, "scene"), (2.0, "scene"), (4.0, "scene")]
    both, _ = frames.extract_frames(videos[1], tmp_path / "b", frames.FrameConfig(every_s=1.0, max_frames=2))
    assert [r["reason"] for r in both] == ["interval+scene", "interval+scene"]


def test_extract_many_manifest_and_group_split(videos, tmp_path):
    res = frames.extract_many(videos, tmp_path / "frames", frames.FrameConfig(every_s=0.5), progress=False)
    on_disk = pd.read_csv(res.manifest_csv)
    assert list(on_disk.columns) == frames.MANIFEST_COLUMNS and len(on_disk) == 9
    assert (tmp_path / "frames" / "dropped.csv").is_file() and len(res.dropped) == 27
    s = split.split_frame(res.manifest, "video", val_fraction=0.34)
    per_video = s.groupby("video")["split"].nunique()
    assert (per_video == 1).all()  # no video straddles train/val
    assert set(s["split"]) == {"train", "val"}


def test_dedup_across_videos(tmp_path):
    a = fixtures.make_video(tmp_path / "a" / "same.mp4", seed=5, scenes=1)
    b = fixtures.make_video(tmp_path / "b" / "same.mp4", seed=5, scenes=1)  # same content, same stem
    res = frames.extract_many(
        [a, b], tmp_path / "out", frames.FrameConfig(every_s=1.0, dedup_across_videos=True), progress=False
    )
    assert len(res.manifest) == 1 and res.dropped["duplicate_of"].iloc[0] == "same_t000000000ms.jpg"
    res2 = frames.extract_many([a, b], tmp_path / "out2", frames.FrameConfig(every_s=1.0), progress=False)
    assert sorted(res2.manifest["file"]) == ["same-2_t000000000ms.jpg", "same_t000000000ms.jpg"]


def test_bad_inputs(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="bad.mp4"):
        frames.extract_frames(bad, tmp_path / "o")
    with pytest.raises(ValueError, match="every_s"):
        frames.extract_frames(bad, tmp_path / "o", frames.FrameConfig(every_s=None, scene_threshold=None))


def test_file_without_a_video_stream(tmp_path):
    import wave

    audio = tmp_path / "voice.wav"
    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    with pytest.raises(ValueError, match="voice.wav: no video stream") as err:
        frames.extract_frames(audio, tmp_path / "o")
    assert "\n" not in str(err.value)


class _BreaksAfter:
    """An av container whose decoding fails with an FFmpeg error after ``n`` frames."""

    def __init__(self, container, n):
        self._c, self._n = container, n
        self.streams = container.streams

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._c.close()

    def decode(self, stream):
        import av

        for i, frame in enumerate(self._c.decode(stream)):
            if i == self._n:
                raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
            yield frame


def test_decode_error_midway_is_one_line_and_leaves_no_frames(videos, tmp_path, monkeypatch):
    real_open = frames.av.open
    bad = str(videos[2])
    monkeypatch.setattr(
        frames.av,
        "open",
        lambda path, *a, **k: _BreaksAfter(real_open(path, *a, **k), 35) if path == bad else real_open(path, *a, **k),
    )
    cfg = frames.FrameConfig(every_s=0.5, phash_threshold=-1)
    index = frames.DedupIndex(-1)
    with pytest.raises(ValueError, match=r"cam2.mp4: cannot decode \(.*Invalid data") as err:
        frames.extract_frames(videos[2], tmp_path / "one", cfg, index=index)
    assert "\n" not in str(err.value)
    assert list((tmp_path / "one").iterdir()) == [] and index.hashes == []  # the 7 frames written before are gone
    # extract_many: the frames of the videos before the broken one go too, and no manifest is written
    with pytest.raises(ValueError, match="cam2.mp4: cannot decode"):
        frames.extract_many(videos, tmp_path / "many", cfg, progress=False)
    assert list((tmp_path / "many").iterdir()) == []
    # frames an earlier, successful run left are kept (its manifest still describes them)
    ok = frames.extract_many(videos[:1], tmp_path / "again", cfg, progress=False)
    with pytest.raises(ValueError, match="cam2.mp4"):
        frames.extract_many([videos[0], videos[2]], tmp_path / "again", cfg, progress=False)
    assert sorted(p.name for p in (tmp_path / "again").glob("*.jpg")) == sorted(ok.manifest["file"])
