"""The monitor's HTTP server: the standard library's threading server, nothing more.

Prometheus, the container healthcheck and a browser are its only clients,
so a small synchronous server is enough; each request gets a thread.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis

from lookout._process.heartbeat import Heartbeat
from lookout._tools.monitor.app import TEXT, MonitorApp, Response

log = logging.getLogger(__name__)

# A form posts a sensor name, a token and where to go back: a few hundred bytes.
MAX_FORM_BYTES = 16 * 1024


class MonitorHandler(BaseHTTPRequestHandler):
    """Hands each request to the ``MonitorApp`` and writes its ``Response``."""

    server_version = "lookout-monitor"

    def __init__(self, *args: Any, app: MonitorApp, **kwargs: Any) -> None:
        self.app = app  # set before the base class handles the request in __init__
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._answer(lambda: self.app.get(urlsplit(self.path).path))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM_BYTES:
            self._send(Response(413, b"form too large\n", TEXT))
            return
        body = self.rfile.read(length).decode("utf-8", "replace")
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        self._answer(lambda: self.app.post(urlsplit(self.path).path, form, self._header_token()))

    def _header_token(self) -> str | None:
        token = self.headers.get("X-Lookout-Token")
        if token:
            return token
        auth = self.headers.get("Authorization", "")
        scheme, _, value = auth.partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None

    def _answer(self, route: Any) -> None:
        try:
            response = route()
        except redis.RedisError as exc:
            log.warning("%s %s: Redis: %s", self.command, self.path, exc)
            response = Response(503, f"Redis did not answer: {exc}\n".encode(), TEXT)
        self._send(response)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class MonitorServer:
    """Serves a ``MonitorApp`` on ``host:port`` until SIGTERM or SIGINT."""

    def __init__(self, app: MonitorApp, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port

    def run(self) -> None:
        handler = functools.partial(MonitorHandler, app=self.app)
        httpd = ThreadingHTTPServer((self.host, self.port), handler)
        httpd.daemon_threads = True
        url = f"http://{self.host}:{httpd.server_port}"
        log.info("lookout monitor on %s (metrics at /metrics)", url)
        previous = signal.signal(signal.SIGTERM, _exit_on_signal)
        # The monitor shows up among the live processes like every other one.
        heartbeat = Heartbeat(
            self.app.processes,
            "monitor",
            interval=self.app.settings.heartbeat_interval,
            details=lambda: {"url": url},
        )
        try:
            with heartbeat:
                httpd.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)
            httpd.server_close()


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    # serve_forever returns by this exception, so the socket is closed cleanly.
    sys.exit(0)
