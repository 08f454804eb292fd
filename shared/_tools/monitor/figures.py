"""The deployment's figures at one moment: queues, sensors, runs, processes.

One read of Redis (a handful of round trips, each bounded) feeds the
Prometheus collector, ``lookout queues`` and the status page alike, so the
three always show the same numbers.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from lookout._core.settings import Settings
from lookout._core.storage import (
    MetricsView,
    ProcessInfo,
    ProcessStore,
    SensorCounts,
    StreamBacklog,
    tick_processes,
)

# The label the dead-letter stream and the launch stream get among the queues.
LAUNCH_QUEUE = "launch"
DEAD_LETTER_QUEUE = "deadletter"


@dataclass(frozen=True)
class QueueFigure:
    """One queue: messages waiting, messages handed out but not acknowledged."""

    name: str
    kind: str  # "celery" (a kombu list) or "stream" (a Redis stream)
    waiting: int
    unacked: int
    oldest_age: float | None = None  # seconds; streams only


@dataclass(frozen=True)
class Figures:
    """Everything ``lookout queues`` prints and the monitor exports, read at ``at``."""

    at: float
    queues: list[QueueFigure]
    launch: StreamBacklog
    sensors: SensorCounts
    runs: dict[str, int]
    runs_total: int
    processes: list[ProcessInfo]
    # LOOKOUT_RUN_QUEUE_LIMIT: launchers read no request while this many runs
    # are QUEUED (0: no bound).
    run_queue_limit: int = 0
    # The tick queue's bound in messages: LOOKOUT_TICK_QUEUE_LIMIT per worker
    # process evaluating ticks (0: no bound); the tick queue's own name.
    tick_queue_bound: int = 0
    tick_queue: str = "ticks"

    @property
    def launch_paused(self) -> bool:
        """Back-pressure: the QUEUED runs are at the bound, so launchers read no request."""
        limit = self.run_queue_limit
        return limit > 0 and self.runs.get("QUEUED", 0) >= limit

    @property
    def ticks_held_back(self) -> bool:
        """Back-pressure: the tick queue is at its bound, so the leader claims no tick."""
        bound = self.tick_queue_bound
        return bound > 0 and self.queue(self.tick_queue).waiting >= bound

    @property
    def leader(self) -> ProcessInfo | None:
        return next((p for p in self.processes if p.role == "scheduler" and p.leader), None)

    def live(self, role: str) -> int:
        return sum(1 for p in self.processes if p.role == role)

    def queue(self, name: str) -> QueueFigure:
        return next(q for q in self.queues if q.name == name)

    def to_json(self) -> dict[str, Any]:
        """A plain structure for ``--json`` and the status page's API."""
        leader = self.leader
        return {
            "at": self.at,
            "queues": [asdict(q) for q in self.queues],
            "launch": asdict(self.launch),
            "sensors": asdict(self.sensors),
            "runs": dict(self.runs),
            "runs_total": self.runs_total,
            "run_queue_limit": self.run_queue_limit,
            "launch_paused": self.launch_paused,
            "tick_queue_bound": self.tick_queue_bound,
            "ticks_held_back": self.ticks_held_back,
            "live": {role: self.live(role) for role in roles(self.processes)},
            "leader": None if leader is None else leader.id,
            "processes": [asdict(p) for p in self.processes],
        }


def roles(processes: list[ProcessInfo]) -> list[str]:
    """The roles to report: the four lookout runs, plus any other that sent a heartbeat."""
    known = ["scheduler", "worker", "launcher", "monitor"]
    return known + sorted({p.role for p in processes} - set(known))


def read_figures(
    metrics: MetricsView, processes: ProcessStore, settings: Settings, now: float | None = None
) -> Figures:
    """Read every figure from Redis (bounded queries only; nothing is written but
    the heartbeat index's own cleanup of expired processes)."""
    now = time.time() if now is None else now
    heartbeats = processes.heartbeats()
    celery_queues = [settings.tick_queue, settings.run_queue]
    waiting = metrics.celery_queue_lengths(celery_queues)
    unacked = metrics.celery_unacked()
    launch = metrics.launch_backlog(settings.launch_group, now)
    queues = [QueueFigure(q, "celery", waiting[q], unacked.get(q, 0)) for q in celery_queues]
    queues.append(
        QueueFigure(LAUNCH_QUEUE, "stream", launch.undelivered, launch.pending, launch.oldest_age)
    )
    queues.append(QueueFigure(DEAD_LETTER_QUEUE, "stream", metrics.dead_letter_count(), 0))
    return Figures(
        at=now,
        queues=queues,
        launch=launch,
        sensors=metrics.sensor_counts(now),
        runs=metrics.run_counts(),
        runs_total=metrics.runs_total(),
        processes=heartbeats,
        run_queue_limit=settings.run_queue_limit,
        tick_queue_bound=tick_queue_bound(settings, heartbeats),
        tick_queue=settings.tick_queue,
    )


def tick_queue_bound(settings: Settings, heartbeats: list[ProcessInfo]) -> int:
    """The tick queue's bound as the leader counts it: LOOKOUT_TICK_QUEUE_LIMIT messages
    per worker process evaluating ticks (one when none heartbeats); 0: no bound.
    """
    if settings.tick_queue_limit <= 0:
        return 0
    return settings.tick_queue_limit * max(1, tick_processes(heartbeats, settings.tick_queue))
