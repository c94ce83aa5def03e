"""Before/after frames of the EgoBlur parking-lot clip for the README (``assets/video/``).

    python scripts/video_before_after.py                       # ../shared/evaldata/video/egoblur_test_lp_video.mp4
    python scripts/video_before_after.py --clip other.mp4 --frames 3,9

Runs ``fpblur video`` at default settings on the clip (2560×1920 fisheye street footage, 10 fps; from
facebookresearch/EgoBlur, Apache-2.0), then writes, for each chosen frame, the input and the output side by side,
cropped to the parked cars and scaled down, and prints the run's one-line report.  Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "evaldata" / "video" / "egoblur_test_lp_video.mp4"


def frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    with av.open(str(path)) as container:
        return {i: f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(video=0)) if i in wanted}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clip", type=Path, default=CLIP)
    p.add_argument("--frames", default="6,12", help="frame indices (default 6,12)")
    p.add_argument("--crop", default="0,600,1300,1150", help="x0,y0,x1,y1 of the region shown (default: the cars)")
    p.add_argument("--width", type=int, default=1400, help="width of each written image, pixels")
    p.add_argument("--out", type=Path, default=REPO / "assets" / "video")
    args = p.parse_args(argv)
    if not args.clip.is_file():
        print(f"{args.clip}: no such file (see ../shared/evaldata/README.md)", file=sys.stderr)
        return 2
    wanted = {int(v) for v in args.frames.split(",")}
    x0, y0, x1, y1 = (int(v) for v in args.crop.split(","))
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        run = subprocess.run(
            [sys.executable, "-m", "fpblur", "video", str(args.clip), "-o", str(out)], capture_output=True, text=True
        )
        if run.returncode:
            print(run.stderr, file=sys.stderr)
            return run.returncode
        print(run.stderr.strip().splitlines()[0])
        before, after = frames(args.clip, wanted), frames(out, wanted)
    for i in sorted(wanted):
        pair = np.concatenate([before[i][y0:y1, x0:x1], after[i][y0:y1, x0:x1]], axis=1)
        pair = cv2.resize(
            pair, (args.width, round(args.width * pair.shape[0] / pair.shape[1])), interpolation=cv2.INTER_AREA
        )
        target = args.out / f"{args.clip.stem}_frame{i}.jpg"
        cv2.imwrite(str(target), pair, [cv2.IMWRITE_JPEG_QUALITY, 85])
        print(target.relative_to(REPO) if target.is_relative_to(REPO) else target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
