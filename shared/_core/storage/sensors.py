"""Sensor state, cursors, run keys, tick history and the launch and event streams."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import redis

from lookout._base.codec import decode, decode_from, decode_values, encode
from lookout._base.errors import CodecError
from lookout._base.wire import DefaultSensorStatus, LaunchRequest, RunEvent, TickRecord, TickStatus
from lookout._core.storage._base import StoreBase

ALL_DROPPED = "every run request had a run key this sensor already used"


@dataclass(frozen=True)
class SensorState:
    """What a tick needs to know of a sensor before it evaluates."""

    status: str | None  # set by an operator; None: the code's default applies
    default: str | None
    cursor: bytes | None
    inflight: str | None
    last_entry: bytes | None  # decoded only when asked for: most ticks never look

    @property
    def last(self) -> TickRecord | None:
        return decode_entry(self.last_entry) if self.last_entry else None


_STATE_FIELDS = ("status", "default", "cursor", "inflight", "last")


def _state(fields: Sequence[bytes | None]) -> SensorState:
    status, default, cursor, inflight, last = fields
    return SensorState(
        status=status.decode() if status else None,
        default=default.decode() if default else None,
        cursor=cursor,
        inflight=inflight.decode() if inflight else None,
        last_entry=last,
    )


@dataclass(frozen=True)
class TickCommit:
    """Everything one tick writes, handed to the commit script as one unit."""

    record: TickRecord
    # (run key, encoded LaunchRequest) per request, in the order evaluated
    launches: Sequence[tuple[str | None, bytes]]
    store_cursor: bool
    cursor: bytes | None
    next_due: float | None


def decode_entry(entry: bytes) -> TickRecord:
    """Read a history entry: the record, then the commit's accepted/dropped flags.

    A tick that asked for runs but had every one dropped as a duplicate reads
    as SKIPPED, as Dagster reports it.
    """
    values = decode_values(entry)
    if not values:
        raise CodecError("empty tick history entry")
    flags = values[1] if len(values) > 1 else ""
    return with_flags(decode_from(TickRecord, values[0]), flags if isinstance(flags, str) else "")


def with_flags(record: TickRecord, accepted: str) -> TickRecord:
    """The record as committed: which requests launched, and SKIPPED if none did."""
    if record.accepted != accepted:  # replace() is costly: most ticks ask for no runs
        record = replace(record, accepted=accepted)
    if record.status == TickStatus.SUCCESS.value and record.requests and "1" not in accepted:
        record = replace(record, status=TickStatus.SKIPPED.value, skip_reason=ALL_DROPPED)
    return record


def _committed(commit: TickCommit, reply: Sequence[Any]) -> TickRecord | None:
    done, flags = reply
    if not done:
        return None
    return with_flags(commit.record, flags.decode() if isinstance(flags, bytes) else str(flags))


class SensorStore(StoreBase):
    """Sensor state, cursors, run keys, tick history, the launch and event streams."""

    # -- sensors -------------------------------------------------------------

    def sync_sensor(self, name: str, default: DefaultSensorStatus, interval: float) -> None:
        """Record a sensor's code-side defaults (the operator's status is kept)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(
            self.keys.sensor(name), mapping={"default": default.value, "interval": repr(interval)}
        )
        pipe.sadd(self.keys.sensors, name)
        pipe.execute()

    def sensor_state(self, name: str) -> SensorState:
        return _state(self.client.hmget(self.keys.sensor(name), _STATE_FIELDS))

    def sensor_states(self, names: Sequence[str]) -> list[SensorState]:
        """The state of several sensors in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(self.keys.sensor(name), _STATE_FIELDS)
        return [_state(fields) for fields in pipe.execute()]

    def states_and_deadlines(
        self, names: Sequence[str]
    ) -> tuple[list[SensorState], list[float | None]]:
        """``sensor_states`` and each one's in-flight deadline (``None``: no mark), in one
        round trip: what a worker reads before it evaluates a message's ticks.
        """
        if not names:
            return [], []
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(self.keys.sensor(name), _STATE_FIELDS)
        pipe.zmscore(self.keys.inflight, list(names))
        *fields, scores = pipe.execute()
        deadlines = [None if s is None else float(s) for s in scores]
        return [_state(f) for f in fields], deadlines

    def set_status(self, name: str, status: DefaultSensorStatus, due_at: float) -> None:
        """Start or stop a sensor.

        A started one becomes due at ``due_at``, or later when its minimum
        interval since its last tick's start says so (invariant 1).
        """
        keys = [self.keys.sensor(name), self.keys.sensors, self.keys.due]
        self.scripts["set_status"](keys=keys, args=[name, status.value, repr(due_at)])

    def set_cursor(self, name: str, cursor: bytes | None) -> None:
        """Replace a sensor's cursor (``None`` resets it); run keys are left alone."""
        if cursor is None:
            self.client.hdel(self.keys.sensor(name), "cursor")
        else:
            self.client.hset(self.keys.sensor(name), "cursor", cursor)

    # -- ticks ---------------------------------------------------------------

    def claim(self, name: str, tick_id: str, now: float, deadline: float) -> str:
        """Mark ``tick_id`` in flight; returns the tick id that holds the mark."""
        keys = [self.keys.sensor(name), self.keys.inflight, self.keys.due]
        held = self.scripts["claim"](keys=keys, args=[name, tick_id, repr(now), repr(deadline)])
        return held.decode() if isinstance(held, bytes) else str(held)

    def release(self, name: str, tick_id: str) -> bool:
        """Drop the in-flight mark if ``tick_id`` holds it."""
        keys = [self.keys.sensor(name), self.keys.inflight]
        return bool(self.scripts["release"](keys=keys, args=[name, tick_id]))

    def commit(self, commit: TickCommit) -> TickRecord | None:
        """Commit a tick atomically; ``None`` when it was already committed or superseded."""
        keys, args = self._commit_call(commit)
        return _committed(commit, self.scripts["commit"](keys=keys, args=args))

    def commit_many(self, commits: Sequence[TickCommit]) -> list[TickRecord | None]:
        """Commit several ticks in one round trip; each is still atomic on its own."""
        if not commits:
            return []
        # EVALSHA straight into the pipeline: a script called through the
        # pipeline makes redis-py ask SCRIPT EXISTS first, one more round trip
        # per flush.  A server that lost the script (a restart) answers NOSCRIPT
        # and ran nothing for that commit: it is loaded and those commits retried.
        script = self.scripts["commit"]
        pipe = self.client.pipeline(transaction=False)
        for commit in commits:
            keys, args = self._commit_call(commit)
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        replies = pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if isinstance(reply, redis.exceptions.NoScriptError):
                keys, args = self._commit_call(commits[i])
                replies[i] = script(keys=keys, args=args)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
        return [_committed(c, reply) for c, reply in zip(commits, replies, strict=True)]

    def _commit_call(self, commit: TickCommit) -> tuple[list[str], list[Any]]:
        record = commit.record
        name = record.sensor
        keys = [
            self.keys.sensor(name),
            self.keys.ticks(name),
            self.keys.launch,
            self.keys.inflight,
            self.keys.due,
            self.keys.run_keys(name),
        ]
        args: list[Any] = [
            record.tick_id,
            "1" if commit.store_cursor else "0",
            commit.cursor if commit.cursor is not None else b"",
            encode(record),
            str(self.history_size),
            "" if commit.next_due is None else repr(commit.next_due),
            name,
            str(len(commit.launches)),
        ]
        for run_key, payload in commit.launches:
            args += ["0", "", payload] if run_key is None else ["1", run_key, payload]
        args.append(repr(record.started_at))  # last: the request triples keep their places
        return keys, args

    def ticks(self, name: str, limit: int = 20) -> list[TickRecord]:
        """A sensor's tick history, newest first."""
        return [decode_entry(e) for e in self.client.lrange(self.keys.ticks(name), 0, limit - 1)]

    def run_key_exists(self, name: str, run_keys: Sequence[str]) -> list[bool]:
        """Which of ``run_keys`` this sensor has already used (read only)."""
        if not run_keys:
            return []
        pipe = self.client.pipeline(transaction=False)
        for key in run_keys:
            pipe.hexists(self.keys.run_keys(name), key)
        return [bool(n) for n in pipe.execute()]

    def reset_run_keys(self, name: str) -> int:
        """Forget every run key of a sensor (an operator's explicit act); returns how many."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hlen(self.keys.run_keys(name))
        pipe.unlink(self.keys.run_keys(name))
        count, _ = pipe.execute()
        return int(count)

    def launch_requests(self, count: int = 1000) -> list[tuple[str, LaunchRequest]]:
        """The launch stream from its start (for operators and tests)."""
        entries = self.client.xrange(self.keys.launch, count=count)
        return [(eid.decode(), decode(LaunchRequest, fields[b"d"])) for eid, fields in entries]

    # -- events --------------------------------------------------------------

    def append_event(self, event: RunEvent) -> str:
        """Add a run event to the event stream; returns its id."""
        eid = self.client.xadd(self.keys.events, {"d": encode(event)})
        return eid.decode() if isinstance(eid, bytes) else str(eid)

    def read_events(self, after: str, count: int) -> list[tuple[str, RunEvent]]:
        """Up to ``count`` events strictly after id ``after`` ("0-0": from the start)."""
        entries = self.client.xrange(self.keys.events, min=f"({after}", count=count)
        return [(eid.decode(), decode(RunEvent, fields[b"d"])) for eid, fields in entries]

    def wait_events(self, after: str, block: float, count: int) -> list[tuple[str, RunEvent]]:
        """Events after id ``after``, waiting up to ``block`` seconds for the first one."""
        reply = self.client.xread({self.keys.events: after}, block=int(block * 1000), count=count)
        return [
            (eid.decode(), decode(RunEvent, fields[b"d"]))
            for _, entries in reply or []
            for eid, fields in entries
        ]

    def latest_event_id(self) -> str:
        """The newest event's id, or "0-0" when there is none."""
        entries = self.client.xrevrange(self.keys.events, count=1)
        return entries[0][0].decode() if entries else "0-0"

    def latest_matching_event(
        self, match: Callable[[RunEvent], bool], scan: int = 10_000
    ) -> tuple[str, RunEvent] | None:
        """The newest of the last ``scan`` events that ``match`` accepts."""
        entries = self.client.xrevrange(self.keys.events, count=scan)
        for eid, fields in entries:
            event = decode(RunEvent, fields[b"d"])
            if match(event):
                return eid.decode(), event
        return None

    def maxmemory_policy(self) -> str:
        """Redis's eviction policy; any ``allkeys-*`` policy could evict run keys."""
        reply = self.client.config_get("maxmemory-policy")
        return str(reply.get("maxmemory-policy", "unknown"))
