"""Optional dependencies: which extra provides them, and a one-line error when one is missing.

``pip install fpblur`` (the core) anonymizes images and videos with the default models on ONNX Runtime.  The
rest comes with extras (``pyproject.toml``): ``[train]`` (torch, Ultralytics, … : training, export, evaluation,
``.pt`` weights, CUDA/``--half`` for YOLO), ``[notebooks]``, ``[ui]``, ``[ray]``, ``[dev]``, ``[all]``.
"""

from __future__ import annotations

import importlib.util

#: What ``fpblur train`` / ``export`` / ``eval`` cannot run without (all from the ``[train]`` extra).
TRAIN_MODULES = ("torch", "ultralytics", "yaml")


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message names the extra that installs it."""

    def __init__(self, what: str, extra: str, module: str | None = None) -> None:
        super().__init__(f"{what} needs the [{extra}] extra: pip install 'fpblur[{extra}]'", name=module)
        self.extra = extra


def missing(*modules: str) -> list[str]:
    """The top-level modules of ``modules`` that are not installed (looked up without importing them).

    Args:
        modules: top-level module names, e.g. ``"torch"``.

    Returns:
        The missing ones, in the order given (empty: all installed).
    """
    return [m for m in modules if importlib.util.find_spec(m) is None]


def require(what: str, extra: str, *modules: str) -> None:
    """Fail with a one-line install hint unless every module of ``modules`` is installed (nothing is imported).

    Args:
        what: what needs them, e.g. ``"fpblur train"``.
        extra: the extra that installs them, e.g. ``"train"``.
        modules: top-level module names.

    Raises:
        MissingExtra: one of ``modules`` is not installed; the message is
            ``"<what> needs the [<extra>] extra: pip install 'fpblur[<extra>]'"`` and ``name`` the first missing
            module.
    """
    absent = missing(*modules)
    if absent:
        raise MissingExtra(what, extra, absent[0])
