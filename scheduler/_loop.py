"""The scheduler: keeps the due-time index and publishes the ticks that are due.

One round (``run_once``): acquire or renew the leader lock; as leader, claim
the due sensors in one fenced script (which also re-queues stuck in-flight
marks and wakes waiting triggers) and publish the claimed ticks in batches.
Between rounds the leader sleeps until the head of the due index, capped,
and wakes early on a trigger.  Each round reads only the sensors it claims,
so its cost per tick is O(log n) in the number of sensors.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kombu.exceptions
import redis

from scheduler._leader import LeaderLock
from scheduler._publish import TickPublisher
from shared._definitions import Definitions
from shared._guards import check_eviction_policy
from shared._heartbeat import Heartbeat
from shared._settings import Settings
from shared._storage import ClaimedTick, Storage

log = logging.getLogger(__name__)

# Errors a round survives: Redis or the broker briefly away (invariant 7).
TRANSIENT = (redis.RedisError, kombu.exceptions.OperationalError, OSError)
# How often the leader looks again while a trigger waits for an in-flight tick.
TRIGGER_POLL = 0.1
# BLPOP rounds its timeout to milliseconds and 0 blocks forever.
MIN_BLOCK = 0.01


@dataclass
class SchedulerStats:
    """Counters since start, for logs and tests."""

    rounds: int = 0
    ticks: int = 0
    messages: int = 0
    requeued: int = 0
    parked: int = 0


class Scheduler:
    """Schedules the sensors of one ``Definitions``; ``run()`` loops until ``stop()``."""

    def __init__(
        self,
        definitions: Definitions,
        settings: Settings,
        *,
        storage: Storage | None = None,
        clock: Callable[[], float] = time.time,
        app: Any = None,
    ) -> None:
        self.definitions = definitions
        self.settings = settings
        self.storage: Storage = storage if storage is not None else Storage.from_settings(settings)
        self.clock = clock
        self.known = frozenset(s.name for s in definitions.sensors)
        self.lock = LeaderLock(self.storage, settings.leader_ttl, settings.leader_renew)
        self.publisher = TickPublisher(settings, app)
        self.heartbeat = Heartbeat(
            self.storage,
            "scheduler",
            interval=settings.heartbeat_interval,
            leader=lambda: self.lock.leading,
            details=lambda: {"sensors": str(len(self.known))},
        )
        self.stats = SchedulerStats()
        self._stop = threading.Event()

    # -- lifecycle -------------------------------------------------------------

    def run(self) -> None:
        """Check Redis, sync the sensors, then schedule until ``stop()``."""
        check_eviction_policy(self.storage, log)
        self.sync()
        self.heartbeat.start()
        log.info(
            "scheduler %s started with %d sensors (standing by until it leads)",
            self.lock.token[:8],
            len(self.known),
        )
        try:
            while not self._stop.is_set():
                self._pause(self._round_safely())
        finally:
            self._shutdown()

    def stop(self) -> None:
        """Ask ``run()`` to return after the current round (safe from a signal handler)."""
        self._stop.set()

    def _shutdown(self) -> None:
        try:
            self.lock.release()
        except TRANSIENT as exc:
            log.warning("leader lock not released (it expires by itself): %s", exc)
        self.heartbeat.stop()
        self.publisher.close()
        log.info(
            "scheduler %s stopped: %d ticks in %d messages",
            self.lock.token[:8],
            self.stats.ticks,
            self.stats.messages,
        )

    def sync(self) -> int:
        """Record every sensor's defaults and make the idle RUNNING ones due.

        Sensors Redis knows but this code location does not define leave the
        due index (their state is kept).  Returns how many became due.
        """
        sensors = [
            (s.name, s.default_status, float(s.minimum_interval_seconds))
            for s in self.definitions.sensors
        ]
        added = self.storage.sync_sensors(sensors, self.clock())
        gone = self.storage.unschedule_unknown(set(self.known))
        if gone:
            log.warning(
                "%d sensors in Redis are not defined here and are not scheduled: %s",
                len(gone),
                ", ".join(sorted(gone)[:10]) + (" ..." if len(gone) > 10 else ""),
            )
        return added

    # -- rounds ----------------------------------------------------------------

    def _round_safely(self) -> float:
        try:
            return self.run_once()
        except TRANSIENT as exc:
            log.warning("scheduling round failed (retrying in 1 s): %s", exc)
            return 1.0

    def run_once(self) -> float:
        """One round; returns how long to wait before the next one."""
        was_leading = self.lock.leading
        leading = self.lock.hold()
        if leading != was_leading and self.heartbeat.started_at is not None:
            self.heartbeat.beat()  # the monitor sees the new leader at once
        if not leading:
            return self.lock.seconds_to_renewal()
        claimed = self.publish_due(self.clock())
        if claimed >= self.settings.schedule_limit:
            return 0.0  # more are due: go round at once
        return self._idle_time()

    def publish_due(self, now: float) -> int:
        """Claim what is due (fenced by the lock) and publish it; returns ticks claimed."""
        claim = self.storage.claim_due(
            self.lock.token,
            now,
            limit=self.settings.schedule_limit,
            ttl=self.settings.inflight_ttl,
            tick_prefix=uuid.uuid4().hex[:24],
        )
        if claim is None:
            self.lock.lost()
            return 0
        self.stats.rounds += 1
        if claim.requeued:
            self.stats.requeued += claim.requeued
            log.warning(
                "%d in-flight ticks were not committed in time (worker lost?): ticking again",
                claim.requeued,
            )
        ticks = [t for t in claim.ticks if t.sensor in self.known]
        if len(ticks) < len(claim.ticks):
            self._park([t for t in claim.ticks if t.sensor not in self.known])
        if ticks:
            self.stats.messages += self.publisher.publish(ticks)
            self.stats.ticks += len(ticks)
            log.debug("published %d ticks", len(ticks))
        return len(claim.ticks)

    def _park(self, unknown: list[ClaimedTick]) -> None:
        """Sensors due in Redis that this code does not define: not ticked, not due."""
        for t in unknown:
            self.storage.release(t.sensor, t.tick_id)
        self.stats.parked += len(unknown)
        log.warning(
            "not scheduling %d sensors this code location does not define: %s",
            len(unknown),
            ", ".join(t.sensor for t in unknown[:10]),
        )

    def _idle_time(self) -> float:
        wakeup = self.storage.next_wakeup()
        cap = min(self.settings.scheduler_max_sleep, self.lock.seconds_to_renewal())
        if wakeup.triggers_waiting:
            cap = min(cap, TRIGGER_POLL)
        if wakeup.at is None:
            return cap
        return max(0.0, min(cap, wakeup.at - self.clock()))

    def _pause(self, seconds: float) -> None:
        if seconds <= 0 or self._stop.is_set():
            return
        if not self.lock.leading:
            self._stop.wait(seconds)
            return
        # Only the leader consumes wake-ups: a standby would swallow them.
        try:
            self.storage.wait_wake(max(seconds, MIN_BLOCK))
        except TRANSIENT as exc:
            log.warning("waiting for a wake-up failed: %s", exc)
            self._stop.wait(min(seconds, 1.0))
