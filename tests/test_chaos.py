"""Two minutes of random faults on a whole stack, from a fixed seed: every promise holds.

Two schedulers, three workers and two launchers on a redis-server with AOF
run four file sensors with run keys and a run-status sensor while
``tests.chaos_harness`` kills each kind of process with kill -9 (restarting
it as a supervisor would), pauses processes, restarts Redis and puts raw
items on both Celery queues and garbage on the launch and event streams.
Afterwards no file's run is lost or doubled, no two evaluations of a sensor
overlapped, every run is finished, every process is running, no worker died
of a Redis restart and every FAILURE tick says why.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos_harness import FAULT_KINDS, Chaos, ChaosConfig


@pytest.mark.long
def test_random_faults_of_every_kind_lose_no_run_double_none_and_overlap_no_evaluation(
    tmp_path: Path,
) -> None:
    config = ChaosConfig(work_dir=tmp_path, seed=12, fault_seconds=70.0, fault_interval=0.7)
    figures = Chaos(config).run()
    report = "\n".join(figures.lines())
    print(report)
    assert all(figures.faults[kind] >= 1 for kind in FAULT_KINDS), report
    assert figures.files > 100, report
    assert figures.lost == [], report
    assert figures.duplicates == [], report
    assert figures.unfinished == [], report
    assert figures.overlapping == [], report
    assert figures.not_running == [], report
    assert figures.deaths_after_redis_restart["worker"] == 0, report
    assert figures.failure_ticks_without_cause == 0, report
    # Garbage on the event stream is dead-lettered, not a FAILURE of every event sensor.
    assert not [cause for cause in figures.failure_causes if "decode" in cause], report
    assert figures.evaluations > 100, report
