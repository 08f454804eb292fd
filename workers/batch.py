"""Evaluating the ticks of one message in turn, each only while its in-flight mark surely holds.

A message carries many ticks and a worker process evaluates them one after
another, so the last may start long after it was claimed.  A tick's
in-flight mark lapses ``inflight_ttl`` (timeout + margin) after its claim,
and the claim is never earlier than the tick's ``due_at``; an evaluation
that starts within ``inflight_margin`` of ``due_at`` therefore ends (it is cut
at the timeout) before the mark can lapse and the scheduler tick the sensor
again.  A tick taken up later than that is not evaluated, which would risk
two evaluations of one sensor at once (invariant 1): it commits a FAILURE
saying so and the sensor is due again at once.

States are read in one round trip; commits are pipelined, flushed as soon
as the oldest waiting one is ``flush_every`` old, so a slow sensor does not
hold back the commits (and next due times) of the fast ones before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from shared._sensors import SensorDefinition
from shared._settings import Settings
from shared._storage import SensorState, TickCommit
from shared._tick import TickRunner
from shared._wire import TickMessage, TickRecord, TickStatus


def late_error(late: float, margin: float) -> str:
    return (
        f"tick not evaluated: it reached a worker {late:.1f} s after it was due, past the "
        f"in-flight margin ({margin:g} s) within which its evaluation would surely end before "
        "its in-flight mark lapses; the sensor is due again at once (add worker processes, or "
        "check the clocks of the scheduler's and the workers' hosts)"
    )


class BatchEvaluator:
    """Evaluates and commits the ticks of one message with a ``TickRunner``."""

    def __init__(
        self,
        runner: TickRunner,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        flush_every: float = 0.1,
    ) -> None:
        self.runner = runner
        self.settings = settings
        self.clock = clock
        self.flush_every = flush_every

    def run(self, ticks: Sequence[TickMessage]) -> list[TickRecord | None]:
        """One result per tick: its committed record, or ``None`` (done before, or superseded)."""
        sensors = [self.runner.definitions.get_sensor(t.sensor) for t in ticks]
        states = self.runner.storage.sensor_states([t.sensor for t in ticks])
        results: list[TickRecord | None] = [None] * len(ticks)
        pending: list[tuple[int, TickCommit]] = []
        oldest = 0.0
        for i, (tick, sensor, state) in enumerate(zip(ticks, sensors, states, strict=True)):
            if state.inflight != tick.tick_id:
                continue  # committed already, or superseded: nothing more to do
            if not pending:
                oldest = self.clock()
            pending.append((i, self._evaluate(tick, sensor, state)))
            if self.clock() - oldest >= self.flush_every:
                self._flush(pending, results)
        self._flush(pending, results)
        return results

    def _evaluate(
        self, tick: TickMessage, sensor: SensorDefinition[Any, Any], state: SensorState
    ) -> TickCommit:
        started = self.clock()
        late = started - tick.due_at
        if late > self.settings.inflight_margin:
            return self._late(tick, state, started, late)
        return self.runner.evaluate(sensor, state, tick_id=tick.tick_id, due_at=tick.due_at)

    def _late(
        self, tick: TickMessage, state: SensorState, started: float, late: float
    ) -> TickCommit:
        record = TickRecord(
            tick_id=tick.tick_id,
            sensor=tick.sensor,
            status=TickStatus.FAILURE.value,
            started_at=started,
            ended_at=started,
            due_at=tick.due_at,
            error=late_error(late, self.settings.inflight_margin),
            cursor_before=state.cursor,
            cursor_after=state.cursor,
            worker=self.runner.worker,
        )
        return TickCommit(record, [], False, None, started)

    def _flush(
        self, pending: list[tuple[int, TickCommit]], results: list[TickRecord | None]
    ) -> None:
        if not pending:
            return
        records = self.runner.storage.commit_many([c for _, c in pending])
        for (i, _), record in zip(pending, records, strict=True):
            results[i] = record
        pending.clear()
