"""``lookout queues``: the monitor's figures as a terminal table or as JSON."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from lookout._core.settings import Settings
from lookout._core.storage import MetricsView, ProcessStore
from lookout._tools.cli._format import table
from lookout._tools.monitor.figures import Figures, read_figures, roles

Echo = Callable[[str], None]


def _age(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def queues_text(figures: Figures) -> str:
    """The queues table, then one line each for sensors, runs and processes."""
    rows = [
        [q.name, q.kind, str(q.waiting), str(q.unacked), _age(q.oldest_age)] for q in figures.queues
    ]
    s = figures.sensors
    leader = figures.leader
    live = [f"{role} {figures.live(role)}" for role in roles(figures.processes)]
    runs = [f"{status} {count}" for status, count in figures.runs.items()]
    lines = [
        table(["QUEUE", "KIND", "WAITING", "UNACKED", "OLDEST"], rows),
        "",
        f"sensors    known {s.known}  scheduled {s.scheduled}  overdue {s.overdue}  "
        f"in flight {s.in_flight}",
        f"runs       {'  '.join(runs)}  (launched {figures.runs_total})",
        f"ticks      {tick_state(figures)}",
        f"launch     {launch_state(figures)}",
        f"processes  {'  '.join(live)}",
        f"leader     {f'{leader.host} pid {leader.pid} ({leader.id})' if leader else 'none'}",
    ]
    return "\n".join(lines)


def tick_state(figures: Figures) -> str:
    """Whether the leader claims ticks, against the tick queue's bound (back-pressure)."""
    waiting = figures.queue(figures.tick_queue).waiting
    bound = figures.tick_queue_bound
    lapsed = figures.sensors.lapsed
    tail = f"; {lapsed} lapsed in the queue so far" if lapsed else ""
    if bound <= 0:
        return f"claiming (tick queue {waiting} messages, no bound){tail}"
    if figures.ticks_held_back:
        return (
            f"HELD BACK: tick queue {waiting} messages >= bound {bound} "
            f"(LOOKOUT_TICK_QUEUE_LIMIT per worker process); due sensors wait{tail}"
        )
    return f"claiming (tick queue {waiting} of bound {bound} messages){tail}"


def launch_state(figures: Figures) -> str:
    """Whether launchers read requests, against the run queue's bound (back-pressure)."""
    queued = figures.runs.get("QUEUED", 0)
    limit = figures.run_queue_limit
    if limit <= 0:
        return f"reading (runs QUEUED {queued}, no bound)"
    if figures.launch_paused:
        return (
            f"PAUSED: runs QUEUED {queued} >= bound {limit} (LOOKOUT_RUN_QUEUE_LIMIT); "
            "requests wait on the launch stream"
        )
    return f"reading (runs QUEUED {queued} of bound {limit})"


def show_queues(
    metrics: MetricsView,
    processes: ProcessStore,
    settings: Settings,
    echo: Echo,
    *,
    as_json: bool = False,
    watch: float | None = None,
    clear: Callable[[], None] | None = None,
    rounds: int | None = None,
) -> None:
    """Print the figures once, or every ``watch`` seconds until interrupted.

    With ``as_json`` each refresh is one JSON document on one line.
    ``rounds`` bounds the refreshes (tests); ``None`` means until Ctrl-C.
    """
    done = 0
    try:
        while True:
            figures = read_figures(metrics, processes, settings)
            if as_json:
                echo(json.dumps(figures.to_json(), sort_keys=True))
            else:
                if watch is not None and clear is not None:
                    clear()
                echo(queues_text(figures))
            done += 1
            if watch is None or (rounds is not None and done >= rounds):
                return
            time.sleep(watch)
    except KeyboardInterrupt:
        return
