"""fpblur.training.data.split and fpblur.training.data.hashing."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from fpblur.training.data import fixtures, hashing, split


def test_group_split_is_deterministic_grouped_and_order_free():
    groups = [f"video{i % 10}" for i in range(200)]
    a = split.group_split(groups, 0.2, seed=1)
    assert a == split.group_split(groups, 0.2, seed=1)
    mapping = dict(zip(groups, a))
    assert all(mapping[g] == s for g, s in zip(groups, a))  # whole groups
    assert 30 <= a.count("val") <= 50
    shuffled = groups[:]
    random.Random(3).shuffle(shuffled)
    assert dict(zip(shuffled, split.group_split(shuffled, 0.2, seed=1))) == mapping


def test_group_split_edge_cases():
    assert split.group_split(["a", "a", "b"], 0.0) == ["train"] * 3
    assert set(split.group_split(["a", "b"], 0.9)) == {"train", "val"}  # both sides non-empty
    assert split.group_split(["only"] * 4, 0.5) in (["train"] * 4, ["val"] * 4)
    with pytest.raises(ValueError):
        split.group_split(["a"], 1.5)


def test_split_frame_and_source_names():
    df = pd.DataFrame({"file": [f"f{i}" for i in range(6)], "page": ["p1", "p1", "p2", None, "", "p2"]})
    out = split.split_frame(df, "page", val_fraction=0.5)
    assert out.loc[0, "split"] == out.loc[1, "split"] and out.loc[2, "split"] == out.loc[5, "split"]
    assert "split" not in df.columns
    assert split.source_from_name("dashA_t000123ms.jpg") == "dashA"
    assert split.source_from_name("web_p1_0") == "web_p1"
    assert split.source_from_name("single") == "single"


def test_hashes_and_dedup_index(tmp_path):
    img = fixtures.pattern(1)
    p = fixtures.save_jpeg(img, tmp_path / "a.jpg")
    assert hashing.sha256_file(p) == hashing.sha256_bytes(p.read_bytes())
    h1, h2 = hashing.phash(p), hashing.phash(img)
    assert hashing.hamming(h1, h2) <= 4 and hashing.hamming(h1, hashing.phash(fixtures.pattern(2))) > 10
    idx = hashing.DedupIndex(threshold=4)
    assert idx.match("s1", h1) is None
    idx.add("a", "s1", h1)
    assert idx.match("s1", None) == ("sha256", "a") and idx.match("s2", h2) == ("phash", "a")
    pairs = hashing.near_duplicate_pairs({"x": h1}, {"y": h2, "z": hashing.phash(fixtures.pattern(2))}, 4)
    assert [(a, b) for a, b, _ in pairs] == [("x", "y")]
    v = np.array([0, 1, 3, 2**64 - 1], dtype=np.uint64)
    assert hashing._popcount(v).tolist() == [0, 1, 2, 64]


def test_one_sha256_file_and_cheap_hashing_import():
    import subprocess
    import sys

    from fpblur.models import registry as models

    assert models.sha256_file is hashing.sha256_file  # fpblur.models.registry re-exports the data one, no second copy
    code = "import sys, fpblur.models.registry; print(sorted({'imagehash', 'PIL'} & set(sys.modules)))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_dedup_index_distance_and_bad_hash():
    idx = hashing.DedupIndex(threshold=1)
    idx.add("a", None, "00000000000000ff")
    assert idx.match(None, "00000000000000fe") == ("phash", "a")  # 1 bit apart
    assert idx.match(None, "00000000000000fc") is None  # 2 bits apart
    assert hashing.DedupIndex(threshold=-1).match(None, "00000000000000ff") is None
    with pytest.raises(ValueError):
        idx.add("b", None, "not hex")
