"""notebooks/06_blur_demo.ipynb: committed clean, runs in smoke mode (papermill), Colab links from one URL."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "06_blur_demo.ipynb"


def _load(name: str):
    sys.path.insert(0, str(ROOT / "scripts"))
    return importlib.import_module(name)


def test_notebook_is_committed_clean_and_thin():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), "strip the outputs"
    colab = "".join(code[0]["source"])
    assert '"google.colab" in sys.modules' in colab and "%pip install" in colab  # Colab-only install first
    assert "output.enable_custom_widget_manager()" in colab  # ipywidgets 8 on Colab
    params = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1 and "SMOKE = False" in "".join(params[0]["source"])
    assert "from fpblur.ui.widgets import" in "".join("".join(c["source"]) for c in code)
    # thin: short cells, no function, class or long loop in a cell (the widget lives in fpblur.ui.widgets)
    import nbformat
    from notebook_checks import thinness_problems

    assert thinness_problems(nbformat.reads(NOTEBOOK.read_text(), as_version=4)) == []


def test_colab_links_come_from_one_url():
    badges = _load("colab_badges")
    assert badges.REPO_URL in NOTEBOOK.read_text()
    assert badges.stale() == [], "run: python scripts/colab_badges.py --write"
    block = badges.badge_block()
    assert block in (ROOT / "README.md").read_text()
    listed = {nb.name for nb in badges.NOTEBOOKS}
    on_disk = {p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert on_disk <= listed, f"add a Colab badge for {sorted(on_disk - listed)} in scripts/colab_badges.py"
    for name in listed:
        assert badges.colab_url(name) in block
    assert badges.colab_url("06_blur_demo.ipynb") == (
        "https://colab.research.google.com/github/fpblur/fpblur/blob/main/notebooks/06_blur_demo.ipynb"
    )


def test_save_folder_parameter_is_git_ignored():
    """Voilà and Jupyter run the notebook in notebooks/: "Save" must not leave files git would pick up there."""
    import shutil

    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    nb = json.loads(NOTEBOOK.read_text())
    params = next(c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    ns: dict = {}
    exec("".join(params["source"]), ns)
    saved = (ROOT / "notebooks" / ns["SAVE_DIR"] / "zidane_blur.jpg").resolve()
    inside = saved.is_relative_to(ROOT.resolve())
    ignored = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "-q", str(saved)]).returncode == 0
    assert ignored or not inside, f"SAVE_DIR = {ns['SAVE_DIR']!r}: {saved} is not ignored by git"


def test_readme_images_exist_and_are_small():
    from PIL import Image

    text = (ROOT / "README.md").read_text()
    for name in ("widget_demo.png", "tk_app.png"):
        assert f"assets/screenshots/{name}" in text
        path = ROOT / "assets" / "screenshots" / name
        assert path.is_file() and path.stat().st_size < 400_000, path
        with Image.open(path) as im:
            assert im.width >= 600 and im.height >= 400


@pytest.mark.slow
def test_notebook_runs_in_smoke_mode(tmp_path):
    pytest.importorskip("papermill")
    out = tmp_path / "06_out.ipynb"
    save_dir = tmp_path / "saved"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "papermill",
            "-k",
            "python3",
            "--cwd",
            str(tmp_path),
            "-p",
            "SMOKE",
            "True",
            "-p",
            "SAVE_DIR",
            str(save_dir),
            str(NOTEBOOK),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    nb = json.loads(out.read_text())
    printed = "".join(
        o.get("text", "") if isinstance(o.get("text"), str) else "".join(o.get("text", []))
        for c in nb["cells"]
        if c["cell_type"] == "code"
        for o in c.get("outputs", [])
    )
    assert "smoke: {'face': 2, 'plate': 0}" in printed, printed
    assert 'mode="blur"' in printed and 'sample_folder() / "zidane.jpg"' in printed  # the same run as code
    assert (save_dir / "zidane_blur.jpg").is_file()
    # the widget itself was displayed (a widget view in the outputs)
    assert "application/vnd.jupyter.widget-view+json" in out.read_text()
