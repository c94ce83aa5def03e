"""Every notebook is committed clean (no outputs, no execution counts), has a ``parameters``-tagged cell and is
thin (``tests/notebook_checks.py``: short cells, no long functions or loops, logic imported from fpblur)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_checks import MAX_CELL_LINES, MAX_DEF_LINES, MAX_LOOP_LINES, thinness_problems

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {
        "01_wider_face_to_yolo.ipynb",
        "02_plate_data_collection.ipynb",
        "03_plate_voc_to_yolo_qa.ipynb",
        "04_train_detectors.ipynb",
        "05_evaluate.ipynb",
        "06_blur_demo.ipynb",
    } <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
    ]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts (run nbstripout {path})"
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and nb.cells[tagged[0]].cell_type == "code", (
        f"{path.name}: needs exactly one code cell tagged 'parameters'"
    )
    assert "SMOKE" in nb.cells[tagged[0]].source, f"{path.name}: the parameters cell should define SMOKE"
    assert path.name[:2].isdigit() and path.name[2] == "_", f"{path.name}: notebooks are numbered NN_name.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_thin(path):
    problems = thinness_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path.name}: " + "; ".join(problems)


def _notebook(tmp_path, name: str, *cells: str):
    """Write a notebook with these code cells (first cell imports fpblur unless told otherwise) and read it back."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# a notebook")] + [nbformat.v4.new_code_cell(c) for c in cells]
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(nb, path)
    return nbformat.read(path, as_version=4)


def test_thinness_check_fails_on_logic_in_cells(tmp_path):
    imports = "%matplotlib inline\nfrom pathlib import Path\n\nfrom fpblur.training.eval import plots\n"
    long_function = (
        "def count_faces(rows):\n"
        + "".join(f"    x{i} = rows[{i}]  # step {i}\n" for i in range(12))
        + "    return x0\n"
    )
    assert (
        thinness_problems(
            _notebook(
                tmp_path,
                "thin",
                imports,
                "runs = [1, 2]\nfor r in runs:\n    print(r)\n",
                "!ls\nsquare = lambda v: v * v\n",
            )
        )
        == []
    )

    (problem,) = thinness_problems(_notebook(tmp_path, "function", imports, "# helper\n" + long_function))
    assert problem.startswith("cell 2, line 2: def count_faces is 14 lines") and f"at most {MAX_DEF_LINES}" in problem

    klass = "class Report:\n    def __init__(self):\n        self.rows = []\n        self.total = 0\n"
    problems = thinness_problems(_notebook(tmp_path, "class", imports, klass))
    assert [p.split(":")[1].strip() for p in problems] == [
        "class Report is 4 lines (at most 3; move the logic into fpblur)"
    ]

    loop = "for i in range(3):\n" + "".join(f"    print(i + {k})\n" for k in range(MAX_LOOP_LINES))
    (problem,) = thinness_problems(_notebook(tmp_path, "loop", imports, loop))
    assert f"for loop is {MAX_LOOP_LINES + 1} lines" in problem
    nested = "if True:\n    while False:\n" + "        pass\n" * MAX_LOOP_LINES  # inside another block too
    assert "while loop is" in thinness_problems(_notebook(tmp_path, "nested", imports, nested))[0]

    long_cell = "".join(
        f"a{i} = {i}\n\n# comment lines and blank lines do not count\n" for i in range(MAX_CELL_LINES + 1)
    )
    (problem,) = thinness_problems(_notebook(tmp_path, "long", imports, long_cell))
    assert problem == f"cell 2: {MAX_CELL_LINES + 1} lines of code (at most {MAX_CELL_LINES})"
    assert (
        thinness_problems(_notebook(tmp_path, "exact", imports, long_cell.replace(f"a{MAX_CELL_LINES} = ", "# "))) == []
    )

    assert thinness_problems(_notebook(tmp_path, "no_fpblur", "import numpy as np\nfrom pathlib import Path\n")) == [
        "no code cell imports from fpblur"
    ]
    assert thinness_problems(_notebook(tmp_path, "relative", "from .fpblur import x\n")) == [
        "no code cell imports from fpblur"
    ]
    assert thinness_problems(_notebook(tmp_path, "plain_import", "import fpblur.cli\n")) == []
    assert "not valid Python" in thinness_problems(_notebook(tmp_path, "broken", imports, "def (:\n"))[0]


# ---------------------------------------------------------------- Colab setup cells, from one URL
ROOT = Path(__file__).resolve().parents[1]


def _badges():
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "scripts"))
    return importlib.import_module("colab_badges")


