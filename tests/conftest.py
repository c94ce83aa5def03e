"""Shared test fixtures: an offline guard and quiet, sandboxed tool directories."""

from __future__ import annotations

import ipaddress
import os
import socket
import tempfile
from pathlib import Path

import pytest

# Jupyter, IPython, matplotlib and Ultralytics write to the home directory by default; keep tests' writes
# in one temp folder (CI sets these too).
_SANDBOX = Path(tempfile.mkdtemp(prefix="fpblur-tests-"))
for var, sub in (
    ("JUPYTER_CONFIG_DIR", "jupyter/config"),
    ("JUPYTER_DATA_DIR", "jupyter/data"),
    ("JUPYTER_RUNTIME_DIR", "jupyter/runtime"),
    ("IPYTHONDIR", "ipython"),
    ("MPLCONFIGDIR", "matplotlib"),
):
    os.environ.setdefault(var, str(_SANDBOX / sub))
os.environ.setdefault("MPLBACKEND", "Agg")


def _is_loopback(address) -> bool:
    if isinstance(address, tuple):
        host = address[0]
    elif isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    else:
        return True
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name would need a DNS lookup: not loopback


class NetworkGuard:
    """Records (and blocks) every attempt to reach a non-loopback address, including DNS lookups."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo
        guard = self

        def connect(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
                guard.attempts.append(f"connect {address}")
                raise ConnectionRefusedError(f"fpblur tests: network access to {address} blocked")
            return real_connect(sock, address)

        def connect_ex(sock, address):
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
                guard.attempts.append(f"connect_ex {address}")
                return 111
            return real_connect_ex(sock, address)

        def getaddrinfo(host, *args, **kwargs):
            h = host.decode() if isinstance(host, bytes) else host
            if h is not None and not _is_loopback((h, 0)):
                guard.attempts.append(f"getaddrinfo {h}")
                raise socket.gaierror(socket.EAI_NONAME, f"fpblur tests: DNS lookup of {h} blocked")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def no_network(monkeypatch):
    """Use in a test that must make no non-loopback connection; the test fails if one was attempted."""
    guard = NetworkGuard()
    guard.install(monkeypatch)
    yield guard
    assert not guard.attempts, f"non-loopback network attempts: {guard.attempts}"


@pytest.fixture(scope="session")
def ultralytics_assets() -> Path:
    """The sample photos (zidane.jpg, bus.jpg) that the ultralytics wheel ships."""
    from fpblur.models.offline import import_ultralytics

    import_ultralytics()
    from ultralytics.utils import ASSETS

    return Path(ASSETS)


@pytest.fixture(scope="session")
def zidane(ultralytics_assets):
    import cv2

    return cv2.imread(str(ultralytics_assets / "zidane.jpg"))
