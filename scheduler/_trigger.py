"""Push instead of poll: ask for a tick of one sensor now, within invariant 1."""

from __future__ import annotations

import time
from typing import Any

from lookout._base.errors import LookoutError
from lookout._core.payload import pack_payload
from lookout._core.storage import ScheduleStore, Trigger, TriggerOutcome


def trigger_sensor(
    schedule: ScheduleStore, name: str, *, now: float | None = None, payload: Any = None
) -> Trigger:
    """Ask for an immediate tick of sensor ``name`` and wake the leading scheduler.

    Invariant 1 holds: with a tick in flight, nothing more happens than one
    more tick right after it (``IN_FLIGHT``, with that tick's id); otherwise
    the sensor is due now, or when its minimum interval since the last tick's
    start allows (``DUE``, with that time).  Repeated triggers coalesce into
    one tick.  A STOPPED sensor gets this one tick and stays STOPPED.

    ``payload`` (a lookout extension: a small msgpack-able value, ``None`` for
    none) is what the next tick reads as ``context.trigger_payload``; one sent
    before a tick read the previous one replaces it.  ``PayloadError`` when it
    is too large (``lookout._process.payload.PAYLOAD_LIMIT``).
    """
    now = time.time() if now is None else now
    packed = None if payload is None else pack_payload(payload)
    result = schedule.trigger(name, now, packed)
    if result.outcome is TriggerOutcome.UNKNOWN:
        raise LookoutError(
            f"no sensor named '{name}' is known to Redis (a scheduler of its code location "
            "records it when it starts)"
        )
    return result


def describe_trigger(name: str, result: Trigger, now: float | None = None) -> str:
    """One line for the operator."""
    now = time.time() if now is None else now
    if result.outcome is TriggerOutcome.IN_FLIGHT:
        return f"sensor '{name}' has tick {result.tick_id} in flight; one more tick follows it"
    assert result.due_at is not None  # DUE always carries its time
    wait = result.due_at - now
    if wait <= 0.001:
        return f"sensor '{name}' is due now"
    return f"sensor '{name}' is due in {wait:.1f} s (its minimum interval since the last tick)"
