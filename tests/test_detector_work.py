"""``benchmarks/detector_work.py``: the detection work of a video run, replayed call by call."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from fpblur.media.synth import pan_clip

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "detector_work.py"


def test_detector_work_counts_every_network_call_of_a_real_run(tmp_path, zidane):
    clips = tmp_path / "clips"
    clips.mkdir()
    pan_clip(clips / "zidane.mp4", zidane, size=(192, 108), seconds=0.5)
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--clips", str(clips), "--repeat", "1"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    kinds = re.search(r"frames by kind \{'full': (\d+), 'light': (\d+)", run.stdout)
    calls = re.search(r"(\d+) network calls", run.stdout)
    work = re.search(r"detection work: ([0-9.]+) s", run.stdout)
    assert kinds and calls and work, run.stdout
    assert int(kinds.group(1)) >= 1 and int(calls.group(1)) >= int(kinds.group(1))  # a full frame runs several passes
    assert float(work.group(1)) > 0
    assert "input 'input.1'" in run.stdout and "input 'images'" in run.stdout  # CenterFace and the plate model


def test_detector_work_says_when_the_folder_has_no_clips(tmp_path):
    run = subprocess.run([sys.executable, str(SCRIPT), "--clips", str(tmp_path)], capture_output=True, text=True)
    assert run.returncode != 0 and run.stderr.strip() == f"detector_work: no .mp4 clips in {tmp_path}"
