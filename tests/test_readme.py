"""Every command the README shows must exist and parse: fpblur subcommands through the real parser, scripts and
notebooks on disk, other programs on PATH.  (CI runs the quick-start block itself via scripts/readme_commands.py.)"""

import re
import shlex
import shutil
from pathlib import Path

import pytest

from fpblur.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def readme_commands() -> list[str]:
    cmds = []
    for block in re.findall(r"```(?:bash|sh)\n(.*?)```", README, re.S):
        block = re.sub(r"\\\n\s*", " ", block)  # join continuation lines
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                cmds.append(line)
    return cmds


def _split(cmd: str) -> list[list[str]]:
    """Split a shell line into the argv of each command joined by &&, ||, ; or |, respecting quotes."""
    lexer = shlex.shlex(re.sub(r"\$\((.*?)\)", "SUBST", cmd), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    argvs: list[list[str]] = [[]]
    for tok in lexer:
        if tok in ("&&", "||", ";", "|", "&"):
            argvs.append([])
        else:
            argvs[-1].append(tok)
    return [a for a in argvs if a]


@pytest.mark.parametrize("cmd", readme_commands())
def test_readme_command_is_valid(cmd):
    for argv in _split(cmd):
        while argv and re.match(r"^[A-Z_]+=", argv[0]):  # leading VAR=value
            argv = argv[1:]
        if not argv:
            continue
        prog = argv[0]
        if prog == "fpblur":
            build_parser().parse_args(argv[1:])  # exits (SystemExit) on an invalid command line
        elif prog in ("python", "python3") and len(argv) > 1 and argv[1] not in ("-m", "-c"):
            assert (ROOT / argv[1]).is_file(), f"README runs a missing script: {argv[1]}"
        elif prog in ("python", "python3") and argv[1] == "-m":
            import importlib.util

            assert importlib.util.find_spec(argv[2]) is not None, f"no module {argv[2]}"
        else:
            assert shutil.which(prog) or (ROOT / prog).exists(), f"README uses {prog!r}, which is not installed"
        for arg in argv[1:]:
            if re.match(r"^(notebooks|configs|scripts|benchmarks)/\S+\.\w+$", arg):
                assert (ROOT / arg).exists(), f"README names a missing file: {arg}"


def test_quickstart_block_has_install_sample_and_tests():
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_commands.py"), "quickstart"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert len(out) == 3
    assert out[0].startswith("pip install") and "fpblur image" in out[1] and "pytest" in out[2]
