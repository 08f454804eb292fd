"""Sensor state as operators and ticks see it: status, cursor, and the run keys used."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from lookout._base.fast_init import fast_init
from lookout._base.wire import DefaultSensorStatus, TickRecord
from lookout._core.keys import Keys
from lookout._core.payload import unpack_payload
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import maybe_bytes
from lookout._core.storage.history import decode_entry


@fast_init
@dataclass(frozen=True)
class SensorState:
    """What a tick needs to know of a sensor before it evaluates."""

    status: str | None  # set by an operator; None: the code's default applies
    default: str | None
    cursor: bytes | None
    inflight: str | None
    last_entry: bytes | None  # decoded only when asked for: most ticks never look
    # A trigger's payload waiting for this tick (``TriggerPayload`` bytes), else None.
    payload: bytes | None = None
    # The sensor's name: its history's records do not repeat it.
    name: str = ""

    @property
    def last(self) -> TickRecord | None:
        return decode_entry(self.last_entry, self.name) if self.last_entry else None

    @property
    def trigger_payload(self) -> Any:
        """The value of the payload waiting for this tick (``None``: none)."""
        return unpack_payload(self.payload)


# The sensor hash's fields a SensorState is read from, in its order; then
# the head of its history (the newest entry: the hash keeps no copy of it).
STATE_FIELDS = ("status", "default", "cursor", "inflight", "payload")


def read_state(fields: Sequence[object], name: str = "") -> SensorState:
    """The SensorState of sensor ``name`` from an HMGET of ``STATE_FIELDS`` and the
    newest entry of its history (LINDEX 0), in that order.
    """
    # Read for every tick a worker takes up: map, positional, bytes decoded in place.
    status, default, cursor, inflight, payload, last = map(maybe_bytes, fields)
    return SensorState(
        status.decode() if status else None,
        default.decode() if default else None,
        cursor,
        inflight.decode() if inflight else None,
        last,
        payload,
        name,
    )


# The fields a take-up reads (TAKE_UP): STATE_FIELDS but ``inflight``, which
# it reads first anyway and which is the tick's id once the tick is held.
HELD_FIELDS = ("status", "default", "cursor", "payload")


def held_state(fields: Sequence[Any], name: str, tick_id: str) -> SensorState:
    """The SensorState of sensor ``name``, whose tick ``tick_id`` is held, from
    TAKE_UP's packed values of ``HELD_FIELDS`` and its history's head (``False``
    for none), in that order.
    """
    # Per tick a worker takes up: unpacked once, each False tested in place.
    status, default, cursor, payload, last = fields
    return SensorState(
        status.decode() if status else None,
        default.decode() if default else None,
        None if cursor is False else cursor,
        tick_id,
        None if last is False else last,
        None if payload is False else payload,
        name,
    )


class SensorStore(Repository):
    """Each sensor's hash (code defaults, operator status, cursor) and its run-key hash."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._set_status = self._script("set_status")

    def sync(
        self, name: str, default: DefaultSensorStatus, interval: float, *, schedule: bool = False
    ) -> None:
        """Record a sensor's (or a ``schedule``'s) code-side defaults (the operator's
        status is kept).
        """
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(
            self.keys.sensor(name), mapping={"default": default.value, "interval": repr(interval)}
        )
        pipe.sadd(self.keys.schedules if schedule else self.keys.sensors, name)
        pipe.execute()

    def state(self, name: str) -> SensorState:
        return self.states([name])[0]

    def states(self, names: Sequence[str]) -> list[SensorState]:
        """The state of several sensors in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(self.keys.sensor(name), STATE_FIELDS)
            pipe.lindex(self.keys.ticks(name), 0)
        replies = pipe.execute()
        return [
            read_state([*replies[2 * i], replies[2 * i + 1]], name) for i, name in enumerate(names)
        ]

    def set_status(
        self, name: str, status: DefaultSensorStatus, due_at: float, *, schedule: bool = False
    ) -> None:
        """Start or stop a sensor (or a ``schedule``: then ``due_at`` is its next fire time).

        A started one becomes due at ``due_at``, or later when its minimum
        interval since its last tick's start says so (invariant 1).
        """
        names = self.keys.schedules if schedule else self.keys.sensors
        keys = [self.keys.sensor(name), names, self.keys.due]
        self._set_status(keys=keys, args=[name, status.value, repr(due_at)])

    def set_cursor(self, name: str, cursor: bytes | None) -> None:
        """Replace a sensor's cursor (``None`` resets it); run keys are left alone."""
        if cursor is None:
            self.client.hdel(self.keys.sensor(name), "cursor")
        else:
            self.client.hset(self.keys.sensor(name), "cursor", cursor)

    def run_keys_used(self, name: str, run_keys: Sequence[str]) -> list[bool]:
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
        pipe.unlink(self.keys.run_keys(name), self.keys.run_key_times(name))
        count, _ = pipe.execute()
        return int(count)
