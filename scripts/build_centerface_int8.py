#!/usr/bin/env python3
"""Rebuild the shipped int8 CenterFace model ``fpblur/models/weights/centerface-int8.onnx`` and compare it.

Core install only (ONNX Runtime's quantisation tool)::

    python scripts/build_centerface_int8.py            # writes ./centerface-int8.onnx and compares it with the shipped file

It runs fpblur's own recipe (:func:`fpblur.detect.centerface_int8.quantize_model`: BN folding, opset 13, static
QDQ quantisation with per-channel int8 weights and percentile-calibrated uint8 activations on three photos shipped
with fpblur) on the shipped ``centerface.onnx``.  About 7 GB of memory and 30-40 s on two cores.  With
onnxruntime 1.32.0 and onnx 1.23 the result is byte-identical to the shipped file (sha256
:data:`~fpblur.detect.centerface_int8.SHIPPED_INT8_SHA256`); the exit status is 1 when it is not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without installing


def main(argv: list[str] | None = None) -> int:
    from fpblur.core.digest import sha256_file
    from fpblur.detect.centerface_graph import prepare_model
    from fpblur.detect.centerface_int8 import SHIPPED_INT8_SHA256, quantize_model, shipped_int8_path
    from fpblur.models.registry import model_path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="centerface-int8.onnx", help="where to write the rebuilt model")
    args = parser.parse_args(argv)
    out = quantize_model(prepare_model(model_path("centerface")), Path(args.output))
    built = sha256_file(out)
    print(f"built   {out}  sha256 {built}")
    print(f"shipped {shipped_int8_path()}  sha256 {SHIPPED_INT8_SHA256}")
    same = built == SHIPPED_INT8_SHA256
    print("identical" if same else "DIFFERENT (another onnxruntime/onnx version?)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
