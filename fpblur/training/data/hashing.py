"""Perceptual hashes (pHash) for near-duplicate detection; sha256 digests come from :mod:`fpblur.core.digest`."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from fpblur.core.digest import file_digest, sha256_bytes, sha256_file  # noqa: F401 (used by the data tools)

if TYPE_CHECKING:
    from PIL import Image

def phash(image: Image.Image | np.ndarray | bytes | str | os.PathLike) -> str:
    """64-bit perceptual hash as 16 hex digits; accepts a PIL image, an RGB/gray array, encoded bytes or a path."""
    import imagehash  # here, not at module level: fpblur.models.registry imports sha256_file from this module
    from PIL import Image

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    elif isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    elif isinstance(image, (str, os.PathLike)):
        with Image.open(image) as im:
            return str(imagehash.phash(im.convert("RGB")))
    return str(imagehash.phash(image.convert("RGB")))


def hamming(a: str, b: str) -> int:
    """Bit distance between two hex hashes of equal length."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


@dataclass
class DedupIndex:
    """Remembers sha256 and pHash values seen so far and says whether a new item duplicates one of them.

    ``threshold`` is the largest pHash bit distance still counted as a near-duplicate (0 = identical hash).
    """

    threshold: int = 6
    sha: dict[str, str] = field(default_factory=dict)  # sha256 → key of the first item
    hashes: list[tuple[str, str]] = field(default_factory=list)  # (pHash hex, key)

    def match(self, sha256: str | None, ph: str | None) -> tuple[str, str] | None:
        """``(kind, key)`` of the item this one duplicates (kind ``"sha256"`` or ``"phash"``), else None."""
        if sha256 is not None and sha256 in self.sha:
            return "sha256", self.sha[sha256]
        if ph is not None and self.threshold >= 0:
            for other, key in self.hashes:
                if hamming(ph, other) <= self.threshold:
                    return "phash", key
        return None

    def add(self, key: str, sha256: str | None, ph: str | None) -> None:
        if sha256 is not None:
            self.sha.setdefault(sha256, key)
        if ph is not None:
            int(ph, 16)  # a malformed hash fails here, not at a later match
            self.hashes.append((ph, key))


def near_duplicate_pairs(hashes_a: dict[str, str], hashes_b: dict[str, str], threshold: int) -> list[tuple[str, str, int]]:
    """All ``(key_a, key_b, distance)`` with pHash distance ≤ threshold between two collections (vectorised)."""
    if not hashes_a or not hashes_b:
        return []
    ka, kb = list(hashes_a), list(hashes_b)
    a = np.array([int(hashes_a[k], 16) for k in ka], dtype=np.uint64)
    b = np.array([int(hashes_b[k], 16) for k in kb], dtype=np.uint64)
    out = []
    for i, x in enumerate(a):
        dist = np.bitwise_count(np.bitwise_xor(b, x)) if hasattr(np, "bitwise_count") else _popcount(np.bitwise_xor(b, x))
        for j in np.flatnonzero(dist <= threshold):
            out.append((ka[i], kb[j], int(dist[j])))
    return out


def _popcount(v: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(v.view(np.uint8).reshape(-1, 8), axis=1)
    return bits.sum(axis=1)
