"""``fpblur samples``: print (and create) the folder of sample inputs."""

from __future__ import annotations

import argparse

from fpblur.models.samples import sample_folder


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``fpblur samples`` subcommand and its options.

    Args:
        sub: the top-level parser's ``add_subparsers()`` object.

    Returns:
        The subcommand's parser.
    """
    p = sub.add_parser(
        "samples",
        help="print the path of a folder of sample images (created offline)",
        description="Creates zidane.jpg and bus.jpg (shipped with fpblur) and a drawn car with "
        'a plate in one folder and prints its path, e.g. fpblur image "$(fpblur samples)" -o out/',
    )
    p.add_argument("--dest", help="folder to create (default: fpblur's cache)")
    return p


def run(args: argparse.Namespace) -> int:
    """Create the sample folder (:func:`fpblur.models.samples.sample_folder`, offline) and print its path.

    Args:
        args: the parsed ``fpblur samples`` command line (``--dest``: the folder; default: fpblur's cache).

    Returns:
        0.
    """
    print(sample_folder(args.dest))
    return 0