class ColabShell:
    """Stands in for Colab's IPython while a setup cell runs: records ``!`` commands and ``%`` magics, with
    ``{NAME}`` expanded from the cell's variables as IPython does; ``run(kind, line)`` may carry them out."""

    def __init__(self, namespace: dict, run=None) -> None:
        self.namespace, self.run, self.calls = namespace, run, []

    def _record(self, kind: str, line: str) -> None:
        import string

        line = string.Formatter().vformat(line, (), self.namespace)
        self.calls.append((kind, line))
        if self.run is not None:
            self.run(kind, line)

    def system(self, cmd: str) -> None:
        self._record("!", cmd)

    def run_line_magic(self, name: str, line: str, _stack_depth: int = 1) -> None:
        self._record(f"%{name}", line)


def _run_setup_cell(source: str, monkeypatch, on_colab: bool, run=None) -> tuple[ColabShell, list[str]]:
    """Execute a setup cell as IPython would (``!``/``%`` lines transformed), on Colab (a stand-in
    ``google.colab`` module) or not; returns the shell's record and the widget-manager calls."""
    import sys
    import types

    from IPython.core.inputtransformer2 import TransformerManager

    enabled: list[str] = []
    if on_colab:
        colab = types.ModuleType("google.colab")
        colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: enabled.append("widgets"))
        monkeypatch.setitem(sys.modules, "google.colab", colab)
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.chdir(Path.cwd())  # restored afterwards: the cell may chdir into its clone
    namespace: dict = {}
    shell = ColabShell(namespace, run)
    namespace["get_ipython"] = lambda: shell
    exec(compile(TransformerManager().transform_cell(source), "<setup cell>", "exec"), namespace)
    return shell, enabled


def test_every_notebook_starts_with_the_generated_colab_setup_cell():
    import subprocess
    import sys

    badges = _badges()
    assert {nb.name for nb in badges.NOTEBOOKS} == {p.name for p in NOTEBOOKS}
    for nb in badges.NOTEBOOKS:
        first = next(
            c for c in nbformat.read(ROOT / "notebooks" / nb.name, as_version=4).cells if c.cell_type == "code"
        )
        assert first.source == badges.setup_cell(nb), f"{nb.name}: run python scripts/colab_badges.py --write"
        assert f'REPO_URL = "{badges.REPO_URL}"' in first.source
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "colab_badges.py"), "--check"], capture_output=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_setup_cell_installs_from_the_repository_on_colab_only(path, monkeypatch, tmp_path):
    badges = _badges()
    source = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code").source
    shell, enabled = _run_setup_cell(source, monkeypatch, on_colab=False)
    assert shell.calls == [] and enabled == []  # elsewhere: nothing installed, nothing switched

    clone = tmp_path / "fpblur"  # stands for the cell's clone folder
    source = source.replace(badges.CLONE_DIR, str(clone))
    fake_clone = lambda kind, line: clone.mkdir() if kind == "!" else None
    shell, enabled = _run_setup_cell(source, monkeypatch, on_colab=True, run=fake_clone)
    assert enabled == ["widgets"]  # Colab's custom widget manager (ipywidgets 8)
    installs = [line for kind, line in shell.calls if kind == "%pip" and "fpblur" in line]
    clones = [line for kind, line in shell.calls if kind == "!"]
    if clones:  # the notebook reads the repository's files: clone it, install the clone, work inside it
        assert clones == [f"git clone -q --depth 1 --branch {badges.BRANCH} {badges.REPO_URL} {clone}"]
        assert installs == [f'install -q "{clone}[train,ui]"']
        assert Path.cwd() == clone
        shell, _ = _run_setup_cell(source, monkeypatch, on_colab=True)  # run again: no second clone
        assert [kind for kind, _ in shell.calls if kind == "!"] == []
    else:  # the package straight from the repository
        assert installs == [f'install -q "fpblur[train,ui] @ git+{badges.REPO_URL}@{badges.BRANCH}"']


