"""No network: a fresh interpreter that blocks every non-loopback socket runs the whole detection path."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

GUARD = textwrap.dedent(
    '''
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
    '''
)


def test_detection_and_cli_make_no_network_attempt(tmp_path):
    config = tmp_path / "ul"  # a fresh Ultralytics config dir: first-run code paths (settings, fonts) run too
    script = GUARD + textwrap.dedent(
        f'''
        from fpblur.cli import main
        from fpblur.models.samples import sample_folder
        folder = sample_folder({str(tmp_path / "samples")!r})
        rc = main(["image", str(folder), "-o", {str(tmp_path / "out")!r}, "--mode", "boxes"])
        print("RC", rc)
        from ultralytics.utils.checks import check_font
        print("FONT", check_font("Arial.ttf"), check_font("Arial.Unicode.ttf"))
        '''
    )
    env = {**os.environ, "YOLO_CONFIG_DIR": str(config), "FPBLUR_CACHE": str(tmp_path / "cache")}
    env.pop("YOLO_OFFLINE", None)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert "RC 0" in proc.stdout, proc.stderr[-2000:]
    assert "NETWORK_ATTEMPTS []" in proc.stdout, proc.stdout
    # Ultralytics finds a local font where it looks (its config dir): nothing to download.
    assert f"FONT {config / 'Ultralytics' / 'Arial.ttf'} {config / 'Ultralytics' / 'Arial.Unicode.ttf'}" in proc.stdout
    assert len(list(Path(tmp_path / "out").iterdir())) == 3


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
