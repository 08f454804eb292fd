"""Serving the monitor: uvicorn runs the web app until SIGTERM or Ctrl-C.

The monitor heartbeats like every other lookout process, with its URL, so
``lookout queues`` and the Deployment page list it among the live ones.
"""

from __future__ import annotations

import logging
import signal
import socket
from types import FrameType

import uvicorn

from lookout._author.definitions import Definitions
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout._process.heartbeat import Heartbeat
from lookout._tools.monitor.web import create_app

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn's server, saying where it listens once it does, and returning on a signal.

    uvicorn raises SIGTERM or SIGINT again once it has shut down, which would
    end the process before the heartbeat says goodbye; lookout's processes
    stop by returning, cleaning up on the way out.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.url = f"http://{config.host}:{config.port}"

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        bound = [s.getsockname() for server in self.servers for s in server.sockets]
        if bound:  # port 0 asks for a free port: say which one it is
            self.url = f"http://{self.config.host}:{bound[0][1]}"
        log.info("lookout monitor on %s (metrics at /metrics)", self.url)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True  # a second Ctrl-C: stop waiting for open connections
        else:
            self.should_exit = True


def serve_monitor(
    definitions: Definitions, repos: Repositories, settings: Settings, host: str, port: int
) -> None:
    """Serve the web UI, ``/metrics`` and ``/healthz`` on ``host:port`` until stopped.

    Blocks; returns after SIGTERM or SIGINT, once uvicorn has shut down.  Port
    0 picks a free port; the log line ``lookout monitor on URL`` says which,
    once the socket listens.
    """
    # uvicorn logs through lookout's own log format and level (LOOKOUT_LOGLEVEL):
    # its access log, one line a request, only at DEBUG.
    debug = logging.getLogger().isEnabledFor(logging.DEBUG)
    config = uvicorn.Config(
        create_app(definitions, repos, settings),
        host=host,
        port=port,
        log_config=None,
        log_level=logging.DEBUG if debug else logging.WARNING,
        access_log=debug,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    heartbeat = Heartbeat(
        repos.processes,
        "monitor",
        interval=settings.heartbeat_interval,
        details=lambda: {"url": server.url},
    )
    with heartbeat:
        server.run()
