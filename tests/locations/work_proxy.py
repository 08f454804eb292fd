"""A TCP proxy in front of Redis that can lose the reply to one command (not a code location).

The network can drop a connection after Redis ran a command and before its
reply arrived; redis-py then sends the command again on a new connection.
``ReplyDropper.arm(marker)`` makes the next command whose bytes contain
``marker`` (a script's sha, say) run on Redis and lose its reply, exactly so.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from types import TracebackType


class ReplyDropper:
    """Forwards 127.0.0.1:``port`` to a Redis on ``target_port``; loses one armed reply."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.dropped = 0
        self._armed: bytes | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.port = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def arm(self, marker: bytes) -> None:
        with self._lock:
            self._armed = marker

    def __enter__(self) -> ReplyDropper:
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen()
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _take(self, data: bytes) -> bool:
        with self._lock:
            if self._armed is not None and self._armed in data:
                self._armed = None
                return True
        return False

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        doomed = False
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([client, upstream], [], [], 0.2)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        doomed = doomed or self._take(data)
                        upstream.sendall(data)
                    elif doomed:
                        self.dropped += 1  # Redis ran the command; its reply is lost
                        return
                    else:
                        client.sendall(data)
        finally:
            for sock in (client, upstream):
                with contextlib.suppress(OSError):
                    sock.close()
