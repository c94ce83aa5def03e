"""``fpblur app``: the desktop app (Tkinter; imported only when the command runs)."""

from __future__ import annotations

import argparse

from fpblur.cli.common import error


def add_app_arguments(p: argparse.ArgumentParser) -> None:
    """Add the app's positional ``input`` and ``--faces``/``--plates``/``-o`` options (all preselections) to ``p``."""
    p.add_argument("input", nargs="?", help="image or video to preselect")
    p.add_argument("--faces", metavar="WEIGHTS", help="face weights (.pt/.onnx); default: CenterFace")
    p.add_argument("--plates", metavar="WEIGHTS", help="plate weights (.pt/.onnx); default: YOLOv8n plate model")
    p.add_argument("-o", "--output", metavar="OUT", help="output file to preselect")


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur app`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "app",
        help="desktop app: pick an image or video, tune, preview, save (Tkinter)",
        description="Open the desktop app. It needs a display (on a server: xvfb-run fpblur app).",
    )
    add_app_arguments(p)
    return p


def run(args: argparse.Namespace) -> int:
    """Open the desktop app (:func:`fpblur.ui.app.launch`) with the parsed preselections.

    Args:
        args: the parsed ``fpblur app`` command line.

    Returns:
        0 when the window was closed, 2 (after one ``fpblur: error:`` line) when Python has no tkinter or no
        window can be opened (no display).
    """
    try:
        from fpblur.ui.app import launch  # optional: tkinter (Python may be built without Tk)
    except ImportError as exc:  # Python built without Tk
        error(f"the desktop app needs tkinter ({exc}); on Debian/Ubuntu: apt-get install python3-tk")
        return 2
    return launch(args)
