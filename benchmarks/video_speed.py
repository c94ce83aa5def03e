"""Video speed: ``deface`` (its defaults, faces only) versus ``fpblur video`` on the same generated clip.

    python benchmarks/video_speed.py                 # 10 s 1280×720 25 fps pan/zoom over zidane.jpg
    python benchmarks/video_speed.py --photo bus.jpg --seconds 20

The clip is generated here (a camera pan and zoom over one of the photos the ultralytics wheel ships, with
an AAC audio track), so nothing is downloaded.  Both tools run as separate processes and are timed wall
clock, start-up and model loading included; fps = frames / wall seconds.  fpblur's own report adds the busy
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
from fpblur import Anonymizer
from fpblur.run.video import anonymize_video
src, dst, targets = sys.argv[1], sys.argv[2], sys.argv[3]
anonymizer = Anonymizer(targets=targets)  # the resolved default configuration, as fpblur video --targets
report = anonymize_video(src, dst, anonymizer, replace(anonymizer.config.video, progress=False))
print(json.dumps({"frames": report.frames, "seconds": report.seconds, "timings": report.timings,
                  "tracks": report.tracks}))
"""


def make_clip(path: Path, photo_name: str, seconds: float, fps: int, size: tuple[int, int]) -> int:
    from fpblur.media.synth import pan_clip
    from fpblur.models.offline import import_ultralytics

    import_ultralytics()
    from ultralytics.utils import ASSETS

    photo = cv2.imread(str(Path(ASSETS) / photo_name))
    if photo is None:
        sys.exit(f"video_speed: cannot read {photo_name} from the ultralytics assets")
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
    ap.add_argument("--photo", default="zidane.jpg", help="zidane.jpg or bus.jpg (ultralytics assets)")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--size", default="1280x720", help="WxH (default 1280x720)")
    ap.add_argument("--skip-faces-only", action="store_true", help="do not also run fpblur with faces only")
    ap.add_argument("--keep", metavar="DIR", help="keep the clip and outputs here")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    deface = shutil.which("deface")
    if deface is None:
        print("video_speed: the deface command is not installed (pip install deface)", file=sys.stderr)
        return 2

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fpblur-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    clip = work / "clip.mp4"
    frames = make_clip(clip, args.photo, args.seconds, args.fps, (width, height))
    print(
        f"clip: {args.photo} pan/zoom, {width}x{height}, {frames} frames, {args.seconds:g} s at {args.fps} fps "
        f"({describe(clip)})"
    )

    rows = []
    wall, done = timed([deface, str(clip), "-o", str(work / "deface.mp4")])
    if done.returncode != 0:
        print(f"deface failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return 1
    rows.append(("deface (faces, defaults)", wall, frames / wall, describe(work / "deface.mp4")))
    deface_fps = frames / wall

    runs = [("face,plate", "fpblur video (faces+plates)")]
    if not args.skip_faces_only:
        runs.append(("face", "fpblur video (faces only)"))
    reports = {}
    for targets, name in runs:
        out = work / f"fpblur_{targets.replace(',', '_')}.mp4"
        wall, done = timed([sys.executable, "-c", FPBLUR_RUNNER, str(clip), str(out), targets])
        if done.returncode != 0:
            print(f"fpblur failed: {done.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return 1
        reports[targets] = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append((name, wall, frames / wall, describe(out)))

    print()
    for name, wall, fps, desc in rows:
        print(f"{name:30s} {wall:7.1f} s wall  {fps:6.2f} fps   output: {desc}")
    print()
    for name, _, fps, _ in rows[1:]:
        print(f"ratio {name} / deface: {fps / deface_fps:.2f}x")
    for targets, rep in reports.items():
        split = ", ".join(f"{k} {v:.1f} s" for k, v in rep["timings"].items())
        print(
            f"fpblur time split [{targets}] (busy seconds per stage, threads overlap; pipeline wall "
            f"{rep['seconds']:.1f} s): {split}"
        )
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
