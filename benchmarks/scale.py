"""Scaling: the same folder of images through ``fpblur batch`` locally and on Ray at 1 and 2 workers.

    python benchmarks/scale.py                          # 200 generated 640×427 images, --fast profile
    python benchmarks/scale.py --images 50 --profile default --rounds 2

The folder is generated here (crops of the photos shipped with fpblur and drawn cars with plates), so nothing
is downloaded.  Every variant is :func:`fpblur.run.cluster.run_batch` with ``overwrite=True`` and timed wall
clock from the call to its return (hashing, model loading, actor start-up and the manifest included):

* ``local``: one process, ONNX Runtime's default threads (one per core);
* ``ray 1×N``: one Ray Data actor reserving all N CPUs of this machine (so it runs as many threads as local);
* ``ray K×1``: K actors of one CPU each (their ONNX Runtime and OpenCV threads capped to one).

Ray runs on a local instance started once before the variants (its start-up is printed apart: it is paid once
per cluster, not per run).  ``--rounds R`` repeats the variants, alternating, and reports each round (the
machine may be shared: compare ratios within a round).  Every Ray output is compared byte for byte with the
local one.  Printed per variant: seconds, images per second, milliseconds per image of wall-clock time, the
ratio to local (per-image overhead of Ray at one worker = ms per image of ``ray 1×N`` / local − 1), and the split
of that time: ``busy`` is the mean time an image spent inside :func:`~fpblur.run.manifest.process_image` (read,
detect, anonymize, write: the manifest's ``seconds``), ``other`` the rest of each worker's share of the wall time
(``wall × workers / images − busy``: hashing, start-up of the detectors or actors, Ray's scheduling, idle workers
at the end).  On a shared machine ``busy`` moves with the load; ``other`` is what Ray adds.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from fpblur.config.settings import resolve_config
from fpblur.models.samples import photo_path, synthetic_car
from fpblur.run.cluster import RayOptions, connect, run_batch


def make_folder(folder: Path, n: int, size: tuple[int, int]) -> list[Path]:
    """``n`` JPEG images of ``size`` (width, height): random crops of the shipped photos, every fourth a car."""
    rng = np.random.default_rng(0)
    photos = [cv2.imread(str(photo_path(name))) for name in ("zidane.jpg", "bus.jpg", "grace_hopper.jpg")]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        if i % 4 == 3:
            img, _ = synthetic_car(f"FPB {1000 + i}", size=size, seed=i)
        else:
            photo = photos[i % len(photos)]
            h, w = photo.shape[:2]
            cw, ch = int(w * rng.uniform(0.6, 1.0)), int(h * rng.uniform(0.6, 1.0))
            x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
            img = cv2.resize(photo[y : y + ch, x : x + cw], size, interpolation=cv2.INTER_AREA)
        path = folder / f"img_{i:04d}.jpg"
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
        paths.append(path)
    return paths


def same_outputs(a: Path, b: Path, names: list[str]) -> bool:
    """Whether every output ``names`` is byte-identical under ``a`` and ``b``."""
    return all((a / n).read_bytes() == (b / n).read_bytes() for n in names)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=200, help="images in the folder (default 200)")
    ap.add_argument("--size", default="640x427", help="image size WxH (default 640x427)")
    ap.add_argument("--profile", default="fast", help="detector profile (default fast)")
    ap.add_argument("--batch-size", type=int, default=RayOptions.batch_size, help="images per actor call")
    ap.add_argument("--rounds", type=int, default=1, help="repeat the variants, alternating (default 1)")
    ap.add_argument("--workdir", help="keep the folder and outputs here (default: a temporary folder)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    config = resolve_config(args.profile)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.workdir or tmp)
        src = work / "images"
        names = [p.name for p in make_folder(src, args.images, (w, h))]
        print(f"{args.images} images {w}x{h}, profile {args.profile}, {cpus} CPUs, ray batch size {args.batch_size}")
        t = time.perf_counter()
        connect(RayOptions())  # a local Ray instance with every CPU, started once (stopped at exit)
        print(f"ray local instance started in {time.perf_counter() - t:.1f} s (once per cluster, not counted below)")
        variants: list[tuple[str, RayOptions | None]] = [
            ("local", None),
            (f"ray 1x{cpus}", RayOptions(workers=1, cpus_per_worker=cpus, batch_size=args.batch_size)),
        ]
        if cpus > 1:
            variants.append((f"ray {cpus}x1", RayOptions(workers=cpus, cpus_per_worker=1, batch_size=args.batch_size)))
        for r in range(args.rounds):
            print(f"round {r + 1}:")
            head = f"  {'variant':<10} {'seconds':>8} {'img/s':>7} {'ms/img':>8} {'vs local':>9}"
            print(f"{head} {'busy ms':>8} {'other ms':>9}  outputs")
            base = None
            for name, options in variants:
                out = work / f"out_{name.replace(' ', '_')}"
                t = time.perf_counter()
                result = run_batch([src], out, config, overwrite=True, cluster=options, progress=False)
                seconds = time.perf_counter() - t
                assert result.done == args.images, result.summary()
                per = seconds / args.images * 1000
                base = base or per
                ident = (
                    "reference"
                    if options is None
                    else ("identical" if same_outputs(work / "out_local", out, names) else "DIFFER")
                )
                busy = sum(r.seconds for r in result.rows) / args.images * 1000
                other = seconds * max(1, result.workers) / args.images * 1000 - busy
                line = f"  {name:<10} {seconds:8.1f} {args.images / seconds:7.2f} {per:8.1f} {per / base:8.2f}x"
                print(f"{line} {busy:8.1f} {other:9.1f}  {ident}", flush=True)


if __name__ == "__main__":
    main()
