"""Video coverage: does ``fpblur video`` keep anonymizing what it has seen, frame after frame, under motion?

    python benchmarks/video_quality.py                          # the motion suite: 7 kinds x 2 clips
    python benchmarks/video_quality.py --kinds sine,stop --clips 1 --variants default
    python benchmarks/video_quality.py --suite photos --limit 12  # camera pan/zoom over WIDER photos
    python benchmarks/video_quality.py --keep clips/              # also keep the generated clips (video_speed.py)

Everything is made from the real photos of ``../shared/evaldata`` (``--data``) with their labelled boxes, so
every frame has known boxes:

* **motion suite** (``--suite motion``): faces cut from WIDER FACE val photos (clean faces the default detector
  finds in the photo, cut with some context inside a soft ellipse) moving over OpenALPR car photos (whose
  labelled plate is part of the scene), at ``--size`` 960×540 and 25 fps.  Kinds:
  ``sine`` (speed and direction change all the time, peaking at one face height per frame), ``zigzag``
  (straight runs of 3–8 frames in random directions at up to one face height per frame: abrupt turns),
  ``stop`` (one face height per frame, then dead stops), ``shake`` (a handheld camera jerking ~2 % of the width
  every frame, faces drifting), ``zoom`` (the camera zooms to 1.8× and back), ``rot90`` (the faces turned 90°,
  moving), ``large`` (2560×1440 frames: a whole WIDER photo at its own scale, small plates, a slow zoom).
  Two faces per clip (about 11 % and 6 % of the frame height, so 60 and 32 px at 540 px).
* **photos suite** (``--suite photos``): each WIDER photo becomes a 1.2 s clip (a camera pan and zoom over it).

Each clip goes through the real video path (decode, detect, track, anonymize, encode; the regions come from the
``--log`` records) and is scored per (frame, object): **coverage** = share of (frame, object) pairs whose box lies
>= 80 % inside the anonymized regions; a **leaked frame** is a frame where an object at least 24 px tall is less
than 80 % covered (counted over the objects the video path can know: every moving face, and the scene's labelled
objects that the full detectors find on the clip's first frame); **longest leak** = the longest run of
consecutive leaked frames of one object.  fps = frames / pipeline seconds (decode to encode, model loading
excluded).

Variants:
* ``default``: ``fpblur video`` as shipped;
* ``every-frame``: ``--full-every 1``: the full detectors (the image profile with bounded upscaling) on every frame;
* ``fast``: ``fpblur video --fast``;
* ``deface`` (faces only): CenterFace at full resolution on every frame, threshold 0.2, its 1.3× ellipse mask,
  no tracking: what ``deface`` blurs (in process, so its fps excludes deface's own decoding and encoding; see
  ``benchmarks/video_speed.py`` for the real command side by side).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "evaldata"
SETS = {"faces": "face", "plates": "plate", "plates_kaggle416": "plate"}
VARIANTS = ("default", "every-frame", "fast", "deface")
KINDS = ("sine", "zigzag", "stop", "shake", "zoom", "rot90", "large")
MIN_INSIDE = 0.5  # a mapped box counts on a frame when at least this share of it is inside the picture
MIN_COVER = 0.8  # an object is covered when this share of its box is anonymized
LEAK_HEIGHT = 24.0  # objects at least this tall (pixels) count for leaked frames


# -- scoring ----------------------------------------------------------------------------------------------
@dataclass
class Truth:
    """One frame's known objects: N×4 boxes, labels, stable object ids, and which of them count for leaks."""

    boxes: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    counted: np.ndarray  # bool per object: a leak of it counts


