"""The tick timeline: where each tick's marks go in the sensor page's SVG chart.

Ticks stand on a time axis by their start.  Above the axis a bar per tick,
as tall as the evaluation took; below it, as deep as the tick was late; both
coloured by status.  The geometry is computed here and drawn by the template,
so the chart needs no script and no outside resource.  The SVG stretches to
the page's width (its labels are HTML around it, so they stay readable from
a phone to a wide screen).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from lookout._base.wire import TickRecord
from lookout._tools.monitor.state import lateness

WIDTH = 1000.0  # viewBox units; stretched to the page's width
TOP = 4.0
LANE = 100.0  # height of the duration lane
GAP = 6.0  # between the lanes
LATE_LANE = 40.0
HEIGHT = TOP + LANE + GAP + LATE_LANE
MIN_BAR = 3.0  # every tick visible, however quick


@dataclass(frozen=True)
class Mark:
    """One tick drawn: its bar above the axis, its lateness below, a link to its detail."""

    tick: TickRecord
    x: float
    width: float
    bar_y: float
    bar_height: float
    late_height: float
    title: str


@dataclass(frozen=True)
class Timeline:
    marks: list[Mark]
    width: float
    height: float
    axis_y: float
    late_y: float
    duration_max: float  # seconds at the top of the duration lane
    lateness_max: float  # seconds at the bottom of the lateness lane
    start: float
    end: float

    @property
    def start_label(self) -> str:
        return _clock(self.start)

    @property
    def end_label(self) -> str:
        return _clock(self.end)


def _clock(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).strftime("%H:%M:%S")


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten at or above ``value`` (scale tops)."""
    if value <= 0:
        return 0.001
    step = 0.001
    while True:
        for factor in (1.0, 2.0, 5.0):
            if step * factor >= value:
                return step * factor
        step *= 10


def short(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.1f} s" if seconds < 60 else f"{seconds / 60:.1f} min"


def build(ticks: Sequence[TickRecord], now: float) -> Timeline | None:
    """The chart of ``ticks`` (any order); ``None`` when there is nothing to draw."""
    if not ticks:
        return None
    ordered = sorted(ticks, key=lambda t: t.started_at)
    start = ordered[0].started_at
    end = max(now if any(t.ended_at is None for t in ordered) else 0.0, ordered[-1].started_at)
    span = max(end - start, 1e-3)
    width = max(3.0, min(24.0, WIDTH / len(ordered) * 0.7))
    durations = [_took(t, now) for t in ordered]
    lates = [lateness(t) or 0.0 for t in ordered]
    duration_max = nice_ceiling(max(durations))
    lateness_max = nice_ceiling(max(lates)) if max(lates) > 0 else 0.0
    axis_y = TOP + LANE
    marks = []
    for tick, took, late in zip(ordered, durations, lates, strict=True):
        x = (tick.started_at - start) / span * (WIDTH - width) if len(ordered) > 1 else 0.0
        height = max(MIN_BAR, took / duration_max * LANE)
        late_height = late / lateness_max * LATE_LANE if lateness_max else 0.0
        marks.append(
            Mark(
                tick=tick,
                x=round(x, 1),
                width=round(width, 1),
                bar_y=round(axis_y - height, 1),
                bar_height=round(height, 1),
                late_height=round(late_height, 1),
                title=f"{_clock(tick.started_at)} {tick.status}, took {short(took)}, "
                f"late {short(late)}",
            )
        )
    return Timeline(
        marks=marks,
        width=WIDTH,
        height=HEIGHT,
        axis_y=axis_y,
        late_y=axis_y + GAP,
        duration_max=duration_max,
        lateness_max=lateness_max,
        start=start,
        end=end,
    )


def _took(tick: TickRecord, now: float) -> float:
    """How long the tick took, or has taken so far if it is still running."""
    return max(0.0, (tick.ended_at if tick.ended_at is not None else now) - tick.started_at)
