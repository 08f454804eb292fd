"""The scheduler's index: which sensors are due, triggers and wake-ups.

Claiming due sensors is a transition of the tick lease (``TickLedger.claim_due``).

Every change here that the leader makes is fenced by the leader lock's token
inside its script (``scripts.scheduling``): a scheduler that lost the lock
changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence, Set
from dataclasses import dataclass

import redis

from lookout._base.wire import DefaultSensorStatus
from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import score
from lookout._core.streams import text


@dataclass(frozen=True)
class Wakeup:
    """When the next scheduling round has work."""

    at: float | None  # the next due time or lease expiry; None: neither
    # Triggers wait for in-flight ticks: a commit announces nothing, so the
    # scheduler looks again soon.
    triggers_waiting: bool
    # When the index holds the number of due ticks asked for (the due time
    # of that many-th sensor); None: it holds fewer sensors.
    gathered: float | None = None
    # Tick messages waiting in the tick queue, taken by no worker yet.
    queued: int = 0
    # The due times of the sensors after that many-th, in order (as many as
    # asked for): where its group ends.
    following: tuple[float, ...] = ()
    # The due times before that many-th, in order, when the following are
    # asked for: where a round cut short of it ends.
    leading: tuple[float, ...] = ()


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

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._sync_sensors = self._script("sync_sensors")
        self._sync_schedules = self._script("sync_schedules")
        self._unschedule = self._script("unschedule")
        self._trigger = self._script("trigger")

    # -- sync (fenced: only the leader's code decides what is scheduled) ------

    def sync_sensors(
        self,
        token: str,
        sensors: Iterable[tuple[str, DefaultSensorStatus, float]],
        now: float,
        *,
        first_delays: Mapping[str, float] | None = None,
    ) -> int | None:
        """Record the code's sensors and put the RUNNING ones that are idle in the due index.

        An existing due time is kept; returns how many sensors became due, or
        ``None`` when ``token`` does not hold the leader lock (a chunk done
        before the lock was lost stays done: it was the leader's).  A sensor
        that never ticked is first due ``first_delays[name]`` s after ``now``
        (jitter: the sensors of a new deployment spread over an interval).
        """
        delays = first_delays or {}
        chunk: list[str] = []
        added = 0
        for name, default, interval in sensors:
            chunk += [name, default.value, repr(float(interval)), repr(delays.get(name, 0.0))]
            if len(chunk) >= 4000:
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

    def sync_schedules(
        self, token: str, schedules: Iterable[tuple[str, str, float, str]]
    ) -> int | None:
        """Record the code's schedules ``(name, default status, next fire time, cron and
        time zone)`` and put the RUNNING ones that are idle in the due index at their
        next fire time.

        An existing due time is kept (after downtime it is past: the schedule
        ticks at once, for its most recent missed time), unless the cron or
        time zone changed.  Returns how many became due, or ``None`` when
        ``token`` does not hold the leader lock.
        """
        args = [token, self.keys.sensor("")]
        for name, default, fire_at, spec in schedules:
            args += [name, default, repr(fire_at), spec]
        keys = [self.keys.leader, self.keys.schedules, self.keys.due]
        added = int(self._sync_schedules(keys=keys, args=args))
        return None if added < 0 else added

    def unschedule_unknown(
        self, token: str, known: Set[str], *, schedules: bool = False
    ) -> list[str] | None:
        """Take sensors (or ``schedules``) this code location does not define out of the
        due index.

        Their state stays; a scheduler whose code defines them again puts them
        back.  ``None`` when ``token`` does not hold the leader lock.
        """
        names = self.keys.schedules if schedules else self.keys.sensors
        gone = [
            name
            for raw in self.client.sscan_iter(names, count=1000)
            if (name := text(raw)) not in known
        ]
        for start in range(0, len(gone), 1000):
            args = [token, *gone[start : start + 1000]]
            if int(self._unschedule(keys=[self.keys.leader, self.keys.due], args=args)) < 0:
                return None
        return gone

    # -- waking the leader ----------------------------------------------------

    def next_wakeup(self, gather: int = 1, tick_queue: str = "", follow: int = 0) -> Wakeup:
        """The next due time and lease expiry, by peeking at each index's head, when
        ``gather`` sensors will be due (the index's ``gather``-th entry) and the
        due times of the ``follow`` after it (and, with them, of those before
        it), and how many messages wait in ``tick_queue`` (kombu's list; the
        scheduler sends no priorities); one round trip.
        """
        pipe = self.client.pipeline(transaction=False)
        pipe.zrange(self.keys.due, 0, 0, withscores=True)
        pipe.zrange(self.keys.inflight, 0, 0, withscores=True)
        pipe.exists(self.keys.triggered)
        nth = max(0, gather - 1)
        # Those before the nth too only with those after: rounds that wait for groups.
        first = 0 if follow > 0 else nth
        pipe.zrange(self.keys.due, first, nth + max(0, follow), withscores=True)
        if tick_queue:
            pipe.llen(self.keys.celery_queue(tick_queue))
        due, inflight, triggered, read, *queued = pipe.execute()
        times = [float(s) for _, s in (*due, *inflight)]
        scores = [float(s) for _, s in read]
        at = nth - first
        return Wakeup(
            at=min(times) if times else None,
            triggers_waiting=bool(triggered),
            gathered=scores[at] if len(scores) > at else None,
            queued=int(queued[0]) if queued else 0,
            following=tuple(scores[at + 1 :]),
            leading=tuple(scores[:at]),
        )

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
