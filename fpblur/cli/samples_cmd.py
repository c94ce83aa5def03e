"""``fpblur samples``: print (and create) the folder of sample inputs."""

from __future__ import annotations

import argparse

from fpblur.models.samples import sample_folder


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("samples", help="print the path of a folder of sample images (created offline)",
                       description="Creates zidane.jpg and bus.jpg (shipped by ultralytics) and a drawn car with "
                                   "a plate in one folder and prints its path, e.g. fpblur image \"$(fpblur samples)\" -o out/")
    p.add_argument("--dest", help="folder to create (default: fpblur's cache)")
    return p


def run(args: argparse.Namespace) -> int:
    print(sample_folder(args.dest))
    return 0
