"""The tick task's body: check each tick of a message, dead-letter the unreadable, run the rest.

A message carries a batch of ``TickMessage`` maps (the scheduler's one
positional argument).  A batch that is not a list, or a tick that is not a
well-formed map, is written to the dead-letter stream with the reason; the
other ticks of the batch go on.  A well-formed tick of a sensor this code
location does not define (during a rolling deploy, the scheduler's code may
be newer or older than this worker's) is no garbage: its in-flight mark is
given back, with no tick record, so that a worker that knows the sensor
evaluates it later, and the sensor does not collect a FAILURE per lost tick.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lookout._author.definitions import Definitions
from lookout._base.codec import encode_value
from lookout._base.errors import CodecError, LookoutError
from lookout._base.wire import TickMessage, TickRecord, TickStatus

log = logging.getLogger(__name__)


class NotEvaluated(enum.Enum):
    """A tick given back without evaluation or record: its sensor is due again."""

    GIVEN_BACK = "given_back"


# What became of one tick: its committed record, None (committed before, or
# superseded: a redelivery), or given back.
TickResult = TickRecord | NotEvaluated | None
# Where a dead letter goes: (reason, raw payload, reference such as the task id).
DeadLetterSink = Callable[[str, bytes, str | None], None]
# Evaluates and commits well-formed ticks: one result per tick.
EvaluateBatch = Callable[[Sequence[TickMessage]], list[TickResult]]
# Gives back the tick of a sensor this code does not define; True if it held the mark.
GiveBack = Callable[[TickMessage], bool]


class MalformedTickError(LookoutError):
    """A tick message (or one tick in it) does not have the shape of a ``TickMessage``."""


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one message's ticks."""

    committed: int = 0
    failed: int = 0  # of the committed, FAILURE ticks: the sensor raised (Flower shows it)
    already_done: int = 0  # committed before, or superseded: a redelivery
    dead_lettered: int = 0
    given_back: int = 0  # not evaluated: too late to finish under the mark
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
        self,
        definitions: Definitions,
        evaluate: EvaluateBatch,
        dead_letter: DeadLetterSink,
        give_back: GiveBack,
    ) -> None:
        self.definitions = definitions
        self.evaluate = evaluate
        self.dead_letter = dead_letter
        self.give_back = give_back
        self.known = frozenset(s.name for s in definitions.sensors)

    def handle(
        self, args: Sequence[Any], kwargs: Mapping[str, Any], ref: str | None
    ) -> BatchOutcome:
        try:
            items = parse_batch(args, kwargs)
        except MalformedTickError as exc:
            self._bury(str(exc), {"args": list(args), "kwargs": dict(kwargs)}, ref)
            return BatchOutcome(dead_lettered=1)
        ticks: list[TickMessage] = []
        unknown: list[TickMessage] = []
        seen: set[tuple[str, str]] = set()
        dead = 0
        for i, item in enumerate(items):
            try:
                tick = parse_tick(item)
            except MalformedTickError as exc:
                self._bury(str(exc), item, f"{ref}#{i}")
                dead += 1
                continue
            if (tick.sensor, tick.tick_id) not in seen:
                seen.add((tick.sensor, tick.tick_id))
                (ticks if tick.sensor in self.known else unknown).append(tick)
        results = self.evaluate(ticks) if ticks else []
        records = [r for r in results if isinstance(r, TickRecord)]
        failed = sum(r.status == TickStatus.FAILURE.value for r in records)
        given_back = sum(isinstance(r, NotEvaluated) for r in results)
        already_done = len(results) - len(records) - given_back
        return BatchOutcome(
            len(records), failed, already_done, dead, given_back, self._unknown(unknown, ref)
        )

    def _unknown(self, ticks: Sequence[TickMessage], ref: str | None) -> int:
        """Give back the ticks of sensors this code does not define; how many held their mark."""
        released = [t for t in ticks if self.give_back(t)]
        if released:
            log.warning(
                "message %s: %d ticks of sensors this code location does not define "
                "(a rolling deploy?) were given back, to be ticked again later: %s",
                ref,
                len(released),
                ", ".join(sorted({t.sensor for t in released})[:10]),
            )
        return len(released)

    def _bury(self, reason: str, item: Any, ref: str | None) -> None:
        log.error("dead-lettered a tick (%s): %s", ref, reason)
        self.dead_letter(reason, payload_bytes(item), ref)
