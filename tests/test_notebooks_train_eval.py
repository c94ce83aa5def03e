"""Notebooks 04 (training) and 05 (evaluation) run end to end in SMOKE mode (papermill, CPU, generated data)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"


@pytest.fixture(scope="module")
def kernel():
    """The ``python3`` kernel; registered into JUPYTER_DATA_DIR (a temp folder, see conftest) when missing."""
    from jupyter_client.kernelspec import KernelSpecManager

    if "python3" not in KernelSpecManager().find_kernel_specs():
        from ipykernel.kernelspec import install

        install(kernel_name="python3", user=True)
    return "python3"


def _run(name: str, out: Path, kernel: str, **params) -> nbformat.NotebookNode:
    import papermill as pm

    dst = out / f"{name}.out.ipynb"
    pm.execute_notebook(
        str(NOTEBOOKS / f"{name}.ipynb"),
        str(dst),
        parameters={"SMOKE": True, **params},
        kernel_name=kernel,
        cwd=str(NOTEBOOKS),
        progress_bar=False,
        execution_timeout=300,
    )
    return nbformat.read(dst, as_version=4)


def _has_image(nb) -> bool:
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    return any("image/png" in o.get("data", {}) for o in outputs)


@pytest.mark.parametrize("name", ["04_train_detectors", "05_evaluate"])
def test_notebook_is_committed_clean(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert "google.colab" in nb.cells[1].source  # Colab first (code) cell
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1 and "SMOKE = False" in params[0].source


@pytest.mark.slow
def test_04_then_05_in_smoke_mode(tmp_path, kernel):
    smoke = tmp_path / "smoke"
    nb4 = _run("04_train_detectors", tmp_path, kernel, SMOKE_DIR=str(smoke))
    face_best = smoke / "train" / "face_yolov8m" / "weights" / "best.pt"
    plate_best = smoke / "train" / "plate_yolov8l" / "weights" / "best.pt"
    assert face_best.is_file() and plate_best.is_file()
    assert (smoke / "train" / "face_yolov8m" / "results.csv").is_file()
    assert (smoke / "train" / "training_curves.png").is_file() and _has_image(nb4)
    assert face_best.with_suffix(".onnx").is_file() and plate_best.with_suffix(".onnx").is_file()

    nb5 = _run(
        "05_evaluate",
        tmp_path,
        kernel,
        SMOKE_DIR=str(smoke),
        FACE_WEIGHTS=str(face_best),
        PLATE_WEIGHTS=str(plate_best),
    )
    import pandas as pd

    log = pd.read_csv(smoke / "eval_log.csv")
    assert sorted(log["model"]) == sorted(
        ["face_yolov8m/best.pt", "plate_yolov8l/best.pt", "centerface", "plate-yolov8n"]
    )
    assert log.loc[log["model"] == "centerface", "coverage"].iloc[0] > 0.5  # real faces in the generated set
    assert (smoke / "eval" / "coverage_faces.png").is_file() and (smoke / "eval" / "pr_face.png").is_file()
    assert _has_image(nb5)
