"""Notebooks 01–03 run end to end in SMOKE mode (papermill, python3 kernel, generated data on 127.0.0.1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
HAS_CHROMIUM = Path("/usr/bin/chromium").is_file()


@pytest.fixture(scope="module")
def kernel():
    """The ``python3`` kernel; registered into JUPYTER_DATA_DIR (a temp folder, see conftest) when missing."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        from ipykernel.kernelspec import install

        install(kernel_name="python3", user=True)  # user=True: $JUPYTER_DATA_DIR/kernels
    assert "python3" in KernelSpecManager().find_kernel_specs()
    return "python3"


def _run(name: str, tmp_path: Path, kernel: str, **params) -> None:
    import papermill as pm

    for var in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR", "MPLCONFIGDIR"):
        assert os.environ.get(var), f"{var} should point at a temp folder (tests/conftest.py sets it)"
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(tmp_path / f"{name}.out.ipynb"),
        parameters={"SMOKE": True, **params},
        kernel_name=kernel,
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        execution_timeout=240,
    )


@pytest.mark.slow
def test_01_wider_face_to_yolo(tmp_path, kernel, no_network):
    _run("01_wider_face_to_yolo", tmp_path, kernel, DATA_ROOT=str(tmp_path / "wider"), OUT=str(tmp_path / "yolo"))
    assert (tmp_path / "yolo" / "data.yaml").is_file()
    assert len(list((tmp_path / "yolo" / "labels" / "train").rglob("*.txt"))) == 3


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_CHROMIUM, reason="/usr/bin/chromium not installed (apt-get install chromium chromium-driver)"
)
def test_02_plate_data_collection(tmp_path, kernel, no_network):
    _run("02_plate_data_collection", tmp_path, kernel, OUT=str(tmp_path / "raw"))
    import pandas as pd

    items = pd.read_csv(tmp_path / "raw" / "split.csv")
    assert len(items) == 7 + 9 and set(items["split"]) == {"train", "val"}
    assert (items.groupby("source")["split"].nunique() == 1).all()


@pytest.mark.slow
def test_03_plate_voc_to_yolo_qa(tmp_path, kernel, no_network):
    _run("03_plate_voc_to_yolo_qa", tmp_path, kernel, WORK=str(tmp_path / "work"), OUT=str(tmp_path / "clean"))
    import pandas as pd

    before = pd.read_csv(tmp_path / "work" / "qa_before.csv")
    after = pd.read_csv(tmp_path / "work" / "qa_after.csv")
    assert "duplicate_across_splits" in set(before["check"]) and "duplicate_across_splits" not in set(after["check"])
    assert (tmp_path / "clean" / "data.yaml").is_file()
