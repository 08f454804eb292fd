"""Is a process of this kind alive on this host?  A container's healthcheck asks.

Every lookout process heartbeats into Redis with its role and host name
(``lookout._process.heartbeat``); in a container the host name is the
container's own, so a live heartbeat of the role from this host means the
container's process is up and can reach Redis.  A process that cannot
reach Redis, or is wedged, stops heartbeating, and its heartbeat expires
after three intervals.
"""

from __future__ import annotations

import socket

from lookout._core.storage import ProcessInfo, ProcessStore


def live_heartbeat(
    processes: ProcessStore, role: str, host: str | None = None
) -> ProcessInfo | None:
    """The newest live heartbeat of ``role`` from ``host`` (default: this host), if any."""
    here = socket.gethostname() if host is None else host
    mine = [p for p in processes.heartbeats() if p.role == role and p.host == here]
    return max(mine, key=lambda p: p.last_seen, default=None)
