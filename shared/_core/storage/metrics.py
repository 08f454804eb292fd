"""Read-only queries for the monitor: queue depths, stream backlogs, sensors, processes.

Every query is bounded (a fixed number of keys, or a capped range) so that a
scrape stays cheap however big the deployment; none of them writes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from lookout._core.storage._base import Repository
from lookout._core.storage._replies import as_bytes, fields_of, maybe_bytes
from lookout._core.storage.history import STATUSES_BY_LETTER
from lookout._core.storage.runs import RUN_STATUSES
from lookout._core.streams import text as _text

# kombu's Redis transport keeps a queue's messages of priority p > 0 in a
# list named queue + SEP + p; messages without a priority go to the base list.
KOMBU_PRIORITY_SEP = "\x06\x16"
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)
# Counting a stream's undelivered entries by range when Redis cannot say
# (before 7.0, or after deletions) stops here: the figure is then "at least".
LAG_COUNT_CAP = 10_000


@dataclass(frozen=True)
class StreamBacklog:
    """Where a consumer group stands on a stream."""

    length: int  # entries in the stream
    undelivered: int  # entries no consumer of the group has read yet
    pending: int  # entries read but not acknowledged
    oldest_age: float | None  # seconds since the oldest unacknowledged entry was added


@dataclass(frozen=True)
class SensorCounts:
    known: int  # every sensor ever synced
    scheduled: int  # in the due index (RUNNING, no tick in flight)
    overdue: int  # due now or earlier and not yet published
    in_flight: int  # a tick queued or running
    deferred: int = 0  # due ticks put back so far: the launch stream was over its limit
    # Published ticks no worker began before their leases lapsed, so far (no record).
    lapsed: int = 0


@dataclass(frozen=True)
class Counters:
    """The counters hash (``Keys.counters``): totals since the deployment began."""

    ticks: dict[tuple[str, str], int]  # (sensor, status) -> committed ticks
    requests: dict[str, int]  # sensor -> run requests its ticks gave
    dropped: dict[str, int]  # sensor -> of those, dropped for a used run key
    runs: dict[str, int]  # status -> runs that reached it
    created: int  # runs created (by the launchers: requested, or retries)

    @classmethod
    def of_hash(cls, fields: Mapping[bytes, bytes]) -> Counters:
        counters = cls({}, {}, {}, {}, int(fields.get(b"created", 0)))
        for raw, count in fields.items():
            kind, _, rest = _text(raw).partition(":")
            if kind == "s":
                counters._add_sensor(rest, _text(count))
            # A field per count: a sensor's, as versions before kept them
            # (added to its own field's), and the runs'.
            elif kind == "ticks":
                sensor, _, status = rest.rpartition(":")
                _add(counters.ticks, (sensor, status), int(count))
            elif kind in ("requests", "dropped", "runs"):
                _add(getattr(counters, kind), rest, int(count))
        return counters

    def _add_sensor(self, sensor: str, counts: str) -> None:
        # "{letter}{count}" pairs (the commit script's [counters] block).
        for pair in counts.split():
            letter, n = pair[0], int(pair[1:])
            if letter == "q":
                _add(self.requests, sensor, n)
            elif letter == "d":
                _add(self.dropped, sensor, n)
            elif letter in STATUSES_BY_LETTER:
                _add(self.ticks, (sensor, STATUSES_BY_LETTER[letter]), n)


def _add(counts: dict[Any, int], key: Any, n: int) -> None:
    counts[key] = counts.get(key, 0) + n


def ping_once(url: str, timeout: float = 2.0) -> str | None:
    """Ping Redis once, without the storage's retries; ``None`` if it answered, else why not.

    A container healthcheck wants a quick answer, not the backoff that keeps
    the other processes alive through a short outage (invariant 7).
    """
    client = redis.Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def entry_time(entry_id: str) -> float:
    """A stream entry id's creation time (its milliseconds part)."""
    return int(entry_id.split("-", 1)[0]) / 1000.0


