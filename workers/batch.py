"""Evaluating the ticks of one message in turn, each only while its in-flight mark surely holds.

A message carries many ticks and a worker process evaluates them one after
another, so the last may start long after it was claimed.  A tick's
in-flight mark lapses at the deadline its claim set (claim time + timeout +
margin); an evaluation that starts at least ``tick_timeout`` before that
deadline ends (it is cut at the timeout) before the mark can lapse and the
scheduler tick the sensor again.  A tick taken up later is not evaluated,
which would risk two evaluations of one sensor at once (invariant 1): it is
given back (its mark dropped, no tick record: the sensor did not fail, a
neighbour was slow) and the sensor is due again at once.

States are read in one round trip; commits are pipelined.  What is pending
is flushed as soon as the oldest is ``flush_every`` old, and before an
evaluation that may be slow (the sensor's last tick took ``flush_every`` or
more), so a slow sensor does not hold back the commits (and next due times)
of the fast ones before it; and always before an evaluation that, running
its full timeout, could keep a pending commit waiting past its in-flight
deadline (where the commit would be refused and the tick count as lost).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lookout._base.codec import CodecError, decode_first
from lookout._base.wire import TickMessage
from lookout._core.settings import Settings
from lookout._core.storage import SensorState, TickCommit
from lookout._process.tick import TickRunner
from lookout.workers.identity import known_dead, this_process
from lookout.workers.ticks import NotEvaluated, TickResult

log = logging.getLogger(__name__)

# An evaluation runs at most ``tick_timeout`` and is cut a little after; a
# pending commit is flushed first unless its deadline is this much further.
DEADLINE_SLACK = 1.0


def last_duration(entry: bytes | None) -> float | None:
    """How long a sensor's last tick took, read from its history entry (``None``: unknown).

    Reads the record's two times without building a ``TickRecord``: this
    runs for most ticks of a message.
    """
    if not entry:
        return None
    try:
        record = decode_first(entry)
        return float(record["ended_at"]) - float(record["started_at"])
    except (CodecError, TypeError, KeyError, ValueError):
        return None


@dataclass
class _Pending:
    """Commits evaluated and not yet sent: each with its slot in the results."""

    commits: list[tuple[int, TickCommit]] = field(default_factory=list)
    since: float = 0.0  # when the oldest was evaluated
    deadline: float = math.inf  # the earliest in-flight deadline among them

    def add(self, slot: int, commit: TickCommit, deadline: float, now: float) -> None:
        if not self.commits:
            self.since, self.deadline = now, deadline
        self.commits.append((slot, commit))
        self.deadline = min(self.deadline, deadline)


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

    def run(self, ticks: Sequence[TickMessage]) -> list[TickResult]:
        """One result per tick: its committed record, or what became of it instead.

        ``None``: committed before, or superseded; ``NotEvaluated.GIVEN_BACK``:
        taken up too late to evaluate, and due again at once.
        """
        sensors = [self.runner.instigator(t.sensor) for t in ticks]
        names = [t.sensor for t in ticks]
        states, deadlines = self.runner.ticks.states_and_deadlines(names)
        mine = self._begin(
            [
                t
                for t, s, d in zip(ticks, states, deadlines, strict=True)
                if s.inflight == t.tick_id and d is not None
            ]
        )
        results: list[TickResult] = [None] * len(ticks)
        pending = _Pending()
        late: list[tuple[str, float]] = []
        for i, (tick, sensor, state, deadline) in enumerate(
            zip(ticks, sensors, states, deadlines, strict=True)
        ):
            if tick.tick_id not in mine or deadline is None:
                continue  # committed, superseded, or being evaluated elsewhere
            now = self.clock()
            if deadline - now < self.settings.tick_timeout:
                results[i] = self._give_back(tick, now)
                late.append((tick.sensor, deadline - now))
                continue
            if pending.commits and self._flush_first(pending, state, now):
                self._flush(pending, results)
            commit = self.runner.evaluate(sensor, state, tick_id=tick.tick_id, due_at=tick.due_at)
            pending.add(i, commit, deadline, now)
            if self.clock() - pending.since >= self.flush_every:
                self._flush(pending, results)
        self._flush(pending, results)
        if late:
            self._log_late(late)
        return results

    def _begin(self, ticks: Sequence[TickMessage]) -> set[str]:
        """The tick ids this process may evaluate: no other live process has begun them.

        A second delivery of a tick (a publish resent after a lost reply) finds
        the first evaluator and leaves the tick to it; a holder that was a
        process of this host and is gone (killed mid-tick) is taken over.
        """
        ledger = self.runner.ticks
        # Asked per message, not kept: this object may be built before the pool forks.
        me = this_process()
        pairs = [(t.sensor, t.tick_id) for t in ticks]
        answers = ledger.begin_evaluations(pairs, me)
        mine = {t.tick_id for t, a in zip(ticks, answers, strict=True) if a == ""}
        dead = {
            t.sensor: a
            for t, a in zip(ticks, answers, strict=True)
            if a not in ("", "-") and known_dead(a)
        }
        if dead:
            retry = [(t.sensor, t.tick_id) for t in ticks if t.sensor in dead]
            again = ledger.begin_evaluations(retry, me, dead)
            mine |= {tick_id for (_, tick_id), a in zip(retry, again, strict=True) if a == ""}
        busy = [
            t.sensor
            for t, a in zip(ticks, answers, strict=True)
            if a not in ("", "-") and t.tick_id not in mine
        ]
        if busy:
            log.info(
                "ticks of %s already being evaluated by another process: "
                "a duplicate delivery, left alone",
                ", ".join(busy[:10]),
            )
        return mine

    def _flush_first(self, pending: _Pending, state: SensorState, now: float) -> bool:
        """Whether to send what is pending before evaluating the sensor of ``state``."""
        if pending.deadline - now < self.settings.tick_timeout + DEADLINE_SLACK:
            return True  # the evaluation could keep a commit waiting past its deadline
        took = last_duration(state.last_entry)
        return took is not None and took >= self.flush_every

    def _give_back(self, tick: TickMessage, now: float) -> TickResult:
        if self.runner.ticks.give_back(tick.sensor, tick.tick_id, now):
            return NotEvaluated.GIVEN_BACK
        return None  # the mark moved on meanwhile: nothing of ours to give back

    def _log_late(self, late: Sequence[tuple[str, float]]) -> None:
        log.warning(
            "%d ticks not evaluated: they reached this worker less than the %g s an "
            "evaluation may take before their in-flight marks lapse, so a second tick "
            "could have overlapped them; given back, due again at once (add worker "
            "processes, or check the hosts' clocks): %s",
            len(late),
            self.settings.tick_timeout,
            ", ".join(f"{name} ({left:.1f} s left)" for name, left in late[:10]),
        )

    def _flush(self, pending: _Pending, results: list[TickResult]) -> None:
        if not pending.commits:
            return
        records = self.runner.ticks.commit_many([c for _, c in pending.commits])
        for (i, _), record in zip(pending.commits, records, strict=True):
            results[i] = record
        pending.commits.clear()
