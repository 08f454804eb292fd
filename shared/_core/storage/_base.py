"""What every repository shares: a client that reconnects, the key layout, the scripts."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from redis.commands.core import Script

from lookout._base.errors import ReplicasBehindError
from lookout._core.keys import Keys
from lookout._core.scripts import SCRIPTS


@dataclass(frozen=True)
class Patience:
    """How long a client waits for a Redis that does not answer, and how often it reconnects."""

    connect_timeout: float = 5.0
    read_timeout: float = 5.0
    retries: int = 8


# Commands a person waits on, and the monitor that Prometheus scrapes with a
# 10 s timeout: a down Redis is reported in about a second.  One retry still
# replaces a connection that a restarted Redis closed.  Long-running processes
# take their timeouts from the settings (LOOKOUT_REDIS_*_TIMEOUT) instead.
BRIEF = Patience(connect_timeout=1.0, read_timeout=5.0, retries=1)
# The settings' defaults, for a client built from a URL alone.
DEFAULT = Patience()


def redis_client(url: str, patience: Patience = DEFAULT) -> redis.Redis:
    """A client that reconnects by itself with backoff when Redis goes away (invariant 7).

    Every reply and connection has a timeout: a stalled Redis (paused, or a
    host whose packets vanish) raises ``TimeoutError`` instead of blocking the
    process.  A refused or dropped connection is retried here, with backoff;
    a timeout is not (the command may yet run on a server that resumes, and a
    stall can last long): it goes to the process's own retry loop
    (``lookout._core.transient``).
    """
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        health_check_interval=10,
        socket_keepalive=True,
        socket_timeout=patience.read_timeout,
        socket_connect_timeout=patience.connect_timeout,
        retry=Retry(
            ExponentialBackoff(cap=2.0, base=0.05),
            retries=patience.retries,
            supported_errors=(redis.ConnectionError,),
        ),
        retry_on_error=[redis.ConnectionError],
    )


class Repository:
    """One concern's keys in Redis: the client, the shared key layout, its own scripts.

    Each repository registers only the Lua scripts it calls; registering does
    no I/O (redis-py loads a script on its first call).
    """

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def _script(self, name: str) -> Script:
        return self.client.register_script(SCRIPTS[name])

    def replicas_confirming(self, replicas: int, timeout: float) -> int:
        """How many replicas (up to ``replicas``) hold every write Redis ran so far.

        Redis's ``WAIT`` counts the replicas that acknowledged its client's
        last write; a pooled connection may not be the one that wrote, so
        this writes first (``replicas:probe``) and waits on that, on one
        connection: the probe's replication offset follows every write the
        server ran before it, this process's commits and launches included.
        Blocks at most ``timeout`` s; ``replicas`` 0 sends nothing.
        """
        if replicas <= 0:
            return 0
        pipe = self.client.pipeline(transaction=False)
        pipe.incr(self.keys.replica_probe)
        pipe.wait(replicas, max(1, round(timeout * 1000)))
        _, confirmed = pipe.execute()
        return int(confirmed)

    def confirm_replicas(self, replicas: int, timeout: float) -> None:
        """Raise ``ReplicasBehindError`` unless ``replicas`` replicas hold every write so far."""
        confirmed = self.replicas_confirming(replicas, timeout)
        if confirmed < replicas:
            raise ReplicasBehindError(
                f"{confirmed} of {replicas} required replicas confirmed the writes "
                f"within {timeout:g} s (LOOKOUT_REDIS_MIN_REPLICAS)"
            )
