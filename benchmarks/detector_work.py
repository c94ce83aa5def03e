"""Detection work of ``fpblur video``: every ONNX Runtime call of a run, replayed alone and summed.

    python benchmarks/video_quality.py --keep clips/ && python benchmarks/detector_work.py --clips clips/
    python benchmarks/detector_work.py --clips clips/ --video '{"full": {"deep_every": 2}}'   # a variant

Wall time on a shared host varies by 20-30 % from run to run (``benchmarks/video_speed.py`` alternates rounds for
that reason), which hides changes of a few percent.  This script runs the real video path once (faces and plates,
the default configuration plus ``--video`` changes, a JSON mapping of ``VideoSettings`` fields), records each
``InferenceSession.run`` call (which session, input shape), then times each distinct call alone (the minimum of
``--repeat`` runs on random input of that shape) and reports count × time, per session and per input size.  It
counts the networks' time only (no decoding, tracking or encoding), and what the passes find still depends on the
real frames, so a variant that makes more frames run the light pass shows it.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", type=Path, required=True, help="folder of .mp4 clips (video_quality.py --keep)")
    ap.add_argument("--video", default=None, help="JSON mapping of VideoSettings changes (a variant)")
    ap.add_argument("--repeat", type=int, default=3, help="timed replays per distinct call (the minimum counts)")
    args = ap.parse_args()
    clips = sorted(args.clips.glob("*.mp4"))
    if not clips:
        sys.exit(f"detector_work: no .mp4 clips in {args.clips}")

    calls: collections.Counter = collections.Counter()
    sessions: dict[int, ort.InferenceSession] = {}
    run = ort.InferenceSession.run

    def recording_run(self, output_names, input_feed, run_options=None):
        ((name, array),) = input_feed.items()
        sessions.setdefault(id(self), self)
        calls[(id(self), name, tuple(array.shape), str(array.dtype))] += 1
        return run(self, output_names, input_feed, run_options)

    # Recording by patching the class: the detectors hold their sessions privately, and this is a measurement.
    ort.InferenceSession.run = recording_run  # type: ignore[method-assign]
    from fpblur import Anonymizer
    from fpblur.run.video import anonymize_video

    anonymizer = Anonymizer(targets="face,plate", video=json.loads(args.video) if args.video else None)
    kinds: collections.Counter = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for clip in clips:
            report = anonymize_video(
                clip, Path(tmp) / clip.name, anonymizer, replace(anonymizer.config.video, progress=False)
            )
            kinds.update(report.frame_kinds)
    ort.InferenceSession.run = run  # type: ignore[method-assign]

    rng = np.random.default_rng(0)
    # sessions numbered in the order of their first call (CenterFace fp32/int8 and the plate graphs share no name)
    names = {sid: f"session {k} (input {next(c[1] for c in calls if c[0] == sid)!r})" for k, sid in enumerate(sessions)}
    by: collections.Counter = collections.Counter()
    total = 0.0
    for (sid, name, shape, dtype), n in calls.items():
        x = rng.random(shape).astype(dtype)
        best = min(_timed(sessions[sid], name, x) for _ in range(max(1, args.repeat)))
        size = "large inputs" if shape[-1] * shape[-2] > 200_000 else "small inputs"
        by[f"{names[sid]}, {size}"] += n * best
        total += n * best
    print(f"{len(clips)} clips; frames by kind {dict(kinds)}; {sum(calls.values())} network calls")
    for key, seconds in sorted(by.items()):
        print(f"  {key:60s} {seconds:7.2f} s")
    print(f"detection work: {total:.2f} s")


def _timed(session: ort.InferenceSession, name: str, x: np.ndarray) -> float:
    t0 = time.perf_counter()
    session.run(None, {name: x})
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
