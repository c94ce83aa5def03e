"""fpblur.data.frames: interval / scene-change sampling, near-duplicate drop, manifest, split by video."""

from __future__ import annotations

import pandas as pd
import pytest

from fpblur.data import fixtures, frames, split


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
        assert (tmp_path / r["file"]).is_file() and r["video"] == str(videos[0]) and (r["width"], r["height"]) == (160, 120)


def test_without_dedup_every_interval_frame_is_kept(videos, tmp_path):
    kept, dropped = frames.extract_frames(videos[0], tmp_path, frames.FrameConfig(every_s=0.5, scene_threshold=None, phash_threshold=-1))
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
    res = frames.extract_many([a, b], tmp_path / "out", frames.FrameConfig(every_s=1.0, dedup_across_videos=True), progress=False)
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
