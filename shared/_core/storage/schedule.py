"""The scheduler's index: which sensors are due, claiming them, triggers and wake-ups.

Every change here that the leader makes is fenced by the leader lock's token
inside its script (``scripts.scheduling``): a scheduler that lost the lock
changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass

import redis

from lookout._base.wire import DefaultSensorStatus
from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import score
from lookout._core.streams import text


@dataclass(frozen=True)
class ClaimedTick:
    """A tick the leader claimed: its sensor is marked in flight with ``tick_id``."""

    sensor: str
    tick_id: str
    due_at: float


@dataclass(frozen=True)
class ClaimRound:
    """What one scheduling round did."""

    ticks: list[ClaimedTick]
    requeued: int  # stuck in-flight marks cleared (their worker died)
    promoted: int  # triggers that waited for an in-flight tick, now due


@dataclass(frozen=True)
class Wakeup:
    """When the next scheduling round has work."""

    at: float | None  # the next due time or in-flight deadline; None: neither
    # Triggers wait for in-flight ticks: a commit announces nothing, so the
    # scheduler looks again soon.
    triggers_waiting: bool


class TriggerOutcome(enum.Enum):
    DUE = "due"  # due at ``due_at`` (now, unless the interval forbids it)
    IN_FLIGHT = "inflight"  # a tick is in flight; one more follows it
    UNKNOWN = "unknown"  # no sensor of that name was ever synced


@dataclass(frozen=True)
class Trigger:
    """The storage's answer to a trigger."""

    outcome: TriggerOutcome
    due_at: float | None = None
    tick_id: str | None = None  # the tick in flight, for IN_FLIGHT


class ScheduleStore(Repository):
    """Due index, claiming rounds, triggers and the leader's wake-up list."""

    def __init__(self, client: redis.Redis, keys: Keys, history_size: int = 1000) -> None:
        super().__init__(client, keys)
        self.history_size = history_size  # claim_due trims the history of ticks it requeues
        self._sync_sensors = self._script("sync_sensors")
        self._unschedule = self._script("unschedule")
        self._claim_due = self._script("claim_due")
        self._unclaim = self._script("unclaim")
        self._trigger = self._script("trigger")

    # -- sync (fenced: only the leader's code decides what is scheduled) ------

    def sync_sensors(
        self, token: str, sensors: Iterable[tuple[str, DefaultSensorStatus, float]], now: float
    ) -> int | None:
        """Record the code's sensors and put the RUNNING ones that are idle in the due index.

        An existing due time is kept; returns how many sensors became due, or
        ``None`` when ``token`` does not hold the leader lock (a chunk done
        before the lock was lost stays done: it was the leader's).
        """
        chunk: list[str] = []
        added = 0
        for name, default, interval in sensors:
            chunk += [name, default.value, repr(float(interval))]
            if len(chunk) >= 3000:
                done = self._sync_chunk(token, chunk, now)
                if done < 0:
                    return None
                added += done
                chunk = []
        if chunk:
            done = self._sync_chunk(token, chunk, now)
            if done < 0:
                return None
            added += done
        return added

    def _sync_chunk(self, token: str, chunk: list[str], now: float) -> int:
        keys = [self.keys.leader, self.keys.sensors, self.keys.due]
        args = [token, repr(now), self.keys.sensor(""), *chunk]
        return int(self._sync_sensors(keys=keys, args=args))

    def unschedule_unknown(self, token: str, known: Set[str]) -> list[str] | None:
        """Take sensors this code location does not define out of the due index.

        Their state stays; a scheduler whose code defines them again puts them
        back.  ``None`` when ``token`` does not hold the leader lock.
        """
        gone = [
            name
            for raw in self.client.sscan_iter(self.keys.sensors, count=1000)
            if (name := text(raw)) not in known
        ]
        for start in range(0, len(gone), 1000):
            args = [token, *gone[start : start + 1000]]
            if int(self._unschedule(keys=[self.keys.leader, self.keys.due], args=args)) < 0:
                return None
        return gone

    # -- scheduling rounds -----------------------------------------------------

    def claim_due(
        self, token: str, now: float, *, limit: int, ttl: float, tick_prefix: str
    ) -> ClaimRound | None:
        """Claim up to ``limit`` due sensors, fenced by the leader lock.

        ``None`` when ``token`` does not hold the lock: nothing was changed.
        ``tick_prefix`` names the round: the same round asked again (redis-py
        re-sends a command whose reply was lost) answers what it claimed the
        first time and claims nothing more.
        """
        keys = [
            self.keys.leader,
            self.keys.due,
            self.keys.inflight,
            self.keys.triggered,
            self.keys.claim_round(token),
        ]
        args = [
            token,
            repr(now),
            str(limit),
            repr(now + ttl),
            tick_prefix,
            self.keys.sensor(""),
            repr(ttl),
            self.keys.ticks(""),
            str(self.history_size),
        ]
        reply = self._claim_due(keys=keys, args=args)
        if reply is None:
            return None
        ticks = [
            ClaimedTick(text(reply[i]), text(reply[i + 1]), float(reply[i + 2]))
            for i in range(2, len(reply), 3)
        ]
        return ClaimRound(ticks=ticks, requeued=int(reply[0]), promoted=int(reply[1]))

    def unclaim(self, ticks: Sequence[ClaimedTick]) -> int:
        """Give back claimed ticks that were never published: each sensor whose
        mark the tick still holds is due again at its due time.  Returns how many.
        """
        args = [self.keys.sensor("")]
        for t in ticks:
            args += [t.sensor, t.tick_id, repr(t.due_at)]
        if not ticks:
            return 0
        return int(self._unclaim(keys=[self.keys.inflight, self.keys.due], args=args))

    def next_wakeup(self) -> Wakeup:
        """The next due time and in-flight deadline, by peeking at each index's head."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zrange(self.keys.due, 0, 0, withscores=True)
        pipe.zrange(self.keys.inflight, 0, 0, withscores=True)
        pipe.exists(self.keys.triggered)
        due, inflight, triggered = pipe.execute()
        times = [float(s) for _, s in (*due, *inflight)]
        return Wakeup(at=min(times) if times else None, triggers_waiting=bool(triggered))

    def wait_wake(self, timeout: float) -> bool:
        """Block up to ``timeout`` s for a wake-up (a trigger); ``True`` if one came."""
        return self.client.blpop([self.keys.wake], timeout=timeout) is not None

    def trigger(self, name: str, now: float, payload: bytes | None = None) -> Trigger:
        """Ask for a tick of ``name`` as soon as invariant 1 allows, and wake the leader.

        ``payload`` (packed) waits on the sensor's hash for the next tick to read.
        """
        keys = [self.keys.sensor(name), self.keys.due, self.keys.triggered, self.keys.wake]
        args: list[str | bytes] = [name, repr(now)]
        if payload is not None:
            args.append(payload)
        kind, value = self._trigger(keys=keys, args=args)
        outcome = TriggerOutcome(text(kind))
        if outcome is TriggerOutcome.DUE:
            return Trigger(outcome, due_at=float(value))
        if outcome is TriggerOutcome.IN_FLIGHT:
            return Trigger(outcome, tick_id=text(value))
        return Trigger(outcome)

    def due_times(self, names: Sequence[str]) -> list[float | None]:
        """The due time of each of ``names`` (``None``: not in the index)."""
        scores = self.client.zmscore(self.keys.due, list(names)) if names else []
        return [score(s) for s in scores]
