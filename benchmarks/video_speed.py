"""Video speed: ``deface`` (its defaults, faces only) versus ``fpblur video`` on the same generated clip.

    python benchmarks/video_speed.py                 # 10 s 1280×720 25 fps pan/zoom over zidane.jpg
    python benchmarks/video_speed.py --photo bus.jpg --seconds 20
    python benchmarks/video_quality.py --keep clips/ && python benchmarks/video_speed.py --clips clips/ --repeat 2

The clip is generated here (a camera pan and zoom over one of the photos the ultralytics wheel ships, with
an AAC audio track), so nothing is downloaded; or ``--clips DIR`` takes every ``.mp4`` in a folder (the
motion clips ``benchmarks/video_quality.py --keep DIR`` writes), each tool processing the whole folder in one
process.  Both tools run as separate processes and are timed wall clock, start-up and model loading included;
fps = frames / wall seconds.  ``--repeat N`` runs the tools N times, alternating, and reports each round (the
machine may be shared: compare the rounds' ratios, not runs of different rounds).  fpblur's own report adds the busy
time of each pipeline stage (decode, detect per detector, track+anonymize, encode); the stages overlap
(threads), so they can add up to more than the wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

FPBLUR_RUNNER = """
import json, sys
from dataclasses import replace
from pathlib import Path
from fpblur import Anonymizer
from fpblur.run.video import anonymize_video
srcs, out, targets = sys.argv[1].split(","), Path(sys.argv[2]), sys.argv[3]
video = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
anonymizer = Anonymizer(targets=targets, video=video)  # the resolved default configuration (+ the variant's video changes)
total = {"frames": 0, "seconds": 0.0, "timings": {}, "tracks": {}}
for src in srcs:
    report = anonymize_video(src, out / Path(src).name, anonymizer, replace(anonymizer.config.video, progress=False))
    total["frames"] += report.frames
    total["seconds"] += report.seconds
    for k, v in report.timings.items():
        total["timings"][k] = total["timings"].get(k, 0.0) + v
    for k, v in report.tracks.items():
        total["tracks"][k] = total["tracks"].get(k, 0) + v
print(json.dumps(total))
"""


def make_clip(path: Path, photo_name: str, seconds: float, fps: int, size: tuple[int, int]) -> int:
    from fpblur.media.synth import pan_clip
    from fpblur.models.samples import photo_path

    photo = cv2.imread(str(photo_path(photo_name)))
    if photo is None:
        sys.exit(f"video_speed: cannot read {photo_name}")
    _, crops = pan_clip(path, photo, size=size, seconds=seconds, fps=fps, zoom=(1.0, 0.55), audio=("aac",))
    return len(crops)


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    return time.perf_counter() - start, done


def describe(path: Path) -> str:
    from fpblur.media.synth import probe

    p = probe(path)
    audio = f"{len(p.audio)} audio" if p.audio else "no audio"
    return f"{p.frames} frames, {p.width}x{p.height}, {audio}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photo", default="zidane.jpg", help="zidane.jpg or bus.jpg (shipped sample photos)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--size", default="1280x720", help="WxH (default 1280x720)")
    ap.add_argument("--clips", type=Path, help="time on every .mp4 in this folder instead of a generated clip")
    ap.add_argument("--repeat", type=int, default=1, help="rounds, alternating the tools (default 1)")
    ap.add_argument("--skip-faces-only", action="store_true", help="do not also run fpblur with faces only")
    ap.add_argument("--keep", metavar="DIR", help="keep the clip and outputs here")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="also time fpblur (faces+plates) with these VideoSettings changes, in the same round: "
        """'light4={"light_every": "0.16s"}' (repeatable)""",
    )
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    deface = shutil.which("deface")
    if deface is None:
        print("video_speed: the deface command is not installed (pip install deface)", file=sys.stderr)
        return 2

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fpblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    inputs = work / "inputs"
    inputs.mkdir(exist_ok=True)
    if args.clips:
        for clip in sorted(args.clips.glob("*.mp4")):
            shutil.copy(clip, inputs / clip.name)
        clips = sorted(inputs.glob("*.mp4"))
        if not clips:
            sys.exit(f"video_speed: no .mp4 in {args.clips}")
        frames = sum(probe_frames(c) for c in clips)
        print(f"clips: {len(clips)} from {args.clips}, {frames} frames")
    else:
        clip = inputs / "clip.mp4"
        frames = make_clip(clip, args.photo, args.seconds, args.fps, (width, height))
        clips = [clip]
        print(
            f"clip: {args.photo} pan/zoom, {width}x{height}, {frames} frames, {args.seconds:g} s at {args.fps} fps "
            f"({describe(clip)})"
        )

    runs = [("face,plate", "fpblur video (faces+plates)", "")]
    if not args.skip_faces_only:
        runs.append(("face", "fpblur video (faces only)", ""))
    for variant in args.variant:
        name, _, changes = variant.partition("=")
        json.loads(changes)  # fail early on bad JSON
        runs.append(("face,plate", f"fpblur video {name}", changes))
    for round_ in range(max(1, args.repeat)):
        rows = []
        outs = work / f"deface_{round_}"
        outs.mkdir(exist_ok=True)
        # deface writes each output beside its input unless -o names one file: give it copies in its own folder
        for c in clips:
            shutil.copy(c, outs / c.name)
        wall, done = timed([deface, *[str(outs / c.name) for c in clips]])
        if done.returncode != 0:
            print(f"deface failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 1
        rows.append(("deface (faces, defaults)", wall, frames / wall))
        deface_fps = frames / wall
        reports = {}
        for k, (targets, name, changes) in enumerate(runs):
            out = work / f"fpblur_{k}_{round_}"
            out.mkdir(exist_ok=True)
            srcs = ",".join(str(c) for c in clips)
            wall, done = timed(
                [sys.executable, "-c", FPBLUR_RUNNER, srcs, str(out), targets, *([changes] if changes else [])]
            )
            if done.returncode != 0:
                print(f"fpblur failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
                return 1
            reports[name] = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append((name, wall, frames / wall))
        print(f"\nround {round_ + 1}:")
        for name, wall, fps in rows:
            print(f"  {name:30s} {wall:7.1f} s wall  {fps:6.2f} fps")
        for name, _, fps in rows[1:]:
            print(f"  ratio {name} / deface: {fps / deface_fps:.2f}x")
        for name, rep in reports.items():
            split = ", ".join(f"{k} {v:.1f} s" for k, v in rep["timings"].items())
            print(
                f"  time split [{name}] (busy seconds per stage, threads overlap; pipeline wall "
                f"{rep['seconds']:.1f} s): {split}; tracks {rep['tracks']}"
            )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def probe_frames(path: Path) -> int:
    from fpblur.media.synth import probe

    return probe(path).frames


if __name__ == "__main__":
    sys.exit(main())
