"""Keeping the tick leases a worker process holds: renewed from a thread, given back when owed.

A process evaluates a message's ticks one after another while this thread
renews every lease it holds each ``Settings.lease_renew`` seconds, to a
whole ``inflight_ttl`` from then: a held lease always has more than one
evaluation (its timeout and hard exit) left, even if the renewing thread
cannot run meanwhile (a sensor stuck in C code holds the interpreter).
The evaluating side asks ``surely_held`` before each evaluation: the time
the leases surely hold, counted on this host's monotonic clock from the last
renewal Redis confirmed.  A process cut off from Redis sees it shrink and
stops evaluating ticks it could no longer commit.

Ticks a process could not give back (Redis was away when it stopped) are
owed: the thread gives them back as soon as Redis answers, so that another
delivery of their message is not left waiting for their leases to lapse.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Sequence

import redis

from lookout._core.settings import Settings
from lookout._core.storage import TickLedger
from lookout._core.storage.ticks import TickRef

log = logging.getLogger(__name__)


class LeaseKeeper:
    """Renews one process's held tick leases and gives back the ones it owes.

    The thread starts on first use in the process that holds leases (after
    a pool's fork), so the constructor does no I/O and starts nothing.
    """

    def __init__(
        self,
        ledger: TickLedger,
        settings: Settings,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.monotonic = monotonic
        self.wall = wall
        self._lock = threading.Lock()
        self._held: dict[TickRef, str] = {}  # tick -> holder
        self._owed: dict[TickRef, str] = {}
        self._lost: set[TickRef] = set()
        self._confirmed = -math.inf  # when the last renewal Redis confirmed was sent
        self._wake = threading.Event()
        self._pid: int | None = None

    # -- the evaluating side ---------------------------------------------------

    def hold(self, ticks: Sequence[TickRef], holder: str, sent_at: float) -> None:
        """``holder`` began ``ticks`` with a begin sent at ``sent_at`` (monotonic)."""
        with self._lock:
            if not self._held:
                self._confirmed = sent_at  # else the older leases' bound stands
            for tick in ticks:
                self._held[tick] = holder
                self._lost.discard(tick)
        self._ensure_thread()

    def surely_held(self, tick: TickRef) -> float:
        """Seconds ``tick``'s lease surely still holds (0 when it was lost)."""
        with self._lock:
            if tick in self._lost or tick not in self._held:
                return 0.0
            return max(0.0, self._confirmed + self.settings.inflight_ttl - self.monotonic())

    def drop(self, ticks: Sequence[TickRef]) -> None:
        """Stop renewing ``ticks`` (committed, given back, or owed)."""
        with self._lock:
            for tick in ticks:
                self._held.pop(tick, None)
                self._lost.discard(tick)

    def owe(self, ticks: Sequence[TickRef], holder: str) -> None:
        """Give ``ticks`` back as soon as Redis answers; stop renewing them."""
        with self._lock:
            for tick in ticks:
                self._held.pop(tick, None)
                self._owed[tick] = holder
        self._ensure_thread()
        self._wake.set()

    # -- the thread ------------------------------------------------------------

    def _ensure_thread(self) -> None:
        pid = os.getpid()
        if self._pid == pid:
            return
        self._pid = pid
        thread = threading.Thread(target=self._loop, name="lookout-lease-keeper", daemon=True)
        thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.settings.lease_renew)
            self._wake.clear()
            try:
                self._pay()
                self.renew_now()
            # The thread must outlive anything one round meets: an allocation
            # failing under a sensor's memory limit, Redis away.
            except (redis.RedisError, MemoryError, OSError) as exc:
                log.warning("renewing tick leases failed (retrying): %s", exc)

    def renew_now(self) -> None:
        """Renew every held lease once (the thread's round)."""
        with self._lock:
            held = dict(self._held)
        by_holder: dict[str, list[TickRef]] = {}
        for tick, holder in held.items():
            by_holder.setdefault(holder, []).append(tick)
        sent = self.monotonic()
        for holder, ticks in by_holder.items():
            still = self.ledger.renew(ticks, holder, self.settings.inflight_ttl)
            with self._lock:
                self._lost.update(t for t, ok in zip(ticks, still, strict=True) if not ok)
        with self._lock:
            self._confirmed = max(self._confirmed, sent)

    def _pay(self) -> None:
        with self._lock:
            owed = dict(self._owed)
        for tick, holder in owed.items():
            self.ledger.give_back([(*tick, None)], self.wall(), holder=holder)
            with self._lock:
                self._owed.pop(tick, None)
            log.info("gave back tick %s of %s, held when Redis was away", tick[1], tick[0])
