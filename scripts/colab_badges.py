"""Colab badges for the notebooks, from ONE repository URL.

``REPO_URL`` below is the only place the repository's address is written.  The badge block in the README
prose (between ``<!-- colab-badges:start -->`` and ``<!-- colab-badges:end -->``) and the ``REPO_URL = "…"``
line of each notebook's Colab setup cell are generated from it:

    python scripts/colab_badges.py            # print the badge block
    python scripts/colab_badges.py --write    # rewrite the block in the Markdown files and the notebooks' line
    python scripts/colab_badges.py --check    # exit 1 if any of them is out of date (the tests run this)

``https://github.com/fpblur/fpblur`` is a placeholder until the project has its public home.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO_URL = "https://github.com/fpblur/fpblur"  # placeholder: change here, then run --write
BRANCH = "main"
ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = (
    ("01_wider_face_to_yolo.ipynb", "WIDER FACE → YOLO"),
    ("02_plate_data_collection.ipynb", "plate data collection"),
    ("03_plate_voc_to_yolo_qa.ipynb", "VOC → YOLO and label QA"),
    ("04_train_detectors.ipynb", "train the detectors"),
    ("05_evaluate.ipynb", "evaluate"),
    ("06_blur_demo.ipynb", "interactive blur demo"),
)
MARKDOWN = ("README.md",)  # files whose badge block is kept up to date
START, END = "<!-- colab-badges:start -->", "<!-- colab-badges:end -->"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
URL_LINE = re.compile(r'^(\s*"?REPO_URL = \\?")[^"\\]*(\\?".*)$', re.M)


def colab_url(notebook: str, repo_url: str = REPO_URL, branch: str = BRANCH) -> str:
    m = re.fullmatch(r"https://github\.com/([^/]+)/([^/]+?)(?:\.git)?/?", repo_url)
    if not m:
        raise ValueError(f"REPO_URL must look like https://github.com/OWNER/NAME (got {repo_url!r})")
    return f"https://colab.research.google.com/github/{m.group(1)}/{m.group(2)}/blob/{branch}/notebooks/{notebook}"


def badge_block() -> str:
    lines = [START]
    for name, title in NOTEBOOKS:
        lines.append(f"- [![Open In Colab]({BADGE})]({colab_url(name)}) `notebooks/{name}` — {title}")
    lines.append(END)
    return "\n".join(lines)


def update_markdown(text: str) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    return pattern.sub(lambda _m: badge_block(), text)


def update_notebook(text: str) -> str:
    """Set the ``REPO_URL = "…"`` line of a notebook (raw .ipynb JSON text) to :data:`REPO_URL`."""
    return URL_LINE.sub(lambda m: f"{m.group(1)}{REPO_URL}{m.group(2)}", text)


def targets() -> list[tuple[Path, callable]]:
    found = [(ROOT / f, update_markdown) for f in MARKDOWN if (ROOT / f).is_file()]
    found += [(p, update_notebook) for p in sorted((ROOT / "notebooks").glob("*.ipynb"))]
    return found


def stale() -> list[Path]:
    return [path for path, fn in targets() if fn(path.read_text()) != path.read_text()]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Colab badges from one repository URL")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--write", action="store_true", help="update the Markdown badge blocks and notebook URLs")
    g.add_argument("--check", action="store_true", help="exit 1 when something is out of date")
    args = p.parse_args(argv)
    if args.write:
        for path in stale():
            fn = dict(targets())[path]
            path.write_text(fn(path.read_text()))
            print(f"updated {path.relative_to(ROOT)}")
        return 0
    if args.check:
        out = stale()
        for path in out:
            print(f"{path.relative_to(ROOT)}: Colab URL out of date; run python scripts/colab_badges.py --write")
        return 1 if out else 0
    print(badge_block())
    return 0


if __name__ == "__main__":
    sys.exit(main())
