"""The one existence check of the dataset and evaluation loaders: a path that is not there is a one-line
``PATH: no such file or folder`` before anything else is said about it (not "expected a folder with
labels.json", not an empty result)."""

from __future__ import annotations

import os
from pathlib import Path


def require_path(path: str | os.PathLike, kind: str = "file or folder") -> Path:
    """``path`` (``~`` expanded) as a :class:`Path`, after checking that it exists.

    Args:
        path: what a caller was given.
        kind: what it should be, for the message (``"file"``, ``"folder"``, ``"file or folder"``).

    Returns:
        The path.

    Raises:
        FileNotFoundError: one line, ``PATH: no such file or folder``, with the current folder when ``path`` is
            relative (that is where it was looked for).
    """
    p = Path(path).expanduser()
    if not p.exists():
        where = "" if p.is_absolute() else f" (relative to the current folder {Path.cwd()})"
        raise FileNotFoundError(f"{p}: no such {kind}{where}")
    return p
