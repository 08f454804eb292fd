"""Reading what the system did from its tick records: counts and lateness in a time window.

With the two statistics the benchmark takes: a percentile, and the median of repeated runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from lookout._core.storage import MetricsView, decode_entry

# A run of a repeated measurement: a phase, or a raw Celery run's or a burst's figures.
_R = TypeVar("_R")


@dataclass(frozen=True)
class TickTimes:
    """The times of one committed tick, as its history entry holds them."""

    started_at: float
    ended_at: float
    due_at: float | None
    status: str


def _times(entry: bytes) -> TickTimes:
    # The phases' sensors skip with a new reason each tick: no entry stands
    # for more than one tick (a run of like skips would keep only its latest).
    record = decode_entry(entry)
    return TickTimes(
        started_at=record.started_at,
        ended_at=record.started_at if record.ended_at is None else record.ended_at,
        due_at=record.due_at,
        status=record.status,
    )


def tick_times(
    metrics: MetricsView, names: Sequence[str], history: int, chunk: int = 2000
) -> list[TickTimes]:
    """Every recorded tick of ``names`` (up to the history kept per sensor)."""
    found: list[TickTimes] = []
    for start in range(0, len(names), chunk):
        for entries in metrics.tick_entries(names[start : start + chunk], history):
            found.extend(_times(e) for e in entries)
    return found


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by the nearest-rank method; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median_run(runs: Sequence[_R], rate: Callable[[_R], float]) -> _R:
    """The run whose ``rate`` is the median (the lower middle of an even count)."""
    ranked = sorted(runs, key=rate)
    return ranked[(len(ranked) - 1) // 2]


@dataclass(frozen=True)
class Window:
    """What committed in ``[start, end)``: tick count, failures and lateness (ms)."""

    start: float
    end: float
    committed: int
    failures: int
    lateness_ms: dict[str, float]

    @property
    def ticks_per_s(self) -> float:
        return self.committed / (self.end - self.start)

    @classmethod
    def of(cls, ticks: Sequence[TickTimes], start: float, end: float) -> Window:
        done = [t for t in ticks if start <= t.ended_at < end]
        late = [
            1e3 * (t.started_at - t.due_at)
            for t in ticks
            if start <= t.started_at < end and t.due_at is not None
        ]
        return cls(
            start=start,
            end=end,
            committed=len(done),
            failures=sum(t.status == "FAILURE" for t in done),
            lateness_ms={
                "p50": percentile(late, 50),
                "p99": percentile(late, 99),
                "max": max(late, default=math.nan),
            },
        )


def published_in(ticks: Sequence[TickTimes], start: float, end: float) -> int:
    """Ticks that came due in ``[start, end)``: what a keeping-up scheduler published then."""
    return sum(1 for t in ticks if t.due_at is not None and start <= t.due_at < end)