class MetricsView(Repository):
    """What the monitor, ``lookout queues`` and the status page count (read only)."""

    # -- Celery queues (kombu's lists) ---------------------------------------

    def celery_queue_lengths(self, queues: Sequence[str]) -> dict[str, int]:
        """Messages waiting in each Celery queue, every priority list counted."""
        pipe = self.client.pipeline(transaction=False)
        for queue in queues:
            for priority in KOMBU_PRIORITY_STEPS:
                name = f"{queue}{KOMBU_PRIORITY_SEP}{priority}" if priority else queue
                pipe.llen(self.keys.celery_queue(name))
        lengths = iter(pipe.execute())
        return {q: sum(next(lengths) for _ in KOMBU_PRIORITY_STEPS) for q in queues}

    def celery_unacked(self) -> dict[str, int]:
        """Messages handed to a worker and not yet acknowledged, by queue.

        kombu keeps them in one hash for every queue; the hash holds at most
        workers x prefetch entries, so reading it whole stays cheap.
        """
        counts: dict[str, int] = {}
        for raw in self.client.hvals(self.keys.celery_unacked):
            try:
                _, _, routing_key = json.loads(_text(raw))
                queue = str(routing_key)
            except (ValueError, TypeError):
                queue = "unknown"
            counts[queue] = counts.get(queue, 0) + 1
        return counts

    # -- streams -------------------------------------------------------------

    def launch_backlog(self, group: str, now: float | None = None) -> StreamBacklog:
        """Where the launchers' group stands on the launch stream."""
        return self._backlog(self.keys.launch, group, now)

    def _backlog(self, stream: str, group: str, now: float | None = None) -> StreamBacklog:
        """Length, undelivered and pending entries, and the oldest unacknowledged one's age."""
        now = time.time() if now is None else now
        length = int(self.client.xlen(stream))
        info = self._group_info(stream, group)
        if info is None:
            # No consumer has joined yet: every entry is waiting.
            first = self.client.xrange(stream, count=1)
            age = now - entry_time(_text(first[0][0])) if first else None
            return StreamBacklog(length, length, 0, age)
        last_delivered = _text(info["last-delivered-id"])
        pending = int(info["pending"])
        undelivered = self._undelivered(stream, info, last_delivered)
        oldest: list[float] = []
        if pending:
            summary = self.client.xpending(stream, group)
            if summary.get("min"):
                oldest.append(entry_time(_text(summary["min"])))
        if undelivered:
            nxt = self.client.xrange(stream, min=f"({last_delivered}", count=1)
            if nxt:
                oldest.append(entry_time(_text(nxt[0][0])))
        age = now - min(oldest) if oldest else None
        return StreamBacklog(length, undelivered, pending, age)

    def _group_info(self, stream: str, group: str) -> dict[str, Any] | None:
        try:
            groups = self.client.xinfo_groups(stream)
        except redis.ResponseError:
            return None  # no such stream
        for info in groups:
            if _text(info["name"]) == group:
                return dict(info)
        return None

    def _undelivered(self, stream: str, info: dict[str, Any], last_delivered: str) -> int:
        lag = info.get("lag")
        if lag is not None:
            return int(lag)
        entries = self.client.xrange(stream, min=f"({last_delivered}", count=LAG_COUNT_CAP)
        return len(entries or ())

    def dead_letter_count(self) -> int:
        """Entries in the dead-letter stream (capped)."""
        return int(self.client.xlen(self.keys.dead_letters))

    # -- sensors -------------------------------------------------------------

    def sensor_counts(self, now: float | None = None) -> SensorCounts:
        now = time.time() if now is None else now
        pipe = self.client.pipeline(transaction=False)
        pipe.scard(self.keys.sensors)
        pipe.zcard(self.keys.due)
        pipe.zcount(self.keys.due, "-inf", repr(now))
        pipe.zcard(self.keys.inflight)
        pipe.get(self.keys.deferred)
        pipe.get(self.keys.lapsed)
        known, scheduled, overdue, in_flight, deferred, lapsed = pipe.execute()
        return SensorCounts(
            int(known),
            int(scheduled),
            int(overdue),
            int(in_flight),
            int(deferred or 0),
            int(lapsed or 0),
        )

    def sensor_names(self) -> list[str]:
        """Every sensor ever synced, sorted."""
        return sorted(_text(n) for n in self.client.smembers(self.keys.sensors))

    def last_tick_entries(self, names: Sequence[str]) -> list[bytes | None]:
        """Each sensor's newest raw tick history entry (one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.lindex(self.keys.ticks(name), 0)
        return [maybe_bytes(e) for e in pipe.execute()]

    def tick_entries(self, names: Sequence[str], limit: int) -> list[list[bytes]]:
        """Up to ``limit`` raw tick history entries per sensor, newest first (one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.lrange(self.keys.ticks(name), 0, limit - 1)
        return [[as_bytes(e) for e in entries] for entries in pipe.execute()]

    # -- runs ----------------------------------------------------------------

    def runs_total(self) -> int:
        """Every run ever created (the launcher's count of launched runs)."""
        return int(self.client.zcard(self.keys.runs))

    def counters(self) -> Counters:
        """The counters the tick commits and run status moves keep (one HGETALL)."""
        return Counters.of_hash(fields_of(self.client.hgetall(self.keys.counters)))

    def run_counts(self) -> dict[str, int]:
        """How many runs are in each status."""
        pipe = self.client.pipeline(transaction=False)
        for status in RUN_STATUSES:
            pipe.zcard(self.keys.runs_by_status(status))
        return dict(zip(RUN_STATUSES, pipe.execute(), strict=True))
