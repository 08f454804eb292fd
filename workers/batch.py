"""Evaluating the ticks of one message in turn, each only while its in-flight mark surely holds.

A message carries many ticks and a worker process evaluates them one after
another, so the last may start long after it was claimed.  A tick's
in-flight mark lapses at the deadline its claim set (claim time + timeout +
margin); an evaluation that starts at least ``tick_timeout`` before that
deadline ends (it is cut at the timeout) before the mark can lapse and the
scheduler tick the sensor again.  A tick taken up later is not evaluated,
which would risk two evaluations of one sensor at once (invariant 1): it
commits a FAILURE saying so and the sensor is due again at once.

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


def late_error(left: float, timeout: float) -> str:
    return (
        f"tick not evaluated: it reached a worker {left:.1f} s before its in-flight mark "
        f"lapses, less than the {timeout:g} s an evaluation may take, so a second tick could "
        "have overlapped it; the sensor is due again at once (add worker processes, or check "
        "the clocks of the scheduler's and the workers' hosts)"
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
        names = [t.sensor for t in ticks]
        states, deadlines = self.runner.storage.states_and_deadlines(names)
        results: list[TickRecord | None] = [None] * len(ticks)
        pending: list[tuple[int, TickCommit]] = []
        oldest = 0.0
        for i, (tick, sensor, state, deadline) in enumerate(
            zip(ticks, sensors, states, deadlines, strict=True)
        ):
            if state.inflight != tick.tick_id or deadline is None:
                continue  # committed already, or superseded: nothing more to do
            if not pending:
                oldest = self.clock()
            pending.append((i, self._evaluate(tick, sensor, state, deadline)))
            if self.clock() - oldest >= self.flush_every:
                self._flush(pending, results)
        self._flush(pending, results)
        return results

    def _evaluate(
        self,
        tick: TickMessage,
        sensor: SensorDefinition[Any, Any],
        state: SensorState,
        deadline: float,
    ) -> TickCommit:
        started = self.clock()
        left = deadline - started
        if left < self.settings.tick_timeout:
            return self._late(tick, state, started, left)
        return self.runner.evaluate(sensor, state, tick_id=tick.tick_id, due_at=tick.due_at)

    def _late(
        self, tick: TickMessage, state: SensorState, started: float, left: float
    ) -> TickCommit:
        record = TickRecord(
            tick_id=tick.tick_id,
            sensor=tick.sensor,
            status=TickStatus.FAILURE.value,
            started_at=started,
            ended_at=started,
            due_at=tick.due_at,
            error=late_error(left, self.settings.tick_timeout),
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
