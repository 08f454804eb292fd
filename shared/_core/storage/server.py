"""The Redis server itself: whether it answers, and whether it may evict lookout's keys."""

from __future__ import annotations

import redis

from lookout._base.errors import StorageError
from lookout._core.storage._base import Repository


class ServerChecks(Repository):
    """What a process checks of its Redis before it starts work."""

    def ping(self) -> None:
        """Check that Redis answers, with an error that names where it was looked for."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            kwargs = self.client.connection_pool.connection_kwargs
            where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
            raise StorageError(f"cannot reach Redis at {where}: {exc}") from exc

    def maxmemory_policy(self) -> str:
        """Redis's eviction policy; any ``allkeys-*`` policy could evict run keys."""
        reply = self.client.config_get("maxmemory-policy")
        return str(reply.get("maxmemory-policy", "unknown"))
