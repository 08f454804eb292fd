"""What every part of the storage shares: the client, the key layout, the scripts."""

from __future__ import annotations

from typing import Any

import redis

from lookout._base.errors import StorageError
from lookout._core.keys import Keys
from lookout._core.scripts import SCRIPTS
from lookout._core.settings import Settings


def redis_client(
    url: str, *, socket_timeout: float = 5.0, connect_timeout: float = 5.0
) -> redis.Redis:
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
        socket_timeout=socket_timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(
            ExponentialBackoff(cap=2.0, base=0.05),
            retries=8,
            supported_errors=(redis.ConnectionError,),
        ),
        retry_on_error=[redis.ConnectionError],
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
    def from_settings(cls, settings: Settings) -> Any:
        """A storage on a new connection pool (connections open on first use)."""
        client = redis_client(
            settings.redis_url,
            socket_timeout=settings.redis_socket_timeout,
            connect_timeout=settings.redis_connect_timeout,
        )
        return cls(client, Keys(settings.key_prefix), settings.tick_history)

    def ping(self) -> None:
        """Check that Redis answers, with an error that names where it was looked for."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            kwargs = self.client.connection_pool.connection_kwargs
            where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
            raise StorageError(f"cannot reach Redis at {where}: {exc}") from exc
