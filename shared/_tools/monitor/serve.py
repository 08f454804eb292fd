"""Serving the monitor: uvicorn runs the web app until SIGTERM or Ctrl-C.

The monitor heartbeats like every other lookout process, with its URL, so
``lookout queues`` and the Deployment page list it among the live ones.
"""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn

from lookout._author.definitions import Definitions
from lookout._core.settings import Settings
from lookout._core.storage import Storage
from lookout._process.heartbeat import Heartbeat
from lookout._tools.monitor.web import create_app

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, returning from ``run`` after SIGTERM or SIGINT.

    uvicorn raises the signal again once it has shut down, which would end
    the process before the heartbeat says goodbye; lookout's processes stop
    by returning, cleaning up on the way out.
    """

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for open connections
        else:
            self.should_exit = True


def serve_monitor(
    definitions: Definitions, storage: Storage, settings: Settings, host: str, port: int
) -> None:
    """Serve the web UI, ``/metrics`` and ``/healthz`` on ``host:port`` until stopped.

    Blocks; returns after SIGTERM or SIGINT (uvicorn's graceful shutdown).
    Port 0 picks a free port, logged once the socket listens.
    """
    config = uvicorn.Config(
        create_app(definitions, storage, settings),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        # One process, a few threads for Redis reads: the monitor is a light reader.
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    url = f"http://{host}:{port}"
    heartbeat = Heartbeat(
        storage, "monitor", interval=settings.heartbeat_interval, details=lambda: {"url": url}
    )
    log.info("lookout monitor on %s (metrics at /metrics)", url)
    with heartbeat:
        server.run()