@dataclass
class Score:
    """Coverage and leaks of one variant over clips (per label and overall)."""

    hits: dict = field(default_factory=dict)  # label -> covered (frame, object) pairs
    pairs: dict = field(default_factory=dict)  # label -> (frame, object) pairs
    frames: int = 0
    leaked: int = 0
    longest: int = 0
    seconds: float = 0.0
    leaks: list = field(default_factory=list)  # (frame, object id) of the leaks of the last clip
    by_bucket: np.ndarray = field(default_factory=lambda: np.zeros((2, 5)))  # faces: hits, totals per height

    def clip(self, truth: list[Truth], regions: list[np.ndarray], seconds: float, shape: str, labels: tuple) -> None:
        from fpblur.training.eval.metrics import covered_fraction, height_bucket

        self.frames += len(truth)
        self.seconds += seconds
        runs: dict[int, int] = {}
        self.leaks = []
        for i, (t, reg) in enumerate(zip(truth, regions)):
            mine = np.isin(t.labels, labels)
            boxes = t.boxes[mine]
            frac = covered_fraction(boxes, reg, shape) if len(boxes) else np.zeros(0)
            ok = frac >= MIN_COVER - 1e-9
            for label in labels:
                sel = t.labels[mine] == label
                self.hits[label] = self.hits.get(label, 0) + int(ok[sel].sum())
                self.pairs[label] = self.pairs.get(label, 0) + int(sel.sum())
            faces = t.labels[mine] == "face"
            if faces.any():
                b = height_bucket(boxes[faces])
                np.add.at(self.by_bucket[0], b, ok[faces].astype(float))
                np.add.at(self.by_bucket[1], b, 1.0)
            tall = (boxes[:, 3] - boxes[:, 1]) >= LEAK_HEIGHT if len(boxes) else np.zeros(0, bool)
            bad = (~ok) & tall & t.counted[mine]
            if bad.any():
                self.leaked += 1
                self.leaks += [(i, int(oid)) for oid in t.ids[mine][bad]]
            for oid, is_bad in zip(t.ids[mine], bad):
                runs[int(oid)] = runs.get(int(oid), 0) + 1 if is_bad else 0
                self.longest = max(self.longest, runs[int(oid)])
            for oid in set(runs) - set(map(int, t.ids[mine])):  # out of the picture: the run ends
                runs[oid] = 0

    def row(self, variant: str, kind: str) -> dict:
        from fpblur.training.eval.metrics import BUCKET_NAMES

        hits = sum(self.hits.values())
        pairs = sum(self.pairs.values())
        with np.errstate(invalid="ignore", divide="ignore"):
            per = self.by_bucket[0] / self.by_bucket[1]
        return {
            "variant": variant,
            "kind": kind,
            "frames": self.frames,
            "pairs": pairs,
            "coverage": hits / pairs if pairs else float("nan"),
            "coverage_face": self.hits.get("face", 0) / self.pairs["face"] if self.pairs.get("face") else float("nan"),
            "coverage_plate": (
                self.hits.get("plate", 0) / self.pairs["plate"] if self.pairs.get("plate") else float("nan")
            ),
            "leaked_frames": self.leaked,
            "longest_leak": self.longest,
            "fps": self.frames / self.seconds if self.seconds else float("nan"),
            "face_coverage_by_height": dict(zip(BUCKET_NAMES, map(float, per))),
            "faces_by_height": dict(zip(BUCKET_NAMES, map(int, self.by_bucket[1]))),
        }


# -- the variants -----------------------------------------------------------------------------------------
def config_for(variant: str, targets: str):
    """The resolved configuration ``fpblur video IN -o OUT --targets TARGETS`` runs for ``variant`` (the CLI's own
    parser and ``config_from_args``: ``every-frame`` adds ``--full-every 1``, ``fast`` adds ``--fast``)."""
    from fpblur.cli import build_parser
    from fpblur.cli.common import config_from_args

    extra = {"fast": ["--fast"], "every-frame": ["--full-every", "1"]}.get(variant, [])
    args = build_parser().parse_args(["video", "in.mp4", "-o", "out.mp4", "--targets", targets, *extra])
    return config_from_args(args)


def anonymizers_for(variants: list[str], targets: str, video: dict | None = None) -> dict:
    """One :class:`~fpblur.Anonymizer` per fpblur variant; variants with equal detector specs share the models.
    ``video``: :class:`~fpblur.config.settings.VideoSettings` fields to change in every variant (experiments)."""
    from dataclasses import replace

    from fpblur import Anonymizer

    out: dict = {}
    for v in variants:
        config = config_for(v, targets)
        if video:
            from fpblur.config.settings import frame_passes

            changes = dict(video)  # "light" / "full" as JSON mappings change the variant's own passes
            for key in ("light", "full") & changes.keys():
                changes[key] = frame_passes(changes[key], getattr(config.video, key))
            config = replace(config, video=replace(config.video, **changes))
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


# -- the motion suite -------------------------------------------------------------------------------------
@dataclass
class Pools:
    """What the motion clips are made of: clean WIDER faces and OpenALPR car photos with their plate box."""

    faces: list  # Sprite, detected by the default profile in its photo
    cars: list  # (photo BGR, plate box [x1, y1, x2, y2])
    wider: list  # (photo BGR, valid face boxes) for the large frames


