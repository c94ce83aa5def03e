"""``fpblur app``: the desktop app (Tkinter; imported only when the command runs)."""

from __future__ import annotations

import argparse


def add_app_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", nargs="?", help="image or video to preselect")
    p.add_argument("--faces", metavar="WEIGHTS", help="face weights (.pt/.onnx); default: CenterFace")
    p.add_argument("--plates", metavar="WEIGHTS", help="plate weights (.pt/.onnx); default: YOLOv8n plate model")
    p.add_argument("-o", "--output", metavar="OUT", help="output file to preselect")


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("app", help="desktop app: pick an image or video, tune, preview, save (Tkinter)",
                       description="Open the desktop app. It needs a display (on a server: xvfb-run fpblur app).")
    add_app_arguments(p)
    return p


def run(args: argparse.Namespace) -> int:
    try:
        from fpblur.ui.app import launch
    except ImportError as exc:  # Python built without Tk
        from fpblur.cli.common import error

        error(f"the desktop app needs tkinter ({exc}); on Debian/Ubuntu: apt-get install python3-tk")
        return 2
    return launch(args)
