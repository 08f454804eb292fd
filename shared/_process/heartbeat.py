"""Heartbeats: every lookout process says in Redis that it is alive, who it is and what it does.

A heartbeat is a hash with a TTL of three intervals, renewed by a daemon
thread: a process that dies (even by kill -9) disappears from the list on its
own; one that stops cleanly removes itself at once.  ``ProcessStore.heartbeats()``
lists the live ones.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from importlib import metadata

import redis

from lookout._core.storage import ProcessInfo, ProcessStore

log = logging.getLogger(__name__)

Clock = Callable[[], float]


def lookout_version() -> str:
    try:
        return metadata.version("lookout")
    except metadata.PackageNotFoundError:
        return "unknown"


class Heartbeat:
    """Writes one process's heartbeat every ``interval`` seconds until stopped.

    ``leader`` (schedulers) says whether the process leads; ``details`` adds
    any other fields the process wants the monitor to show.
    """

    def __init__(
        self,
        processes: ProcessStore,
        role: str,
        *,
        interval: float = 2.0,
        leader: Callable[[], bool] | None = None,
        details: Callable[[], Mapping[str, str]] | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.processes = processes
        self.role = role
        self.interval = interval
        self.ttl = 3 * interval
        self.leader = leader
        self.details = details
        self.clock = clock
        self.host = socket.gethostname()
        self.pid = os.getpid()
        # The pid alone is not unique across hosts or container restarts.
        self.id = f"{role}@{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.started_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False
        self._version: str | None = None

    def info(self) -> ProcessInfo:
        now = self.clock()
        if self._version is None:
            # Read once: parsing the package's metadata on every beat was a
            # tenth of an idle scheduler's CPU.
            self._version = lookout_version()
        return ProcessInfo(
            id=self.id,
            role=self.role,
            host=self.host,
            pid=self.pid,
            version=self._version,
            started_at=self.started_at if self.started_at is not None else now,
            last_seen=now,
            leader=self.leader() if self.leader is not None else None,
            details=dict(self.details()) if self.details is not None else {},
        )

    def beat(self) -> None:
        """Write the heartbeat now (also to publish a change, such as gaining leadership)."""
        try:
            self.processes.write(self.info(), self.ttl)
        except redis.RedisError as exc:
            # Redis may be briefly down (invariant 7): say so once, keep trying.
            if not self._failing:
                log.warning("heartbeat of %s not written: %s", self.id, exc)
            self._failing = True
            return
        if self._failing:
            log.info("heartbeat of %s written again", self.id)
        self._failing = False

    def start(self) -> Heartbeat:
        """Write the first heartbeat and keep writing from a daemon thread."""
        if self._thread is not None:
            return self
        self.started_at = self.clock()
        self._stop.clear()
        self.beat()
        self._thread = threading.Thread(
            target=self._loop, name=f"heartbeat-{self.role}", daemon=True
        )
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def stop(self) -> None:
        """Stop writing and remove the heartbeat, so the process is gone from the list at once."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(self.interval + 5)
        self._thread = None
        try:
            self.processes.remove(self.id)
        except redis.RedisError as exc:
            log.warning("heartbeat of %s not removed (it expires by itself): %s", self.id, exc)

    def __enter__(self) -> Heartbeat:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
