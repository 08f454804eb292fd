"""What every part of the storage shares: the client, the key layout, the scripts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from lookout._base.errors import StorageError
from lookout._core.keys import Keys
from lookout._core.scripts import SCRIPTS
from lookout._core.settings import Settings


@dataclass(frozen=True)
class Patience:
    """How long a client waits for a Redis that does not answer, and how often it retries."""

    connect_timeout: float = 5.0
    retries: int = 8
    read_timeout: float | None = None


# Long-running processes wait out an outage (invariant 7): about 9 s of retries
# per command, after which their own loops back off and try again.
PATIENT = Patience()
# Commands a person waits on, and the monitor that Prometheus scrapes with a
# 10 s timeout: a down Redis is reported in about a second.  One retry still
# replaces a connection that a restarted Redis closed.
BRIEF = Patience(connect_timeout=1.0, retries=1, read_timeout=5.0)


def redis_client(url: str, patience: Patience = PATIENT) -> redis.Redis:
    """A client that reconnects by itself with backoff when Redis goes away (invariant 7)."""
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        health_check_interval=10,
        socket_keepalive=True,
        socket_connect_timeout=patience.connect_timeout,
        socket_timeout=patience.read_timeout,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=patience.retries),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
    )


class StoreBase:
    """The Redis client, the key layout and the registered Lua scripts.

    Registering a script does no I/O; redis-py loads it on first call.
    """

    def __init__(self, client: redis.Redis, keys: Keys, history_size: int = 1000) -> None:
        # Typed as Any: redis-py's reply types are unions that depend on
        # decode_responses; the storage decodes every reply itself.
        self.client: Any = client
        self.keys = keys
        self.history_size = history_size
        self.scripts = {name: client.register_script(src) for name, src in SCRIPTS.items()}

    @classmethod
    def from_settings(cls, settings: Settings, patience: Patience = PATIENT) -> Any:
        """A storage on a new connection pool (connections open on first use)."""
        return cls(
            redis_client(settings.redis_url, patience),
            Keys(settings.key_prefix),
            settings.tick_history,
        )

    def ping(self) -> None:
        """Check that Redis answers, with an error that names where it was looked for."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            kwargs = self.client.connection_pool.connection_kwargs
            where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
            raise StorageError(f"cannot reach Redis at {where}: {exc}") from exc
