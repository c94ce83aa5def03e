"""sha256 digests of bytes and files (model checksums, dataset manifests, content-addressed caches)."""

from __future__ import annotations

import functools
import hashlib
import os

CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    """The sha256 of ``data`` as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in 1 MiB chunks (constant memory).

    Args:
        path: the file.
        algo: a :func:`hashlib.new` algorithm name.

    Returns:
        The digest in lowercase hex.

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` when it is missing).
        ValueError: ``algo`` is not an algorithm hashlib knows.
    """
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes as 64 lowercase hex digits (:func:`file_digest`).

    Raises:
        OSError: the file cannot be read.
    """
    return file_digest(path, "sha256")


def model_digest(path: str | os.PathLike) -> str:
    """:func:`sha256_file` of a model file, hashed once per process for as long as the file's size and modification
    time stay the same: starting a detector asks for the same digest several times (its prepared graph, its int8
    graph's location; 30-50 ms each for the default models).

    Raises:
        OSError: the file cannot be read (``FileNotFoundError`` when it is missing).
    """
    real = os.path.realpath(path)
    st = os.stat(real)
    return _digest_of(real, st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)  # keyed by (path, size, mtime): a changed file is hashed again
def _digest_of(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)
