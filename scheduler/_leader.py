"""The leader lock: one scheduler publishes, the others stand by to take over.

The lock is a Redis string holding the leader's random token, set with
``SET NX PX`` and renewed by compare-and-renew.  Holding it is necessary but
not sufficient to publish: every claim checks the token inside the claiming
script (fencing), so a leader that lost the lock without knowing it (paused,
partitioned) cannot claim anything.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from lookout._core.storage import LeaderStore

log = logging.getLogger(__name__)


class LeaderLock:
    """This process's view of the leader lock; ``hold()`` acquires or renews as due."""

    def __init__(
        self,
        store: LeaderStore,
        ttl: float,
        renew_every: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if renew_every * 2 > ttl:
            raise ValueError(
                f"leader lock renewed every {renew_every:g} s needs a ttl over twice that"
            )
        self.store = store
        self.ttl = ttl
        self.renew_every = renew_every
        self.clock = clock
        self.token = uuid.uuid4().hex
        self.leading = False
        self._last_try = float("-inf")
        self._renewed = float("-inf")

    def hold(self) -> bool:
        """Acquire the lock (standby) or renew it (leader) when due; ``True`` while leading."""
        now = self.clock()
        if self.leading and now - self._renewed > self.ttl:
            # No renewal got through for a whole TTL: the lock may be someone else's.
            self._lose("the lock was not renewed for a whole TTL")
        if now - self._last_try < self.renew_every:
            return self.leading
        self._last_try = now
        if self.leading:
            if self.store.renew(self.token, self.ttl):
                self._renewed = now
            else:
                self._lose("another scheduler holds the lock")
        elif self.store.acquire(self.token, self.ttl):
            self.leading = True
            self._renewed = now
            log.info("scheduler %s is now the leader", self.token[:8])
        return self.leading

    def lost(self) -> None:
        """A fenced claim was refused: this process no longer leads."""
        if self.leading:
            self._lose("a claim was refused by the lock")

    def _lose(self, why: str) -> None:
        self.leading = False
        self._last_try = float("-inf")
        log.warning("scheduler %s stopped leading: %s", self.token[:8], why)

    def seconds_to_renewal(self) -> float:
        return max(0.0, self._last_try + self.renew_every - self.clock())

    def release(self) -> None:
        """Give the lock up (a clean shutdown), so a standby takes over at once."""
        if self.leading:
            self.leading = False
            self.store.release(self.token)
            log.info("scheduler %s released the leader lock", self.token[:8])
