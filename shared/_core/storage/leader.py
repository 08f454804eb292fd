"""The leader lock: one scheduler at a time holds a random token under a TTL it renews."""

from __future__ import annotations

import redis

from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.streams import text


class LeaderStore(Repository):
    """The fencing lock every leader-only script checks its token against."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._renew = self._script("renew_leader")
        self._release = self._script("release_leader")

    def acquire(self, token: str, ttl: float) -> bool:
        """Take the leader lock if nobody holds it."""
        return bool(self.client.set(self.keys.leader, token, nx=True, px=int(ttl * 1000)))

    def renew(self, token: str, ttl: float) -> bool:
        """Extend the lock if ``token`` still holds it; ``False``: leadership is lost."""
        return bool(self._renew(keys=[self.keys.leader], args=[token, str(int(ttl * 1000))]))

    def release(self, token: str) -> bool:
        return bool(self._release(keys=[self.keys.leader], args=[token]))

    def token(self) -> str | None:
        """The leading scheduler's token; ``None``: no scheduler leads."""
        raw = self.client.get(self.keys.leader)
        return text(raw) if raw is not None else None