def load_pools(data: Path, detector, n_faces: int = 16, n_cars: int = 12) -> Pools:
    """Faces 48 px or taller in the photo, not blurred or occluded, that ``detector`` finds (IoU >= 0.5), cut with
    context; car photos whose plate is 12 px or taller; WIDER photos with their valid boxes."""
    import cv2

    from fpblur.core.boxes import iou_matrix
    from fpblur.media.synth import Sprite
    from fpblur.training.eval import load_labelled, wider_ignore

    faces_set = load_labelled(data / "faces")
    faces, wider = [], []
    for i, path in enumerate(faces_set.images):
        flags = faces_set.flags[i] if faces_set.flags is not None else [{}] * len(faces_set.gts[i])
        gts = faces_set.gts[i]
        ignore = wider_ignore(flags) if faces_set.flags is not None else np.zeros(len(gts), bool)
        if len(wider) < 6 and 8 <= int((~ignore).sum()) <= 60:
            wider.append((path, gts[~ignore]))
        clean = [
            k
            for k, f in enumerate(flags)
            if gts[k][3] - gts[k][1] >= 48 and not f.get("invalid") and not f.get("blur") and not f.get("occlusion")
        ]
        if not clean or len(faces) >= n_faces:
            continue
        photo = cv2.imread(str(path))
        found = detector.detect(photo)
        for k in clean[:1]:
            if len(found) and iou_matrix(gts[k : k + 1], found.boxes).max() >= 0.5:
                faces.append(Sprite.cut(photo, gts[k], context=0.35))
    cars_set = load_labelled(data / "plates")
    cars = []
    for i, path in enumerate(cars_set.images):
        box = cars_set.gts[i][0]
        if box[3] - box[1] >= 12 and len(cars) < n_cars:
            cars.append((path, box))
    return Pools(faces, cars, [(cv2.imread(str(p)), b) for p, b in wider])


@dataclass
class Clip:
    name: str
    kind: str
    path: Path
    truth: list  # Truth per frame
    first: np.ndarray  # the first frame (to find which scene objects the detectors see)


