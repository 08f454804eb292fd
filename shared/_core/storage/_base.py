"""What every repository shares: a client that reconnects, the key layout, the scripts."""

from __future__ import annotations

import redis
from redis.commands.core import Script

from lookout._core.keys import Keys
from lookout._core.scripts import SCRIPTS


def redis_client(url: str) -> redis.Redis:
    """A client that reconnects by itself with backoff when Redis goes away (invariant 7)."""
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    return redis.Redis.from_url(
        url,
        health_check_interval=10,
        socket_keepalive=True,
        socket_connect_timeout=5,
        retry=Retry(ExponentialBackoff(cap=2.0, base=0.05), retries=8),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError],
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
