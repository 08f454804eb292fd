"""A TCP proxy in front of the test's real Redis, for scheduler tests (not a code location).

It forwards bytes both ways unchanged and can do what a network does: count
request turns (a client that pipelines sends once, then reads), lose one
reply (the command ran in Redis, the client never hears back, so redis-py's
retry sends it again), and cut every client off for a while (a partition).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType


class RedisProxy:
    """Listens on a free loopback port and forwards each connection to ``upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.turns = 0  # times a client sent after having been answered (or first)
        self.lose_next_reply = threading.Event()
        self.lost = 0
        self.cut = threading.Event()  # set: every connection drops, new ones are refused
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # accept() looks at _closed this often
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def __enter__(self) -> RedisProxy:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
        for thread in self._threads:
            thread.join(5)

    def cut_off(self) -> None:
        """Drop every connection and refuse new ones until ``restore``: a partition."""
        self.cut.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()

    def restore(self) -> None:
        self.cut.clear()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            if self.cut.is_set():
                client.close()
                continue
            client.settimeout(None)
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._sockets += [client, upstream]
            thread = threading.Thread(target=self._pump, args=(client, upstream), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        """Forward both ways until either side closes; one thread, so turns are in order."""
        with selectors.DefaultSelector() as sel:
            sel.register(client, selectors.EVENT_READ, upstream)
            sel.register(upstream, selectors.EVENT_READ, client)
            answered = True
            while not self._closed.is_set():
                for key, _ in sel.select(timeout=0.1):
                    source = key.fileobj
                    assert isinstance(source, socket.socket)
                    try:
                        data = source.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        self._close(client, upstream)
                        return
                    if source is client:
                        if answered:
                            self.turns += 1
                        answered = False
                    else:
                        answered = True
                        if self.lose_next_reply.is_set():
                            # The command ran; its reply goes nowhere and the
                            # connection drops, as when a network cuts out.
                            self.lose_next_reply.clear()
                            self.lost += 1
                            self._close(client, upstream)
                            return
                    key.data.sendall(data)

    def _close(self, *socks: socket.socket) -> None:
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()
