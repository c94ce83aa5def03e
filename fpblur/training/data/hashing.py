"""Perceptual hashes (pHash) for near-duplicate detection; sha256 digests come from :mod:`fpblur.core.digest`."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from fpblur.core.digest import file_digest, sha256_bytes, sha256_file  # noqa: F401 (used by the data tools)


def phash(image: Image.Image | np.ndarray | bytes | str | os.PathLike) -> str:
    """64-bit perceptual hash (pHash via ``imagehash.phash``: DCT of a 32×32 grey copy, the 8×8 lowest
    frequencies compared with their median) of the image in RGB.

    Args:
        image: a PIL image, an RGB or grey uint8 array, encoded image bytes, or a path.

    Returns:
        16 hex digits.

    Raises:
        OSError: (``PIL.UnidentifiedImageError`` included) bytes or a file that cannot be decoded.
    """
    import imagehash  # optional: [train] extra

    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    elif isinstance(image, bytes):
        image = Image.open(io.BytesIO(image))
    elif isinstance(image, (str, os.PathLike)):
        with Image.open(image) as im:
            return str(imagehash.phash(im.convert("RGB")))
    return str(imagehash.phash(image.convert("RGB")))


def hamming(a: str, b: str) -> int:
    """Number of differing bits between two hex hashes of equal length (0–64 for pHashes)."""
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
        """The earlier item this one duplicates, exact duplicates first.

        Args:
            sha256: the item's sha256 hex digest (None: unknown).
            ph: its pHash hex (None: unknown).

        Returns:
            ``("sha256", key)`` for the same bytes, ``("phash", key)`` for a pHash within ``threshold`` bits of an
            earlier one (a negative ``threshold`` turns that off), else None.
        """
        if sha256 is not None and sha256 in self.sha:
            return "sha256", self.sha[sha256]
        if ph is not None and self.threshold >= 0:
            for other, key in self.hashes:
                if hamming(ph, other) <= self.threshold:
                    return "phash", key
        return None

    def add(self, key: str, sha256: str | None, ph: str | None) -> None:
        """Remember item ``key`` by its sha256 (the first key per digest is kept) and its pHash (None: unknown).

        Raises:
            ValueError: ``ph`` is not a hex string.
        """
        if sha256 is not None:
            self.sha.setdefault(sha256, key)
        if ph is not None:
            int(ph, 16)  # a malformed hash fails here, not at a later match
            self.hashes.append((ph, key))


def near_duplicate_pairs(
    hashes_a: dict[str, str], hashes_b: dict[str, str], threshold: int
) -> list[tuple[str, str, int]]:
    """Every pair of items from two collections whose pHashes differ in at most ``threshold`` bits.

    Args:
        hashes_a, hashes_b: ``{key: pHash hex}`` (64-bit hashes).
        threshold: largest Hamming distance (bits) still reported.

    Returns:
        ``(key_a, key_b, distance)`` tuples, in the order of ``hashes_a`` then ``hashes_b`` (one vectorised XOR
        and popcount per item of ``hashes_a``).
    """
    if not hashes_a or not hashes_b:
        return []
    ka, kb = list(hashes_a), list(hashes_b)
    a = np.array([int(hashes_a[k], 16) for k in ka], dtype=np.uint64)
    b = np.array([int(hashes_b[k], 16) for k in kb], dtype=np.uint64)
    out = []
    for i, x in enumerate(a):
        dist = (
            np.bitwise_count(np.bitwise_xor(b, x)) if hasattr(np, "bitwise_count") else _popcount(np.bitwise_xor(b, x))
        )
        for j in np.flatnonzero(dist <= threshold):
            out.append((ka[i], kb[j], int(dist[j])))
    return out


def _popcount(v: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(v.view(np.uint8).reshape(-1, 8), axis=1)
    return bits.sum(axis=1)
