"""``fpblur`` command line.  Each subcommand lives in its own module with ``add_parser`` and ``run``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from fpblur import __version__

# name -> module; a module that is not present in this installation is simply not offered.
COMMANDS = {
    "image": "fpblur.cli.image_cmd",
    "detect": "fpblur.cli.detect_cmd",
    "video": "fpblur.cli.video_cmd",
    "batch": "fpblur.cli.batch_cmd",
    "models": "fpblur.cli.models_cmd",
    "samples": "fpblur.cli.samples_cmd",
    "train": "fpblur.cli.train_cmd",
    "export": "fpblur.cli.export_cmd",
    "eval": "fpblur.cli.eval_cmd",
    "app": "fpblur.cli.app_cmd",
}


def build_parser() -> argparse.ArgumentParser:
    """The ``fpblur`` argument parser: one subcommand per module of :data:`COMMANDS` present in this installation.

    Imports every command module (so none of them may import an optional dependency at its top: ``fpblur --help``
    must work in the core install).

    Returns:
        The parser; each subcommand's defaults carry ``_run``, the module's ``run(args) -> int``.
    """
    parser = argparse.ArgumentParser(
        prog="fpblur",
        description="Find faces and licence plates in images and videos and anonymize them (offline).",
    )
    parser.add_argument("--version", action="version", version=f"fpblur {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module_name in COMMANDS.values():
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``fpblur`` command line.

    Args:
        argv: the arguments without the program name (None: ``sys.argv[1:]``).

    Returns:
        The exit status: the command's own (0 done, 1 some inputs failed, 2 nothing could be done), 130 after
        Ctrl-C, and 2 for an exception the command did not handle, printed as one ``fpblur: error: <first line>``
        on stderr without a traceback (a hidden ``--debug`` option re-raises it instead).

    Raises:
        SystemExit: from argparse, for ``--help``/``--version`` (status 0) and usage errors (status 2).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        print("fpblur: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, no traceback, for anything a command did not handle itself
        if getattr(args, "debug", False):
            raise
        msg = str(exc).strip().splitlines()
        print(f"fpblur: error: {msg[0] if msg else type(exc).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
