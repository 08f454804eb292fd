"""Counters every monitor agrees on: kept in Redis by the commits, not in a monitor's memory.

Two real ``lookout monitor`` processes scrape the same Redis; ticks are
committed by the workers' ``TickRunner`` and runs executed by the workers'
``RunExecutor``.  Both monitors report the same totals, and one restarted
starts from those totals, not from zero.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lookout import Settings
from lookout._core.storage import Repositories
from lookout._tools.location import load_definitions
from lookout._tools.operator import sync_definitions
from lookout._tools.redis_server import free_port
from lookout.testing import tick_runner
from lookout.workers.runs import RunExecutor, new_run, status_event
from tests.conftest import Process, Spawn, process_env, wait_for

LOCATION = Path(__file__).resolve().parent / "locations" / "monitor_sensors.py"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
COUNTERS = (
    "lookout_ticks_total",
    "lookout_run_requests",
    "lookout_run_status_changes_total",
    "lookout_runs_launched_total",
)


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def counters(port: int) -> Samples:
    """The counter samples of one scrape (the _created samples left out: per process)."""
    return {k: v for k, v in scrape(port).items() if k[0].startswith(COUNTERS)}


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def start_monitor(spawn: Spawn, settings: Settings, port: int) -> Process:
    args = ["lookout", "monitor", "-f", str(LOCATION), "--port", str(port)]
    monitor = spawn(args, process_env(settings), log_name=f"monitor-{port}")

    def answers() -> bool:
        assert monitor.poll() is None, monitor.log_text()
        try:
            scrape(port)
        except OSError:
            return False
        return True

    wait_for(answers, 30, interval=0.2, what=f"the monitor on port {port}")
    return monitor


def test_two_monitors_report_the_same_counters_and_a_restart_resets_none(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    definitions = load_definitions(file=str(LOCATION))
    sync_definitions(definitions, storage.sensors)
    first, second = free_port(), free_port()
    start_monitor(spawn, settings, first)
    restarted = start_monitor(spawn, settings, second)

    runner = tick_runner(definitions, storage, settings)
    for _ in range(3):
        runner.tick("counter")
        runner.tick("quiet")
    runner.tick("broken")
    now = time.time()
    runs = [new_run(launch, definitions, now) for _, launch in storage.launches.requests()]
    storage.runs.create([(r, status_event(r, r.status, now)) for r in runs])
    executor = RunExecutor(definitions, storage.runs, settings)
    for run in runs:
        executor.deliver(run.run_id)

    seen = counters(first)
    assert value(seen, "lookout_ticks_total", sensor="counter", status="SUCCESS") == 3
    assert value(seen, "lookout_ticks_total", sensor="quiet", status="SKIPPED") == 3
    assert value(seen, "lookout_ticks_total", sensor="broken", status="FAILURE") == 1
    assert value(seen, "lookout_run_requests_total", sensor="counter") == 6
    # "again" was launched by the first tick and dropped by the next two.
    assert value(seen, "lookout_run_requests_dropped_total", sensor="counter") == 2
    assert value(seen, "lookout_run_requests_total", sensor="quiet") == 0
    for status in ("QUEUED", "STARTED", "SUCCESS"):
        assert value(seen, "lookout_run_status_changes_total", status=status) == 4
    assert value(seen, "lookout_run_status_changes_total", status="FAILURE") == 0
    assert counters(second) == seen

    # A restarted monitor reads the same totals: Prometheus sees no reset.
    restarted.send_signal(signal.SIGTERM)
    restarted.wait(10)
    start_monitor(spawn, settings, second)
    assert counters(second) == seen
    runner.tick("broken")
    later = counters(second)
    assert value(later, "lookout_ticks_total", sensor="broken", status="FAILURE") == 2
    assert counters(first) == later

    # Deleting old runs (retention) takes them off the gauges, not off the counters.
    assert value(later, "lookout_runs_launched_total") == 4
    assert storage.runs.delete_finished(time.time() + 1, 100) == 4
    assert value(scrape(first), "lookout_runs", status="SUCCESS") == 0
    assert counters(first) == later


def test_a_redelivered_tick_commit_counts_once(settings: Settings, storage: Repositories) -> None:
    definitions = load_definitions(file=str(LOCATION))
    sync_definitions(definitions, storage.sensors)
    runner = tick_runner(definitions, storage, settings)
    state = storage.sensors.state("quiet")
    tick_id = "redelivered"
    holder = f"test:{tick_id}"
    storage.ticks.claim("quiet", tick_id, 60)
    assert storage.ticks.begin([("quiet", tick_id)], holder, 60) == [""]
    commit = runner.evaluate(
        definitions.get_sensor("quiet"), state, tick_id=tick_id, due_at=None, holder=holder
    )
    assert storage.ticks.commit(commit) is not None
    # Sent again (a lost reply), it is answered as committed and counted once.
    assert storage.ticks.commit(commit) is not None
    counters = storage.metrics.counters()
    assert counters.ticks == {("quiet", "SKIPPED"): 1}
    assert counters.requests == counters.dropped == {}
