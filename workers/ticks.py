"""The tick task's body: check each tick of a message, dead-letter the unreadable, run the rest.

A message carries a batch of ``TickMessage`` maps (the scheduler's one
positional argument).  A batch that is not a list, or a tick that is not a
well-formed map for a sensor of this code location, is written to the
dead-letter stream with the reason; the other ticks of the batch go on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared._codec import encode_value
from shared._definitions import Definitions
from shared._errors import CodecError, DefinitionError, LookoutError
from shared._wire import TickMessage, TickRecord

log = logging.getLogger(__name__)

# Where a dead letter goes: (reason, raw payload, reference such as the task id).
DeadLetterSink = Callable[[str, bytes, str | None], None]
# Evaluates and commits well-formed ticks: one record (or None) per tick.
EvaluateBatch = Callable[[Sequence[TickMessage]], list[TickRecord | None]]


class MalformedTickError(LookoutError):
    """A tick message (or one tick in it) does not have the shape of a ``TickMessage``."""


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one message's ticks."""

    committed: int = 0
    already_done: int = 0  # committed before, or superseded: a redelivery
    dead_lettered: int = 0

    def to_log(self) -> dict[str, int]:
        return {
            "committed": self.committed,
            "already_done": self.already_done,
            "dead_lettered": self.dead_lettered,
        }


def payload_bytes(value: Any) -> bytes:
    """The msgpack bytes of what a message held, for the dead letter (repr if not encodable)."""
    try:
        return encode_value(value)
    except CodecError:
        return repr(value).encode()


def parse_tick(item: Any) -> TickMessage:
    """A ``TickMessage`` from its wire map, checking each field's type."""
    if not isinstance(item, Mapping):
        raise MalformedTickError(f"a tick must be a map, got {type(item).__name__}: {item!r:.200}")
    sensor, tick_id, due_at = item.get("sensor"), item.get("tick_id"), item.get("due_at")
    if not isinstance(sensor, str) or not sensor:
        raise MalformedTickError(f"tick has no sensor name: {item!r:.200}")
    if not isinstance(tick_id, str) or not tick_id:
        raise MalformedTickError(f"tick of sensor '{sensor}' has no tick id: {item!r:.200}")
    if isinstance(due_at, bool) or not isinstance(due_at, int | float):
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


class TickBatchHandler:
    """Checks the ticks of a message and hands the good ones to ``evaluate``."""

    def __init__(
        self, definitions: Definitions, evaluate: EvaluateBatch, dead_letter: DeadLetterSink
    ) -> None:
        self.definitions = definitions
        self.evaluate = evaluate
        self.dead_letter = dead_letter

    def handle(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], ref: str | None
    ) -> BatchOutcome:
        try:
            items = parse_batch(args, kwargs)
        except MalformedTickError as exc:
            self._bury(str(exc), {"args": list(args), "kwargs": dict(kwargs)}, ref)
            return BatchOutcome(dead_lettered=1)
        ticks: list[TickMessage] = []
        seen: set[tuple[str, str]] = set()
        dead = 0
        for i, item in enumerate(items):
            try:
                tick = parse_tick(item)
                self.definitions.get_sensor(tick.sensor)
            except (MalformedTickError, DefinitionError) as exc:
                self._bury(str(exc), item, f"{ref}#{i}")
                dead += 1
                continue
            if (tick.sensor, tick.tick_id) not in seen:
                seen.add((tick.sensor, tick.tick_id))
                ticks.append(tick)
        records = self.evaluate(ticks) if ticks else []
        committed = sum(r is not None for r in records)
        return BatchOutcome(committed, len(records) - committed, dead)

    def _bury(self, reason: str, item: Any, ref: str | None) -> None:
        log.error("dead-lettered a tick (%s): %s", ref, reason)
        self.dead_letter(reason, payload_bytes(item), ref)
