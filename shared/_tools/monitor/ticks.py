"""Tick statistics, read from the sensors' tick histories a little at a time.

The commit script writes every tick into its sensor's history list; the
monitor keeps, per sensor, the id of the newest tick it has counted (its
high-water mark) and at each scrape reads only the entries above it.  A
sensor whose newest entry did not change costs one HGET in a pipeline and no
decoding.  The histograms therefore cover the ticks this monitor has seen
since it started (Prometheus' ``rate()`` handles the reset of a restart); the
tick counters come from Redis' counters hash instead (``collector``).  A run of
like SKIPPED ticks is one entry that grows (``count``): each tick it gained
since the last scrape is counted with the times of its latest, the only ones
kept.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from lookout._base.errors import CodecError
from lookout._base.wire import TickRecord
from lookout._core.storage import MetricsView, decode_entry

log = logging.getLogger(__name__)

# Seconds: a healthy tick starts within milliseconds of its due time; the
# long tail shows a scheduler or the workers falling behind.
LATENESS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0)
# Sensors read per pipeline, so that one round trip stays a bounded size.
CHUNK = 500


class Histogram:
    """Cumulative bucket counts and a sum, as Prometheus exports a histogram."""

    def __init__(self, buckets: Sequence[float]) -> None:
        self.bounds = tuple(buckets)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one: above every bound
        self.total = 0.0

    def observe(self, value: float, times: int = 1) -> None:
        # Bucket "le" is inclusive: the first bound >= value.
        self.counts[bisect.bisect_left(self.bounds, value)] += times
        self.total += value * times

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, count)`` pairs, ending with ``+Inf``."""
        running = 0
        pairs = []
        for bound, n in zip((*map(repr, self.bounds), "+Inf"), self.counts, strict=True):
            running += n
            pairs.append((bound, float(running)))
        return pairs


@dataclass
class _Mark:
    last_raw: bytes  # the sensor's ``last`` entry when we last read its history
    tick_id: str  # the newest tick counted
    series_id: str = ""  # its record's first tick (a run of skips keeps it while it grows)
    count: int = 0  # how many ticks its record stood for


class TickTracker:
    """Histograms of the ticks committed since the monitor started."""

    def __init__(self, max_per_sensor: int = 200) -> None:
        # At most this many new entries are read per sensor per scrape; a
        # sensor that ticked more often between two scrapes is undercounted.
        self.max_per_sensor = max_per_sensor
        self.lateness = Histogram(LATENESS_BUCKETS)
        self.durations: dict[str, Histogram] = {}
        self._marks: dict[str, _Mark] = {}

    def update(self, metrics: MetricsView, also: Iterable[str] = ()) -> int:
        """Read and count every tick committed since the last update; returns how many.

        The sensors are those synced to Redis plus ``also`` (the code location's).
        """
        names = sorted(set(metrics.sensor_names()).union(also))
        counted = 0
        for start in range(0, len(names), CHUNK):
            counted += self._update_chunk(metrics, names[start : start + CHUNK])
        return counted

    def _update_chunk(self, metrics: MetricsView, names: Sequence[str]) -> int:
        lasts = metrics.last_tick_entries(names)
        changed = [
            (name, raw)
            for name, raw in zip(names, lasts, strict=True)
            if raw is not None and (name not in self._marks or self._marks[name].last_raw != raw)
        ]
        if not changed:
            return 0
        histories = metrics.tick_entries([n for n, _ in changed], self.max_per_sensor)
        counted = 0
        for (name, raw), entries in zip(changed, histories, strict=True):
            mark = self._marks.get(name)
            fresh = self._above_mark(name, entries)
            for record in reversed(fresh):  # oldest first
                new = record.count
                if mark is not None and record.series_id == mark.series_id:
                    new -= mark.count  # a run of skips that grew: those counted before
                self.observe(record, max(new, 0))
                counted += max(new, 0)
            if fresh:
                newest = fresh[0]
                self._marks[name] = _Mark(raw, newest.tick_id, newest.series_id, newest.count)
            elif mark is not None:
                self._marks[name] = replace(mark, last_raw=raw)
            else:
                self._marks[name] = _Mark(raw, "")
        return counted

    def _above_mark(self, name: str, entries: Iterable[bytes]) -> list[TickRecord]:
        mark = self._marks.get(name)
        fresh: list[TickRecord] = []
        for entry in entries:
            try:
                record = decode_entry(entry, name)
            except CodecError as exc:
                log.warning("unreadable tick history entry of sensor %r: %s", name, exc)
                continue
            if mark is not None and record.tick_id == mark.tick_id:
                break
            fresh.append(record)
            if mark is not None and record.series_id == mark.series_id:
                # The run of skips counted last time grew: its latest tick is
                # new, the ones before it were counted (or are not kept).
                break
        return fresh

    def observe(self, record: TickRecord, times: int = 1) -> None:
        """Count a committed tick ``times`` times (a run of like skips: its latest, per tick)."""
        if record.due_at is not None:
            self.lateness.observe(max(0.0, record.started_at - record.due_at), times)
        if record.duration is not None:
            histogram = self.durations.setdefault(record.sensor, Histogram(DURATION_BUCKETS))
            histogram.observe(max(0.0, record.duration), times)
