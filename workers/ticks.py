"""The shape of a tick message: each tick checked, what a message came to.

A message carries a batch of ``TickMessage`` maps (the scheduler's one
positional argument).  A batch that is not a list, or a tick that is not a
well-formed map, is written to the dead-letter stream with the reason; the
other ticks of the batch go on (``lookout.workers.batch`` does it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lookout._base.codec import encode_value
from lookout._base.errors import CodecError, LookoutError
from lookout._base.wire import TickMessage

# Where a dead letter goes: (reason, raw payload, reference such as the task id).
DeadLetterSink = Callable[[str, bytes, str | None], None]


class MalformedTickError(LookoutError):
    """A tick message (or one tick in it) does not have the shape of a ``TickMessage``."""


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one message's ticks."""

    committed: int = 0
    failed: int = 0  # of the committed, FAILURE ticks: the sensor raised (Flower shows it)
    already_done: int = 0  # committed before, or superseded: a redelivery
    dead_lettered: int = 0
    given_back: int = 0  # held and not evaluated (the process stopped): due again
    unknown: int = 0  # sensors this code does not define: given back

    def to_log(self) -> dict[str, int]:
        return {
            "committed": self.committed,
            "failed": self.failed,
            "already_done": self.already_done,
            "dead_lettered": self.dead_lettered,
            "given_back": self.given_back,
            "unknown": self.unknown,
        }


def payload_bytes(value: Any) -> bytes:
    """The msgpack bytes of what a message held, for the dead letter (repr if not encodable)."""
    try:
        return encode_value(value)
    except CodecError:
        return repr(value).encode()


def parse_tick(item: Any) -> TickMessage:
    """A ``TickMessage`` from its wire map, checking each field's type."""
    # A dict first, a tuple of types: the Mapping ABC and a union cost more, per tick.
    if type(item) is not dict and not isinstance(item, Mapping):
        raise MalformedTickError(f"a tick must be a map, got {type(item).__name__}: {item!r:.200}")
    sensor, tick_id, due_at = item.get("sensor"), item.get("tick_id"), item.get("due_at")
    if not isinstance(sensor, str) or not sensor:
        raise MalformedTickError(f"tick has no sensor name: {item!r:.200}")
    if not isinstance(tick_id, str) or not tick_id:
        raise MalformedTickError(f"tick of sensor '{sensor}' has no tick id: {item!r:.200}")
    if isinstance(due_at, bool) or not isinstance(due_at, (int, float)):
        raise MalformedTickError(f"tick of sensor '{sensor}' has no numeric due_at: {due_at!r}")
    return TickMessage(sensor=sensor, tick_id=tick_id, due_at=float(due_at))


def parse_batch(args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    """The list of tick maps a message carries (its one positional argument)."""
    if kwargs or len(args) != 1 or not isinstance(args[0], list | tuple):
        raise MalformedTickError(
            "a tick message takes one positional argument, a list of TickMessage maps; "
            f"got args={list(args)!r:.200} kwargs={dict(kwargs)!r:.200}"
        )
    return list(args[0])
