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
