"""The run manifest of ``fpblur batch`` (local path): one row per input, reruns skip by content, retry failures."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from fpblur.cli import main
from fpblur.config.settings import resolve_config
from fpblur.core.files import atomic_output
from fpblur.media.synth import pan_clip
from fpblur.models.samples import photo_path, synthetic_car
from fpblur.redact.anonymizer import Anonymizer
from fpblur.run.cluster import RayOptions, run_batch, thread_cap
from fpblur.run.manifest import Manifest, ManifestRow, remove_stale_parts

CONFIG = resolve_config("fast")


def rows(path: Path) -> dict[str, dict]:
    """The manifest's rows by ``rel``."""
    return {r["rel"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.fixture
def folder(tmp_path) -> Path:
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    zidane = cv2.imread(str(photo_path("zidane.jpg")))
    cv2.imwrite(str(src / "zidane.jpg"), cv2.resize(zidane, (480, 270)))
    car, _ = synthetic_car(size=(320, 240))
    cv2.imwrite(str(src / "sub" / "car.png"), car)
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    pan_clip(src / "clip.mp4", zidane, size=(192, 108), seconds=0.5)
    return src


def test_local_run_writes_one_row_per_input(folder, tmp_path):
    out = tmp_path / "out"
    errors: list[str] = []
    result = run_batch([folder], out, CONFIG, on_error=errors.append, progress=False)
    assert (result.done, result.failed, result.skipped) == (3, 1, 0)
    assert result.manifest == out / "run.jsonl"
    got = rows(out / "run.jsonl")
    assert set(got) == {"zidane.jpg", "sub/car.png", "broken.jpg", "clip.mp4"}
    broken = got["broken.jpg"]
    assert broken["status"] == "failed" and "\n" not in broken["reason"] and "broken.jpg" in broken["reason"]
    assert errors == [broken["reason"]]
    assert not (out / "broken.jpg").exists()
    zid, car, clip = got["zidane.jpg"], got["sub/car.png"], got["clip.mp4"]
    assert zid["status"] == "done" and zid["faces"] >= 2 and zid["kind"] == "image" and zid["frames"] is None
    assert car["plates"] == 1 and car["output"] == str(out / "sub" / "car.png")
    assert clip["kind"] == "video" and clip["frames"] == 6 and clip["tracks"] == clip["faces"] + clip["plates"]
    assert clip["faces"] >= 1
    for row in got.values():
        assert len(row["sha256"]) == 64 and row["profile"] == "fast" and row["seconds"] >= 0
        assert set(row["models"]) == {"face", "plate"} and len(row["models"]["face"]["sha256"]) == 64
        assert row["models"]["face"]["name"] == "centerface"
    assert not list(out.rglob(".*.part*"))


def test_rerun_skips_by_content_and_retries_failures(folder, tmp_path):
    out = tmp_path / "out"
    run_batch([folder], out, CONFIG, progress=False)
    first = rows(out / "run.jsonl")
    stamp = (out / "zidane.jpg").stat().st_mtime_ns
    # the broken input is fixed, the car's content changes under the same name, zidane is untouched
    car, _ = synthetic_car(size=(320, 240))
    cv2.imwrite(str(folder / "broken.jpg"), car)
    cv2.imwrite(str(folder / "sub" / "car.png"), cv2.flip(car, 1))
    again = run_batch([folder], out, CONFIG, progress=False)
    got = rows(out / "run.jsonl")
    assert got["zidane.jpg"]["status"] == "skipped" and got["zidane.jpg"]["reason"] == "done in an earlier run"
    assert got["zidane.jpg"]["faces"] == first["zidane.jpg"]["faces"]  # the earlier counts are kept
    assert got["clip.mp4"]["status"] == "skipped"
    assert (out / "zidane.jpg").stat().st_mtime_ns == stamp
    assert got["broken.jpg"]["status"] == "done"  # failed before: retried
    assert got["sub/car.png"]["status"] == "done"  # same name, new content: redone
    assert got["sub/car.png"]["sha256"] != first["sub/car.png"]["sha256"]
    assert (again.done, again.skipped, again.failed) == (2, 2, 0)
    # an output that vanished is redone; a skipped row counts as done for the next run
    (out / "zidane.jpg").unlink()
    third = run_batch([folder], out, CONFIG, progress=False)
    assert (third.done, third.skipped) == (1, 3)
    assert run_batch([folder], out, CONFIG, progress=False).skipped == 4


def test_outputs_without_rows_are_skipped_and_overwrite_redoes_all(folder, tmp_path):
    out = tmp_path / "out"
    run_batch([folder], out, CONFIG, progress=False)
    (out / "run.jsonl").unlink()  # outputs of an older fpblur, no manifest
    result = run_batch([folder], out, CONFIG, progress=False)
    assert result.skipped == 3 and {r.reason for r in result.rows if r.status == "skipped"} == {"output exists"}
    assert run_batch([folder], out, CONFIG, overwrite=True, progress=False).done == 3


def test_manifest_survives_a_torn_line_and_keeps_the_latest_row(tmp_path):
    path = tmp_path / "m.jsonl"
    row = ManifestRow("a.jpg", "a.jpg", "0" * 64, str(tmp_path / "o" / "a.jpg"), "image", "failed", reason="x")
    book = Manifest(path)
    book.append(row)
    book.append(ManifestRow(**{**row.__dict__, "status": "done", "reason": ""}))
    book.close()
    with open(path, "a") as f:
        f.write('{"path": "b.jpg", "rel": "b.jp')  # a driver killed mid-line
    again = Manifest(path)
    assert [r.status for r in again.rows.values()] == ["done"]
    again.compact()
    assert len(path.read_text().splitlines()) == 1


def test_stale_partial_outputs_are_removed(tmp_path):
    dst = tmp_path / "clip.mp4"
    with pytest.raises(RuntimeError), atomic_output(dst) as tmp:
        name = tmp.name  # the naming atomic_output uses
        raise RuntimeError
    (tmp_path / name).write_bytes(b"half")  # as a killed process leaves it
    keep = [".clip.v2.abcd1234.part.mp4", ".other.abcd1234.part.mp4", ".clip.abcd1234.part.mkv"]
    for other in keep:  # other outputs' temporary files (clip.v2.mp4 may be written right now)
        (tmp_path / other).write_bytes(b"keep")
    assert remove_stale_parts(dst) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep)


def test_thread_cap_sets_every_detectors_onnx_runtime_threads():
    capped = thread_cap(CONFIG, 1.5)
    assert {t: s.threads for t, s in capped.detectors.items()} == {t: 1 for t in CONFIG.detectors}
    assert all(s.threads is None for s in CONFIG.detectors.values())  # the caller's configuration is unchanged


@pytest.mark.skipif(not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2, reason="Linux, 2+ CPUs")
def test_thread_cap_gives_onnx_runtime_fewer_threads():
    alive = []  # keep the sessions (and their thread pools) until both are counted

    def threads_of_new_anonymizer(cap: bool) -> int:
        before = len(os.listdir("/proc/self/task"))
        alive.append(Anonymizer(thread_cap(CONFIG, 1) if cap else CONFIG))
        return len(os.listdir("/proc/self/task")) - before

    assert threads_of_new_anonymizer(True) < threads_of_new_anonymizer(False)


def test_ray_without_the_extra_is_one_line(folder, tmp_path, monkeypatch, capsys):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert main(["batch", "--in", str(folder), "--out", str(tmp_path / "out"), "--ray"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "fpblur: error: fpblur batch --ray needs the [ray] extra: pip install 'fpblur[ray]'"


def test_ray_options_are_checked():
    with pytest.raises(ValueError, match="workers must be at least 1"):
        RayOptions(workers=0)
    with pytest.raises(ValueError, match="cpus per worker must be positive"):
        RayOptions(cpus_per_worker=0)


def test_cli_batch_writes_the_manifest_where_asked(folder, tmp_path):
    out, manifest = tmp_path / "out", tmp_path / "logs" / "run.jsonl"
    cmd = [sys.executable, "-m", "fpblur", "batch", "--in", str(folder), "--out", str(out), "--fast"]
    done = subprocess.run([*cmd, "--manifest", str(manifest)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # the broken image
    assert "fpblur: error:" in done.stderr and "broken.jpg" in done.stderr
    assert len(rows(manifest)) == 4 and not (out / "run.jsonl").exists()
    again = subprocess.run([*cmd, "--manifest", str(manifest)], capture_output=True, text=True, timeout=300)
    assert "skipped 3" in again.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "fpblur", "batch", "--in", str(tmp_path / "nope"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert missing.returncode == 2 and "no such file" in missing.stderr


class _FlakyClientRay:
    """Stands in for the ``ray`` module's ``init``/``shutdown`` only: the Ray Client server's per-client process
    dies ``failures`` times (ray-project/ray#63202), then the connection succeeds."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures, self.error, self.calls, self.shutdowns = failures, error, 0, 0

    def init(self, address: str, **_: object) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error

    def shutdown(self) -> None:
        self.shutdowns += 1


def test_ray_client_connection_is_retried_when_the_server_process_dies(monkeypatch):
    from fpblur.run import cluster

    monkeypatch.setattr(cluster.time, "sleep", lambda s: None)
    ray = _FlakyClientRay(2, ConnectionAbortedError("Initialization failure from server:\n"))
    cluster._client_init(ray, "ray://127.0.0.1:10001", {})
    assert (ray.calls, ray.shutdowns) == (3, 2)
    ray = _FlakyClientRay(9, ConnectionAbortedError("Initialization failure from server:\n"))
    with pytest.raises(ConnectionAbortedError):  # gives up after CLIENT_ATTEMPTS
        cluster._client_init(ray, "ray://127.0.0.1:10001", {})
    assert ray.calls == cluster.CLIENT_ATTEMPTS
    ray = _FlakyClientRay(9, ConnectionRefusedError("no cluster there"))
    with pytest.raises(ConnectionRefusedError):  # anything else: at once
        cluster._client_init(ray, "ray://127.0.0.1:10001", {})
    assert ray.calls == 1
