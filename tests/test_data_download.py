"""fpblur.training.data.download: skip-if-valid, resume with Range, checksum failures re-fetched, retries, mirrors, archives."""

from __future__ import annotations

import os
import zipfile

import pytest

from fpblur.core.files import InputError
from fpblur.training.data.download import DownloadError, RemoteFile, download, extract_archive, link_or_copy, verify
from fpblur.training.data.hashing import sha256_file
from fpblur.training.data.server import serve

SIZE = 400_000


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "srv"
    root.mkdir()
    (root / "blob.bin").write_bytes(os.urandom(SIZE))
    with serve(root) as server:
        remote = RemoteFile("blob.bin", (f"{server.url}/blob.bin",), SIZE, f"sha256:{sha256_file(root / 'blob.bin')}")
        yield server, remote, root / "blob.bin"


def test_fresh_download_then_skip_when_valid(served, tmp_path, no_network):
    server, remote, original = served
    path = download(remote, tmp_path / "dl", progress=False)
    assert path.read_bytes() == original.read_bytes()
    assert not (tmp_path / "dl" / "blob.bin.part").exists()
    server.log.clear()
    assert download(remote, tmp_path / "dl", progress=False) == path
    assert server.log == []  # present and valid: no request at all


def test_interrupted_download_resumes_with_range(served, tmp_path, no_network):
    server, remote, original = served
    server.truncate["/blob.bin"] = 1  # the first response stops half-way
    messages = []
    path = download(remote, tmp_path / "dl", progress=False, backoff=0, log=messages.append)
    assert path.read_bytes() == original.read_bytes()
    assert [entry[2] for entry in server.log] == [200, 206]
    start = int(server.log[1][1].split("=")[1].rstrip("-"))
    assert 0 < start < SIZE
    assert any("kept for resume" in m for m in messages)


def test_partial_file_from_earlier_run_is_resumed(served, tmp_path, no_network):
    server, remote, original = served
    (tmp_path / "dl").mkdir()
    (tmp_path / "dl" / "blob.bin.part").write_bytes(original.read_bytes()[:123_456])
    download(remote, tmp_path / "dl", progress=False)
    assert server.log == [("/blob.bin", "bytes=123456-", 206)]
    assert verify(tmp_path / "dl" / "blob.bin", SIZE, remote.checksum) is None


def test_corrupted_existing_file_detected_by_checksum_and_refetched(served, tmp_path, no_network):
    server, remote, original = served
    dest = tmp_path / "dl" / "blob.bin"
    dest.parent.mkdir()
    data = bytearray(original.read_bytes())
    data[1000] ^= 0x01  # same size, one bit flipped: only the checksum can tell
    dest.write_bytes(bytes(data))
    assert verify(dest, SIZE, None) is None
    assert "sha256" in verify(dest, SIZE, remote.checksum)
    messages = []
    download(remote, tmp_path / "dl", progress=False, log=messages.append)
    assert dest.read_bytes() == original.read_bytes()
    assert any("fetching again" in m for m in messages)
    assert server.log == [("/blob.bin", None, 200)]


def test_corrupt_transfer_is_deleted_and_fetched_again(served, tmp_path, no_network):
    server, remote, original = served
    server.corrupt["/blob.bin"] = 1  # the first body is damaged
    messages = []
    download(remote, tmp_path / "dl", progress=False, backoff=0, log=messages.append)
    assert (tmp_path / "dl" / "blob.bin").read_bytes() == original.read_bytes()
    assert len(server.log) == 2 and any("corrupt" in m for m in messages)


def test_persistent_corruption_raises_one_line_error(served, tmp_path, no_network):
    server, remote, _ = served
    server.corrupt["/blob.bin"] = 99
    with pytest.raises(DownloadError) as err:
        download(remote, tmp_path / "dl", progress=False, retries=1, backoff=0)
    assert "blob.bin" in str(err.value) and "sha256" in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "dl" / "blob.bin").exists()


def test_mirror_fallback_after_404(served, tmp_path, no_network):
    server, remote, original = served
    mirrored = RemoteFile(remote.name, (f"{server.url}/missing/blob.bin", *remote.urls), remote.size, remote.checksum)
    download(mirrored, tmp_path / "dl", progress=False, backoff=0)
    assert [e[2] for e in server.log] == [404, 200]


def test_md5_checksums_and_bad_spec(tmp_path):
    p = tmp_path / "f.txt"
    p.write_bytes(b"abc")
    assert verify(p, 3, "md5:900150983cd24fb0d6963f7d28e17f72") is None
    assert verify(p, 4) == "size 3 != expected 4"
    assert verify(tmp_path / "none", None) == "missing"
    with pytest.raises(ValueError, match="checksum"):
        RemoteFile("x", ("http://127.0.0.1/x",), checksum="crc:1")


def test_extract_archive_once_and_refuses_escaping_members(tmp_path):
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("a/b.txt", "hello")
    out = extract_archive(good, tmp_path / "x")
    assert (out / "a" / "b.txt").read_text() == "hello"
    (out / "a" / "b.txt").write_text("edited")
    extract_archive(good, tmp_path / "x")  # marker: not extracted twice
    assert (out / "a" / "b.txt").read_text() == "edited"
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(DownloadError, match="outside"):
        extract_archive(bad, tmp_path / "y")
    assert not (tmp_path / "evil.txt").exists()


def test_link_or_copy_modes(tmp_path):
    src = tmp_path / "src.jpg"
    src.write_bytes(b"img")
    assert link_or_copy(src, tmp_path / "h" / "a.jpg") == "hardlink"
    assert os.path.samefile(src, tmp_path / "h" / "a.jpg")
    assert link_or_copy(src, tmp_path / "s.jpg", "symlink") == "symlink" and (tmp_path / "s.jpg").is_symlink()
    assert link_or_copy(src, tmp_path / "c.jpg", "copy") == "copy" and not os.path.samefile(src, tmp_path / "c.jpg")


def test_link_or_copy_never_deletes_its_input(tmp_path):
    src = tmp_path / "src.jpg"
    src.write_bytes(b"img")
    with pytest.raises(InputError, match="src.jpg: output equals the input"):
        link_or_copy(src, src)
    (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)  # the same folder under another name
    with pytest.raises(InputError, match="output equals the input"):
        link_or_copy(src, tmp_path / "alias" / "src.jpg", "copy")
    (tmp_path / "link.jpg").symlink_to(src)  # an input that is a symlink, given as its own output
    with pytest.raises(InputError, match="link.jpg"):
        link_or_copy(tmp_path / "link.jpg", tmp_path / "link.jpg")
    with pytest.raises(InputError):
        link_or_copy(tmp_path / "link.jpg", src)  # the file the input link points to
    assert src.read_bytes() == b"img" and (tmp_path / "link.jpg").is_symlink()
    # links to the input made by an earlier run are replaced; the input stays
    assert link_or_copy(src, tmp_path / "h.jpg") == "hardlink"
    assert link_or_copy(src, tmp_path / "h.jpg", "copy") == "copy" and not os.path.samefile(src, tmp_path / "h.jpg")
    assert link_or_copy(src, tmp_path / "s.jpg", "symlink") == "symlink"
    assert link_or_copy(src, tmp_path / "s.jpg") == "hardlink" and not (tmp_path / "s.jpg").is_symlink()
    assert src.read_bytes() == b"img"
