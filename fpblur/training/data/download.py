"""Resumable, checksummed, retrying HTTP downloads with progress bars, and safe archive extraction.

A file is described by :class:`RemoteFile` (name, mirror URLs, expected size and checksum).  :func:`download`
skips a file that is already present and valid, resumes a partial ``<name>.part`` with an HTTP ``Range``
request (restarting when the server ignores it), verifies size and checksum, deletes and re-fetches a file
that fails them, and retries with back-off across mirrors.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from tqdm.auto import tqdm

from fpblur.core.files import InputError, same_file
from fpblur.training.data.hashing import file_digest

USER_AGENT = "fpblur-data/0.1 (dataset tooling; +https://github.com/)"
CHUNK = 1 << 16


class DownloadError(Exception):
    """A file could not be fetched or verified; ``str()`` is one line naming the file."""


@dataclass(frozen=True)
class RemoteFile:
    """A file to fetch: ``name`` (the file name in the destination folder), mirror ``urls`` (tried in order;
    a single string is accepted), the expected ``size`` in bytes and ``checksum`` (``"sha256:<hex>"`` or
    ``"md5:<hex>"``; None for either: not checked).

    Raises:
        ValueError: a checksum of another form.
    """

    name: str
    urls: tuple[str, ...]
    size: int | None = None
    checksum: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.urls, str):  # a single URL given as a string
            object.__setattr__(self, "urls", (self.urls,))
        if self.checksum is not None:
            algo, _, value = self.checksum.partition(":")
            if algo not in ("sha256", "md5") or not value:
                raise ValueError(
                    f"{self.name}: checksum must look like 'sha256:<hex>' or 'md5:<hex>', got {self.checksum!r}"
                )

    @classmethod
    def from_dict(cls, d: dict) -> RemoteFile:
        """From a mapping with ``name``, ``urls`` (or ``url``; a string or a list) and optional ``size`` and
        ``checksum``.

        Raises:
            KeyError: no ``name``.
            ValueError: a malformed checksum.
        """
        urls = d.get("urls") or d.get("url")
        return cls(d["name"], tuple([urls] if isinstance(urls, str) else urls), d.get("size"), d.get("checksum"))


def verify(path: str | os.PathLike, size: int | None = None, checksum: str | None = None) -> str | None:
    """Check a local file against the expected ``size`` (bytes) and ``checksum`` (``"sha256:<hex>"``/``"md5:<hex>"``);
    None skips a check.

    Returns:
        None when ``path`` exists and matches, else a short reason (``"missing"``, ``"size … != expected …"``, or
        the digests' first 12 hex digits).
    """
    path = Path(path)
    if not path.is_file():
        return "missing"
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"size {actual} != expected {size}"
    if checksum is not None:
        algo, _, want = checksum.partition(":")
        got = file_digest(path, algo)
        if got.lower() != want.lower():
            return f"{algo} {got[:12]}… != expected {want[:12]}…"
    return None


def download(
    remote: RemoteFile,
    dest_dir: str | os.PathLike,
    *,
    retries: int = 3,
    timeout: float = 30.0,
    backoff: float = 1.0,
    progress: bool = True,
    session: requests.Session | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Fetch ``remote`` into ``dest_dir`` and return its path.

    A valid file already there is kept; a partial ``<name>.part`` is resumed with an HTTP ``Range`` request
    (restarted when the server ignores or rejects it); a file that fails the size or checksum check is deleted
    and fetched again; mirrors are tried in turn, with ``backoff × 2**attempt`` seconds between rounds.

    Args:
        remote: what to fetch.
        dest_dir: the destination folder (created).
        retries: extra rounds over all mirrors after the first.
        timeout: seconds per connection/read (``requests``).
        backoff: base delay in seconds.
        progress: show a tqdm byte progress bar.
        session: a ``requests.Session`` to use (default: a new one, closed afterwards).
        log: called with one line per event (skip, retry, corrupt file).

    Returns:
        The path of the verified file.

    Raises:
        DownloadError: every attempt failed (the message names the file and the last reason).
    """
    dest = Path(dest_dir) / remote.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    say = log or (lambda msg: None)
    problem = verify(dest, remote.size, remote.checksum)
    if problem is None:
        say(f"{dest}: present and valid, skipped")
        return dest
    if dest.exists():
        say(f"{dest}: {problem}; fetching again")
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    own = session is None
    session = session or requests.Session()
    session.headers.setdefault("User-Agent", USER_AGENT)
    last = "no URL given"
    try:
        for attempt in range(retries + 1):
            for url in remote.urls:
                try:
                    _fetch(session, url, part, remote.size, timeout, progress, remote.name)
                except (requests.RequestException, OSError) as exc:
                    last = f"{url}: {_short(exc)}"
                    say(f"{remote.name}: attempt {attempt + 1} failed ({last}); partial file kept for resume")
                    continue
                problem = verify(part, remote.size, remote.checksum)
                if problem is None:
                    os.replace(part, dest)
                    return dest
                last = f"{url}: {problem}"
                say(f"{remote.name}: downloaded file is corrupt ({problem}); deleting it and fetching again")
                part.unlink(missing_ok=True)
            if attempt < retries:
                time.sleep(backoff * 2**attempt)
    finally:
        if own:
            session.close()
    raise DownloadError(f"{dest}: download failed after {retries + 1} attempts ({last})")


def download_all(remotes: Iterable[RemoteFile], dest_dir: str | os.PathLike, **kwargs) -> dict[str, Path]:
    """:func:`download` each of ``remotes`` into ``dest_dir`` (``kwargs``: its options).

    Returns:
        ``{name: path}``.

    Raises:
        DownloadError: at the first file that cannot be fetched.
    """
    return {r.name: download(r, dest_dir, **kwargs) for r in remotes}


def _fetch(
    session: requests.Session, url: str, part: Path, size: int | None, timeout: float, progress: bool, name: str
) -> None:
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is not None and offset == size:
        return  # complete already; the caller verifies it
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with session.get(url, stream=True, timeout=timeout, headers=headers) as r:
        if r.status_code == 416:  # the partial file is not a prefix of this resource: start over
            part.unlink(missing_ok=True)
            raise requests.HTTPError(f"HTTP 416 for a resume at byte {offset}; restarting from zero")
        r.raise_for_status()
        if offset and r.status_code == 206 and not r.headers.get("Content-Range", "").startswith(f"bytes {offset}-"):
            part.unlink(missing_ok=True)
            raise requests.HTTPError(f"unexpected Content-Range {r.headers.get('Content-Range')!r}")
        if r.status_code != 206:
            offset = 0  # the server sent the whole file
        length = r.headers.get("Content-Length")
        total = offset + int(length) if length is not None else size
        written = 0
        with (
            open(part, "ab" if offset else "wb") as f,
            tqdm(
                total=total,
                initial=offset,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=name,
                disable=not progress,
                leave=False,
            ) as bar,
        ):
            for block in r.iter_content(CHUNK):
                f.write(block)
                written += len(block)
                bar.update(len(block))
        if length is not None and written < int(length):
            raise OSError(f"connection closed after {offset + written} of {total} bytes")


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


# ---------------------------------------------------------------------------------------------------------------
# archives


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike, *, force: bool = False) -> Path:
    """Unpack a zip or tar archive into ``dest`` once: a marker file (size and mtime of the archive) makes later
    calls no-ops unless ``force``.

    Returns:
        ``dest``.

    Raises:
        DownloadError: not a zip or tar archive, or a member that would be written outside ``dest`` (nothing is
            extracted then).
    """
    archive, dest = Path(archive), Path(dest)
    stat = archive.stat()
    marker = dest / f".extracted-{archive.name}"
    stamp = f"{stat.st_size} {int(stat.st_mtime)}"
    if not force and marker.is_file() and marker.read_text() == stamp:
        return dest
    dest.mkdir(parents=True, exist_ok=True)
    root = dest.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            _check_members(archive, root, zf.namelist())
            zf.extractall(dest)
    elif tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            _check_members(archive, root, tf.getnames())
            try:
                tf.extractall(dest, filter="data")
            except TypeError:  # Python without extraction filters; members were checked above
                tf.extractall(dest)
    else:
        raise DownloadError(f"{archive}: not a zip or tar archive")
    marker.write_text(stamp)
    return dest


