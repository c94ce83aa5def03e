"""A small static HTTP server on 127.0.0.1 with byte-range support, for the notebooks' smoke mode and tests.

It can also misbehave on purpose: ``corrupt[path] = n`` serves flipped bytes for the next n requests of
``path``; ``truncate[path] = n`` announces the full length but closes the connection half-way, n times.
Every response is recorded in ``log`` as ``(path, range header, status)`` and ``agents`` as
``(path, User-Agent)``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class LocalServer(ThreadingHTTPServer):
    """A threading HTTP server for the files under ``root`` on 127.0.0.1 (a free port), with byte ranges and the
    misbehaviour tables ``corrupt``/``truncate`` and the ``log``/``agents`` records described in the module docstring.
    """

    daemon_threads = True

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.log: list[tuple[str, str | None, int]] = []
        self.agents: list[tuple[str, str]] = []
        self.corrupt: dict[str, int] = {}
        self.truncate: dict[str, int] = {}
        self._lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), partial(_Handler, directory=str(self.root)))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the base URL of ``root``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def take(self, table: dict[str, int], path: str) -> bool:
        """Use up one planned misbehaviour for ``path`` in ``table`` (thread-safe); True when one was left."""
        with self._lock:
            if table.get(path, 0) > 0:
                table[path] -= 1
                return True
            return False


class _Handler(SimpleHTTPRequestHandler):
    server: LocalServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # quiet: no request log on stderr
        pass

    def send_response(self, code: int, message: str | None = None) -> None:
        self.server.log.append((self.path.split("?")[0], self.headers.get("Range"), code))
        self.server.agents.append((self.path.split("?")[0], self.headers.get("User-Agent", "")))
        super().send_response(code, message)

    def send_head(self):  # type: ignore[override]
        path = self.translate_path(self.path)
        if os.path.isdir(path) or not os.path.isfile(path):
            self.close_connection = True
            return super().send_head()
        data = Path(path).read_bytes()
        url_path = self.path.split("?")[0]
        if self.server.take(self.server.corrupt, url_path):
            data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        start, end, status = 0, len(data) - 1, 200
        rng = self.headers.get("Range")
        if rng:
            m = _RANGE.match(rng.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                self.send_error(416)
                return None
            if m.group(1) == "":
                start = max(0, len(data) - int(m.group(2)))
            else:
                start = int(m.group(1))
                end = min(end, int(m.group(2))) if m.group(2) else end
            if start >= len(data) or start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            status = 206
        body = data[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        self.end_headers()
        if self.server.take(self.server.truncate, url_path):
            body = body[: len(body) // 2]
            self.close_connection = True
        return io.BytesIO(body)


@contextlib.contextmanager
def serve(root: str | os.PathLike) -> Iterator[LocalServer]:
    """Serve ``root`` on ``127.0.0.1`` (a free port) in a background thread for the ``with`` block.

    Yields:
        The :class:`LocalServer` (its ``url`` is the base URL); it is shut down on exit.
    """
    server = LocalServer(Path(root))
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fpblur-local-http", daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
