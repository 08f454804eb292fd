"""The Prometheus collector: reads Redis when scraped, never in the background.

Gauges come from one ``read_figures`` call; the counters (ticks, run requests,
run status moves) from the counters hash the commits keep in Redis, so every
monitor replica reports the same totals and a restarted monitor resets none;
the tick histograms from the ``TickTracker``'s incremental read of the tick
histories.  Scrapes are serialised by a lock, so two scrapers at once cannot
count a tick twice in the histograms.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence

import redis
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from lookout._core.settings import Settings
from lookout._core.storage import Counters, MetricsView, ProcessStore
from lookout._core.storage.runs import RUN_STATUSES
from lookout._tools.monitor.figures import Figures, read_figures, roles
from lookout._tools.monitor.ticks import TickTracker

log = logging.getLogger(__name__)


class LookoutCollector(Collector):
    """Every ``lookout_*`` metric, read from Redis at scrape time."""

    def __init__(
        self,
        metrics: MetricsView,
        processes: ProcessStore,
        settings: Settings,
        tracker: TickTracker | None = None,
        sensors: Sequence[str] = (),
    ) -> None:
        self.metrics = metrics
        self.processes = processes
        self.settings = settings
        # The code location's sensors: counted even before a scheduler synced them.
        self.sensors = tuple(sensors)
        self.tracker = tracker or TickTracker()
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("lookout_redis_up", "1 when Redis answered this scrape, else 0.")
        with self._lock:
            try:
                figures = read_figures(self.metrics, self.processes, self.settings)
                self.tracker.update(self.metrics, self.sensors)
                counters = self.metrics.counters()
            except redis.RedisError as exc:
                log.warning("scrape: Redis did not answer: %s", exc)
                up.add_metric([], 0)
                yield up
                return
            up.add_metric([], 1)
            yield up
            yield from queue_metrics(figures)
            yield from state_metrics(figures)
            yield from tick_metrics(self.tracker)
            yield from counter_metrics(counters, self.sensors)


def queue_metrics(figures: Figures) -> Iterator[Metric]:
    waiting = GaugeMetricFamily(
        "lookout_queue_messages",
        "Messages waiting in a queue: Celery's ticks and runs queues, the launch stream "
        "(entries no launcher has read) and the dead-letter stream.",
        labels=["queue"],
    )
    unacked = GaugeMetricFamily(
        "lookout_queue_unacked_messages",
        "Messages handed to a consumer and not yet acknowledged.",
        labels=["queue"],
    )
    for q in figures.queues:
        waiting.add_metric([q.name], q.waiting)
        unacked.add_metric([q.name], q.unacked)
    yield waiting
    yield unacked
    yield GaugeMetricFamily(
        "lookout_launch_stream_entries",
        "Entries in the launch stream, acknowledged ones included.",
        value=figures.launch.length,
    )
    yield GaugeMetricFamily(
        "lookout_launch_oldest_pending_age_seconds",
        "Age of the oldest launch stream entry not yet acknowledged by a launcher (0: none).",
        value=figures.launch.oldest_age or 0.0,
    )


DEFERRED_DOC = "Due ticks deferred: too many run requests waited on the launch stream."
LAPSED_DOC = (
    "Published ticks no worker began before their leases lapsed (they waited in the tick "
    "queue, or their message was lost): given back, due again, no tick record."
)


def state_metrics(figures: Figures) -> Iterator[Metric]:
    sensors = figures.sensors
    for name, value, doc in (
        ("lookout_sensors_known", sensors.known, "Sensors ever synced to Redis."),
        ("lookout_sensors_scheduled", sensors.scheduled, "RUNNING sensors waiting for a tick."),
        ("lookout_sensors_overdue", sensors.overdue, "Sensors due now and not yet published."),
        ("lookout_sensors_in_flight", sensors.in_flight, "Sensors with a tick queued or running."),
    ):
        yield GaugeMetricFamily(name, doc, value=value)
    yield CounterMetricFamily("lookout_ticks_deferred", DEFERRED_DOC, value=sensors.deferred)
    runs = GaugeMetricFamily("lookout_runs", "Runs by status.", labels=["status"])
    for status, count in figures.runs.items():
        runs.add_metric([status], count)
    yield runs
    yield GaugeMetricFamily(
        "lookout_launch_paused",
        "1 while launchers read no launch request because the QUEUED runs are at "
        "LOOKOUT_RUN_QUEUE_LIMIT (back-pressure: requests wait on the launch stream).",
        value=1 if figures.launch_paused else 0,
    )
    yield GaugeMetricFamily(
        "lookout_ticks_held_back",
        "1 while the tick queue holds its bound's messages (LOOKOUT_TICK_QUEUE_LIMIT per "
        "worker process): the workers are behind and the scheduler claims no tick "
        "(back-pressure: due sensors wait and tick late).",
        value=1 if figures.ticks_held_back else 0,
    )
    yield GaugeMetricFamily(
        "lookout_tick_queue_bound",
        "The tick queue's bound in messages: LOOKOUT_TICK_QUEUE_LIMIT per worker process "
        "evaluating ticks (0: no bound).",
        value=figures.tick_queue_bound,
    )
    yield CounterMetricFamily("lookout_ticks_lapsed", LAPSED_DOC, value=sensors.lapsed)
    yield GaugeMetricFamily(
        "lookout_run_queue_limit",
        "LOOKOUT_RUN_QUEUE_LIMIT: the QUEUED runs at which launchers pause (0: no bound).",
        value=figures.run_queue_limit,
    )
    live = GaugeMetricFamily(
        "lookout_processes", "Processes with a live heartbeat, by role.", labels=["role"]
    )
    for role in roles(figures.processes):
        live.add_metric([role], figures.live(role))
    yield live
    current = figures.leader
    # One stable series (no process label to churn at each failover); which
    # process leads is in the _info metric's labels, as Prometheus' info idiom.
    yield GaugeMetricFamily(
        "lookout_scheduler_leader",
        "1 when a scheduler holds the leader lock, 0 when none does.",
        value=0 if current is None else 1,
    )
    leader = GaugeMetricFamily(
        "lookout_scheduler_leader_info",
        "1 for the scheduler that holds the leader lock (none: no series).",
        labels=["process", "host", "pid"],
    )
    if current is not None:
        leader.add_metric([current.id, current.host, str(current.pid)], 1)
    yield leader
    yield GaugeMetricFamily(
        "lookout_scheduler_leaders",
        "Schedulers that say they lead: 1 when healthy.",
        value=sum(1 for p in figures.processes if p.role == "scheduler" and p.leader),
    )


def tick_metrics(tracker: TickTracker) -> Iterator[Metric]:
    lateness = HistogramMetricFamily(
        "lookout_tick_lateness_seconds",
        "How late ticks started: evaluation start minus due time.",
    )
    lateness.add_metric([], tracker.lateness.cumulative(), tracker.lateness.total)
    yield lateness
    duration = HistogramMetricFamily(
        "lookout_sensor_evaluation_duration_seconds",
        "How long a sensor's evaluation took, per sensor.",
        labels=["sensor"],
    )
    for sensor, histogram in sorted(tracker.durations.items()):
        duration.add_metric([sensor], histogram.cumulative(), histogram.total)
    yield duration


def counter_metrics(counters: Counters, sensors: Sequence[str]) -> Iterator[Metric]:
    """The counters hash, Redis' own totals; the location's sensors count from 0."""
    ticks = CounterMetricFamily(
        "lookout_ticks", "Committed ticks by sensor and status.", labels=["sensor", "status"]
    )
    for (sensor, status), count in sorted(counters.ticks.items()):
        ticks.add_metric([sensor, status], count)
    yield ticks
    requests = CounterMetricFamily(
        "lookout_run_requests", "Run requests sensors returned.", labels=["sensor"]
    )
    dropped = CounterMetricFamily(
        "lookout_run_requests_dropped",
        "Run requests dropped because their run key was already used.",
        labels=["sensor"],
    )
    for sensor in sorted({*counters.requests, *sensors}):
        requests.add_metric([sensor], counters.requests.get(sensor, 0))
        dropped.add_metric([sensor], counters.dropped.get(sensor, 0))
    yield requests
    yield dropped
    moves = CounterMetricFamily(
        "lookout_run_status_changes",
        "Runs that reached each status (a run counts once per status it reaches).",
        labels=["status"],
    )
    for status in RUN_STATUSES:
        moves.add_metric([status], counters.runs.get(status, 0))
    yield moves
    yield CounterMetricFamily(
        "lookout_runs_launched", "Runs the launchers created.", value=counters.created
    )