def test_changing_the_one_url_rewrites_badges_and_setup_cells(tmp_path):
    """Edit REPO_URL in (a copy of) the script, and --check/--write update the README and every notebook."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("*-out", "out"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "scripts").mkdir()
    script = tmp_path / "scripts" / "colab_badges.py"
    text = (ROOT / "scripts" / "colab_badges.py").read_text()
    old = _badges().REPO_URL
    assert text.count(f'"{old}"') == 1, "the URL is written once"
    script.write_text(text.replace(f'"{old}"', '"https://github.com/someone/fpblur-fork"'))

    def cli(*args):
        return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=tmp_path)

    check = cli("--check")
    assert check.returncode == 1 and check.stdout.count("out of date") == len(NOTEBOOKS) + 1, check.stdout
    assert cli("--write").returncode == 0 and cli("--check").returncode == 0
    readme = (tmp_path / "README.md").read_text()
    assert "colab.research.google.com/github/someone/fpblur-fork/blob/main/notebooks/06_blur_demo.ipynb" in readme
    assert old not in readme.split("<!-- colab-badges:start -->")[1].split("<!-- colab-badges:end -->")[0]
    for path in sorted((tmp_path / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert 'REPO_URL = "https://github.com/someone/fpblur-fork"' in first.source and old not in first.source
        original = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        changed = [i for i, (a, b) in enumerate(zip(nb.cells, original.cells)) if a.source != b.source]
        assert len(nb.cells) == len(original.cells) and changed == [nb.cells.index(first)]  # only the setup cell
    bad = tmp_path / "scripts" / "colab_badges.py"
    bad.write_text(text.replace(f'"{old}"', '"https://example.org/fpblur"'))
    assert "must look like https://github.com/OWNER/NAME" in cli("--write").stderr


@pytest.mark.slow
def test_setup_cells_install_when_the_url_is_right(monkeypatch, tmp_path):
    """Offline rehearsal of Colab: the repository served from a local bare clone, each setup cell's git clone
    run for real and each pip install resolved for real by pip (--dry-run, no index, no dependencies)."""
    import json
    import shutil
    import subprocess
    import sys

    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    badges = _badges()
    bare = tmp_path / "published.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(ROOT), str(bare)], check=True)
    subprocess.run(["git", "-C", str(bare), "branch", "-f", badges.BRANCH, "HEAD"], check=True)
    url = f"file://localhost{bare}"  # what pip and git accept for a local repository
    for i, path in enumerate(NOTEBOOKS):
        source = next(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code").source
        source = source.replace(f'"{badges.REPO_URL}"', f'"{url}"').replace(badges.CLONE_DIR, str(tmp_path / f"c{i}"))
        reports = []

        def run(kind, line, reports=reports, i=i):
            if kind == "!":
                subprocess.run(line, shell=True, check=True)
            elif kind == "%pip" and badges.PLATE_PT not in line:  # fpblur itself
                report = tmp_path / f"report{i}.json"
                extra = ["--dry-run", "--no-deps", "--no-index", "--no-build-isolation", "--report", str(report)]
                cmd = f"{sys.executable} -m pip {line} " + " ".join(extra)
                subprocess.run(cmd, shell=True, check=True, capture_output=True)
                reports.append(json.loads(report.read_text()))

        _run_setup_cell(source, monkeypatch, on_colab=True, run=run)
        assert len(reports) == 1, path.name
        (item,) = reports[0]["install"]
        assert item["metadata"]["name"] == "fpblur" and sorted(item["requested_extras"]) == ["train", "ui"]


# ---------------------------------------------------------------- notebook 04: the device it trains on
class _Shell:
    def run_line_magic(self, *args, **kwargs) -> None:  # %matplotlib inline
        pass


@pytest.mark.parametrize(
    "visible, device_param, smoke, expected",
    [
        ("0,1", None, False, "training on 0,1 (every visible CUDA GPU)"),
        ("0", None, False, "training on 0 (every visible CUDA GPU)"),
        ("cpu", None, False, "training on cpu (no CUDA GPU visible)"),
        ("0,1", "0", False, "training on 0 (the DEVICE parameter)"),
        ("0,1", None, True, "training on cpu (SMOKE runs on the CPU)"),
    ],
)
def test_04_trains_on_what_the_machine_has_and_says_so(monkeypatch, capsys, visible, device_param, smoke, expected):
    """DEVICE defaults to None: fpblur.training.train.auto_device() (every visible GPU, else the CPU), printed;
    the recipes are merged with that device."""
    from IPython.core.inputtransformer2 import TransformerManager

    from fpblur.training import train as tr

    nb = nbformat.read(ROOT / "notebooks" / "04_train_detectors.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "\nDEVICE = None" in f"\n{params.source}"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    start = code.index(params.source) + 1
    chosen = next(i for i, src in enumerate(code) if "tr.auto_device()" in src)
    merged = next(i for i, src in enumerate(code) if "tr.merge_config(" in src)
    assert start <= chosen < merged
    monkeypatch.setattr(tr, "auto_device", lambda: visible)
    monkeypatch.chdir(ROOT)  # the recipes' paths are relative to the repository
    import os

    ns: dict = {"get_ipython": _Shell, "os": os}
    exec(params.source, ns)
    ns.update(DEVICE=device_param, SMOKE=smoke, SMOKE_DIR="unused")
    for src in code[start : merged + 1]:
        if smoke and "make_yolo_dataset" in src:  # SMOKE's generated dataset is not the point here
            src = src.replace("if SMOKE:", "if False:", 1)
        exec(TransformerManager().transform_cell(src), ns)
    assert expected in capsys.readouterr().out
    device = expected.split()[2]
    assert ns["device"] == device
    assert ns["configs"]["face"]["device"] == ns["configs"]["plate"]["device"] == device