def _check_members(archive: Path, root: Path, names: Sequence[str]) -> None:
    for n in names:
        target = (root / n).resolve()
        if target != root and root not in target.parents:
            raise DownloadError(f"{archive}: member {n!r} would be written outside {root}")


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike, mode: str = "auto") -> str:
    """Place ``src`` at ``dst`` as a hard link, else a symlink, else a copy.

    Args:
        src: the existing file.
        dst: where to put it (parents created; an existing ``dst``, a link made by an earlier run included, is
            replaced).
        mode: ``auto`` (try in that order), ``hardlink``, ``symlink`` or ``copy``.

    Returns:
        The method used: ``"hardlink"``, ``"symlink"`` or ``"copy"``.

    Raises:
        fpblur.core.files.InputError: ``dst`` names the input itself (inputs are never deleted).
        OSError: no method worked.
        KeyError: an unknown ``mode``.
    """
    src, dst = Path(src), Path(dst)
    if same_file(dst, src) and _entry(dst) in (_entry(src), src.resolve()):
        raise InputError(f"{src}: output equals the input")
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.is_symlink() or dst.exists():
        dst.unlink()
    order = {
        "auto": ("hardlink", "symlink", "copy"),
        "hardlink": ("hardlink",),
        "symlink": ("symlink",),
        "copy": ("copy",),
    }[mode]
    err: OSError | None = None
    for how in order:
        try:
            if how == "hardlink":
                os.link(src, dst)
            elif how == "symlink":
                os.symlink(src.resolve(), dst)
            else:
                shutil.copy2(src, dst)
            return how
        except OSError as exc:
            err = exc
    raise OSError(f"{dst}: cannot link or copy from {src} ({err})")


def _entry(p: Path) -> Path:
    """``p``'s directory entry with the folders above it resolved (a symlink at ``p`` itself is not followed)."""
    return p.parent.resolve() / p.name
