#!/usr/bin/env python3
"""Rebuild one of the int8 models shipped with fpblur (fpblur/models/weights) and compare it with the shipped file.

Core install only (ONNX Runtime's quantisation tool)::

    python scripts/build_int8.py centerface   # writes ./centerface-int8.onnx (about 7 GB of memory, 30-40 s)
    python scripts/build_int8.py plate        # writes ./plate-yolov8n-int8.onnx (a few seconds)

Each runs fpblur's own recipe on the shipped fp32 file: :func:`fpblur.detect.centerface_int8.quantize_model`
(percentile calibration on the photos shipped with fpblur) or :func:`fpblur.detect.plate_int8.quantize_plate_model`
(min-max calibration on those photos and fpblur's drawn car; the head's decoding and stride-32 branches stay
fp32).  With onnxruntime 1.32.0 and onnx 1.23 the results are byte-identical to the shipped files; the exit status
is 1 when they are not, and 2 (with one line on stderr) when the output cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing


def main(argv: list[str] | None = None) -> int:
    from fpblur.core.digest import sha256_file
    from fpblur.detect import centerface_int8, plate_int8
    from fpblur.detect.centerface_graph import prepare_model
    from fpblur.models.registry import model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=("centerface", "plate"), help="which shipped int8 model to rebuild")
    parser.add_argument("-o", "--output", help="where to write it (default: the shipped file's name, here)")
    args = parser.parse_args(argv)
    module = centerface_int8 if args.model == "centerface" else plate_int8
    out = Path(args.output or module.SHIPPED_INT8)
    if out.is_dir():
        print(f"build_int8: {out}: is a folder; give the file to write", file=sys.stderr)
        return 2
    blocked = next((p for p in out.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        print(f"build_int8: cannot write {out}: {blocked} is a file, not a folder", file=sys.stderr)
        return 2
    try:
        if args.model == "centerface":
            centerface_int8.quantize_model(prepare_model(model_path("centerface")), out)
        else:
            plate_int8.quantize_plate_model(model_path("plate-yolov8n"), out)
    except OSError as err:
        print(f"build_int8: cannot write {out}: {err.strerror or err}", file=sys.stderr)
        return 2
    shipped, digest = module.shipped_int8_path(), module.SHIPPED_INT8_SHA256
    built = sha256_file(out)
    print(f"built   {out}  sha256 {built}")
    print(f"shipped {shipped}  sha256 {digest}")
    same = built == digest
    print("identical" if same else "DIFFERENT (another onnxruntime/onnx version?)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