def motion_clip(kind: str, index: int, pools: Pools, size: tuple[int, int], fps: int, seconds: float, folder: Path):
    """Generate clip ``index`` of ``kind`` (deterministic) and its truth."""
    import cv2

    from fpblur.media.synth import camera_path, fit_background, motion_frames, motion_path, write_video

    rng = np.random.default_rng(1000 * KINDS.index(kind) + index)
    n = max(2, int(round(seconds * fps)))
    car, plate = pools.cars[(index * 5 + KINDS.index(kind)) % len(pools.cars)]
    car = cv2.imread(str(car))
    sprites = [pools.faces[(index * 3 + k + 2 * KINDS.index(kind)) % len(pools.faces)] for k in range(2)]
    if kind == "large":
        size = (2560, 1440)
    W, H = size
    if kind == "large":
        # a 2×2 layout: two WIDER photos at their own scale (their faces are small here) and two car photos
        # scaled so their plates are about 28 px tall
        background = np.full((H, W, 3), 114, np.uint8)
        scene, scene_labels = [], []
        for k, (cx, cy) in enumerate(((0, 0), (W // 2, H // 2))):
            photo, boxes = pools.wider[(2 * index + k) % len(pools.wider)]
            ph, pw = min(photo.shape[0], H - cy), min(photo.shape[1], W - cx)
            background[cy : cy + ph, cx : cx + pw] = photo[:ph, :pw]
            inside = (boxes[:, 2] <= pw) & (boxes[:, 3] <= ph)
            scene += list(boxes[inside] + [cx, cy, cx, cy])
            scene_labels += ["face"] * int(inside.sum())
        for k, (cx, cy) in enumerate(((W // 2 + 80, 80), (120, H // 2 + 120))):
            car_path, box = pools.cars[(index * 5 + k + 3) % len(pools.cars)]
            photo = cv2.imread(str(car_path))
            s = 28.0 / max(box[3] - box[1], 1)
            small = cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            sh, sw = min(small.shape[0], H - cy), min(small.shape[1], W - cx)
            background[cy : cy + sh, cx : cx + sw] = small[:sh, :sw]
            scene.append(np.array(box) * s + [cx, cy, cx, cy])
            scene_labels.append("plate")
        scene_boxes = np.array(scene, np.float64).reshape(-1, 4)
        heights = [0.04 * H]
    else:
        background, m = fit_background(car, size)
        scene_boxes = np.array(plate, np.float64)[None] * m[0, 0] + [m[0, 2], m[1, 2], m[0, 2], m[1, 2]]
        scene_labels = ["plate"]
        heights = [0.11 * H, 0.06 * H]
    objects = []
    for k, h in enumerate(heights):
        sprite = sprites[k].scaled(h / sprites[k].size[1])
        if kind == "rot90":
            sprite = sprite.rotated(1 if k == 0 else 3)
        motion = {"shake": "constant", "zoom": "constant", "large": "sine", "rot90": "sine"}.get(kind, kind)
        speed = {"shake": 0.1, "zoom": 0.1, "large": 0.5, "rot90": 0.5}.get(kind, 1.0)
        start = (rng.uniform(0.25, 0.75) * W, rng.uniform(0.3, 0.7) * H)
        path = motion_path(motion, n, fps, size, sprite.size, speed=speed, start=start, seed=int(rng.integers(1 << 30)))
        objects.append((sprite, path))
    camera = None
    if kind in ("shake", "zoom"):
        camera = camera_path(kind, n, fps, size, seed=index)
    elif kind == "large":
        camera = camera_path("zoom", n, fps, size, strength=0.15)
    frames, truth = [], []
    for frame, t in motion_frames(
        background, objects, camera=camera, background_boxes=scene_boxes, background_labels=scene_labels
    ):
        frames.append(frame)
        moving = t.ids < len(objects)
        truth.append(Truth(t.boxes, t.labels, t.ids, moving.copy()))
    path = write_video(folder / f"{kind}_{index}.mp4", frames, fps=fps)
    return Clip(f"{kind}_{index}", kind, path, truth, frames[0])


def mark_seen(clip: Clip, anonymizer) -> None:
    """Scene objects count for leaks when the full detectors find them on the clip's first frame (IoU >= 0.3)."""
    from fpblur.core.boxes import iou_matrix

    found = anonymizer.detect(clip.first)
    first = clip.truth[0]
    seen = set()
    for box, label, oid in zip(first.boxes, first.labels, first.ids):
        mine = found.filter(label=str(label))
        if len(mine) and iou_matrix(box[None], mine.boxes).max() >= 0.3:
            seen.add(int(oid))
    for t in clip.truth:
        t.counted = t.counted | np.isin(t.ids, list(seen))


def motion_clips(args, pools: Pools, folder: Path, anonymizer) -> Iterator[Clip]:
    width, height = (int(v) for v in args.size.lower().split("x"))
    for kind in args.kinds.split(","):
        for index in range(args.first, args.first + args.clips):
            clip = motion_clip(kind, index, pools, (width, height), args.fps, args.seconds, folder)
            mark_seen(clip, anonymizer)
            yield clip


# -- the photos suite -------------------------------------------------------------------------------------
def frame_truth(gt: np.ndarray, ignore: np.ndarray | None, crop, width: int, height: int, label: str) -> Truth:
    """The photo's boxes as seen on one frame: mapped, clipped; boxes mostly outside or ignored dropped."""
    ids = np.flatnonzero(~ignore) if ignore is not None else np.arange(len(gt))
    boxes = crop.map_boxes(gt[ids])
    if not len(boxes):
        return Truth(np.zeros((0, 4)), np.zeros(0, "<U8"), np.zeros(0, int), np.zeros(0, bool))
    from fpblur.media.synth import clipped_share

    clipped, inside = clipped_share(boxes, width, height)
    keep = inside >= MIN_INSIDE
    n = int(keep.sum())
    return Truth(clipped[keep], np.array([label] * n, "<U8"), ids[keep], np.ones(n, bool))


def photo_clips(args, folder: Path, target: str) -> Iterator[Clip]:
    import cv2

    from fpblur.media.synth import pan_clip
    from fpblur.training.eval import load_labelled, wider_ignore

    width, height = (int(v) for v in args.size.lower().split("x"))
    zoom = tuple(float(v) for v in args.zoom.split(","))
    data = load_labelled(args.data / args.set).head(args.limit)
    for i, path in enumerate(data.images):
        photo = cv2.imread(str(path))
        clip, crops = pan_clip(
            folder / "clip.mp4", photo, size=(width, height), seconds=args.photo_seconds, fps=args.fps, zoom=zoom
        )
        ignore = wider_ignore(data.flags[i]) if data.flags is not None else None
        truth = [frame_truth(data.gts[i], ignore, c, width, height, target) for c in crops]
        yield Clip(path.name, "photos", clip, truth, photo)


# -- report -----------------------------------------------------------------------------------------------
def table(rows: list[dict]) -> str:
    head = (
        f"{'variant':12s} {'kind':8s} {'frames':>6s} {'pairs':>6s} {'coverage':>8s} {'faces':>6s} {'plates':>6s} "
        f"{'leaked':>6s} {'longest':>7s} {'fps':>6s}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['variant']:12s} {r['kind']:8s} {r['frames']:6d} {r['pairs']:6d} {r['coverage']:8.3f} "
            f"{r['coverage_face']:6.3f} {r['coverage_plate']:6.3f} {r['leaked_frames']:6d} {r['longest_leak']:7d} "
            f"{r['fps']:6.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--suite", choices=("motion", "photos"), default="motion")
    ap.add_argument("--variants", default="default,every-frame,deface")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"motion kinds (default: {','.join(KINDS)})")
    ap.add_argument("--clips", type=int, default=2, help="clips per motion kind (default 2)")
    ap.add_argument(
        "--first",
        type=int,
        default=0,
        help="index of the first clip of each kind (default 0; 5: a fold unseen by -c 5)",
    )
    ap.add_argument("--seconds", type=float, default=2.0, help="motion clip length (default 2 s)")
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--size", default=None, help="WxH (default 960x540 motion, 1024x576 photos)")
    ap.add_argument("--set", choices=list(SETS), default="faces", help="photos suite: which set")
    ap.add_argument("--limit", type=int, default=24, help="photos suite: photos (clips) to use (default 24)")
    ap.add_argument("--photo-seconds", type=float, default=1.2, help="photos suite: clip length (default 1.2 s)")
    ap.add_argument("--zoom", default="1.0,0.8", help="photos suite: zoom from,to (default 1.0,0.8)")
    ap.add_argument("--keep", type=Path, help="keep the generated clips in this folder")
    ap.add_argument(
        "--video", type=json.loads, default=None, help="VideoSettings changes, JSON: '{\"recheck\": false}'"
    )
    ap.add_argument("--json", type=Path, help="also write the rows here")
    args = ap.parse_args(argv)
    args.size = args.size or ("960x540" if args.suite == "motion" else "1024x576")
    needed = ["faces", "plates"] if args.suite == "motion" else [args.set]
    missing = [n for n in needed if not (args.data / n).is_dir()]
    if missing:
        print(f"video_quality: {args.data / missing[0]} not found; the evaluation data is not on this machine")
        return 0
    if args.first < 0 or args.clips < 1:
        ap.error(f"--first must be 0 or more and --clips 1 or more (got {args.first} and {args.clips})")
    bad_kinds = set(args.kinds.split(",")) - set(KINDS)
    if bad_kinds:
        ap.error(f"unknown kinds {', '.join(sorted(bad_kinds))}; expected {', '.join(KINDS)}")
    from fpblur.detect.centerface import CenterFaceDetector

    targets = "face,plate" if args.suite == "motion" else SETS[args.set]
    names = [v for v in args.variants.split(",") if v and not (v == "deface" and "face" not in targets)]
    unknown = set(names) - set(VARIANTS)
    if unknown:
        ap.error(f"unknown variants {', '.join(sorted(unknown))}; expected {', '.join(VARIANTS)}")
    anonymizers = anonymizers_for([v for v in names if v != "deface"] or ["default"], targets, args.video)
    reference = anonymizers.get("default") or next(iter(anonymizers.values()))
    deface = CenterFaceDetector(conf=0.2, iou=0.3, scales=(1.0,)) if "deface" in names else None
    scores: dict[tuple[str, str], Score] = {}
    labels = tuple(targets.split(","))
    with tempfile.TemporaryDirectory(prefix="fpblur-vq-") as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        if args.suite == "motion":
            pools = load_pools(args.data, reference)
            print(
                f"motion suite: {len(pools.faces)} face sprites, {len(pools.cars)} car photos; {args.size}, {args.fps} fps"
            )
            clips = motion_clips(args, pools, folder, reference)
        else:
            clips = photo_clips(args, Path(tmp), SETS[args.set])
        for clip in clips:
            done = []
            for v in names:
                if v == "deface":
                    regions, seconds = run_deface(clip.path, deface)
                    shape, mine = "ellipse", ("face",)
                else:
                    regions, seconds = run_fpblur(clip.path, Path(tmp) / "out.mp4", anonymizers[v])
                    shape, mine = "box", labels
                for key in ((v, clip.kind), (v, "all")):
                    scores.setdefault(key, Score()).clip(clip.truth, regions, seconds, shape, mine)
                one = Score()
                one.clip(clip.truth, regions, seconds, shape, mine)
                r = one.row(v, clip.kind)
                where = f" {one.leaks[:12]}" if one.leaks else ""
                done.append(f"{v} cov {r['coverage']:.3f} leaked {r['leaked_frames']}{where} fps {r['fps']:.1f}")
            print(f"  {clip.name}: " + "; ".join(done), file=sys.stderr, flush=True)
    kinds = list(dict.fromkeys(k for _, k in scores if k != "all")) + ["all"]
    rows = [scores[(v, k)].row(v, k) for k in kinds for v in names if (v, k) in scores]
    print()
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
