"""Deterministic train/val split grouped by source (video, web page…), so near-identical items never straddle it.

A group's side depends only on its name, the seed and the group sizes — not on the order of the rows — so the
split is reproducible and stable when unrelated items are added.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence

import pandas as pd


def _rank(seed: int | str, group: str) -> str:
    return hashlib.sha256(f"{seed}\x00{group}".encode()).hexdigest()


def group_split(groups: Sequence[str], val_fraction: float = 0.2, seed: int | str = 0) -> list[str]:
    """``"train"``/``"val"`` for each item, whole groups at a time, close to ``val_fraction`` of the items.

    Groups are taken in the order of sha256(seed, name) and moved to val while that brings the val count closer
    to the target; with two or more groups (and ``val_fraction > 0``) both sides get at least one.

    Args:
        groups: the group (source) of each item.
        val_fraction: wanted share of items in val, 0–1.
        seed: changes which groups go to val.

    Returns:
        One split name per item, aligned with ``groups``.

    Raises:
        ValueError: ``val_fraction`` outside [0, 1].
    """
    if not 0 <= val_fraction <= 1:
        raise ValueError(f"val_fraction must be in [0, 1], got {val_fraction}")
    sizes = Counter(groups)
    target = val_fraction * len(groups)
    val: set[str] = set()
    count = 0
    ordered = sorted(sizes, key=lambda g: _rank(seed, g))
    for g in ordered:
        if abs(count + sizes[g] - target) < abs(count - target):
            val.add(g)
            count += sizes[g]
    if len(sizes) >= 2 and val_fraction > 0:
        if not val:
            val.add(min(ordered, key=lambda g: abs(sizes[g] - target)))
        if len(val) == len(sizes):
            val.discard(max(val, key=lambda g: sizes[g]))
    return ["val" if g in val else "train" for g in groups]


def source_from_name(name: str, pattern: str = r"^(.+?)_(?:t\d+.*|\d+)$") -> str:
    """A source key from a file name: ``pattern``'s first group on the stem (default: the part before
    ``_t<digits>…`` or a final ``_<digits>``), e.g. ``dashA_t000123ms.jpg`` → ``dashA``; the stem itself when it does
    not match.
    """
    stem = name.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    m = re.match(pattern, stem)
    return m.group(1) if m else stem


def split_frame(
    df: pd.DataFrame, group: str | None = None, *, key: str = "file", val_fraction: float = 0.2, seed: int | str = 0
) -> pd.DataFrame:
    """A copy of ``df`` with a ``split`` column from :func:`group_split`.

    Args:
        df: one row per item.
        group: the column holding each item's group (None: every item is its own group); rows without one
            (NaN/empty) form a group of their own.
        key: the column naming each item.
        val_fraction, seed: see :func:`group_split`.

    Returns:
        The new DataFrame (``df`` is not changed).

    Raises:
        ValueError: ``val_fraction`` outside [0, 1].
        KeyError: ``group`` or ``key`` is not a column.
    """
    if group is None:
        groups = df[key].astype(str).tolist()
    else:
        g = df[group].astype("string").fillna("").tolist()
        groups = [x if x else f"__item__{k}" for x, k in zip(g, df[key].astype(str))]
    out = df.copy()
    out["split"] = group_split(groups, val_fraction, seed)
    return out
