"""Print the shell commands of one fenced block of README.md, so CI runs exactly what the README says.

A block is chosen by the HTML comment just above it: ``<!-- ci:NAME -->``.  Usage:
``python scripts/readme_commands.py quickstart`` → one command per line (comments and blank lines dropped).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path


def commands(readme: str, name: str) -> list[str]:
    m = re.search(rf"<!-- ci:{re.escape(name)} -->\s*```(?:bash|sh|console)?\n(.*?)```", readme, re.S)
    if not m:
        raise SystemExit(f"README.md: no fenced block marked <!-- ci:{name} -->")
    return [ln.strip() for ln in m.group(1).splitlines() if ln.strip() and not ln.strip().startswith("#")]


if __name__ == "__main__":
    root = Path(__file__).resolve().parent.parent
    for cmd in commands((root / "README.md").read_text(), sys.argv[1]):
        print(cmd)
