"""Every notebook is committed clean (no outputs, no execution counts) and has a ``parameters``-tagged cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_wider_face_to_yolo.ipynb", "02_plate_data_collection.ipynb", "03_plate_voc_to_yolo_qa.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs or execution counts (run nbstripout {path})"
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and nb.cells[tagged[0]].cell_type == "code", f"{path.name}: needs exactly one code cell tagged 'parameters'"
    assert "SMOKE" in nb.cells[tagged[0]].source, f"{path.name}: the parameters cell should define SMOKE"
    assert path.name[:2].isdigit() and path.name[2] == "_", f"{path.name}: notebooks are numbered NN_name.ipynb"
