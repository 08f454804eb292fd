"""Helpers for the scheduler's process tests (not a code location)."""

from __future__ import annotations

import itertools
import subprocess

from lookout import Settings
from lookout.testing import Repositories
from tests.conftest import Process, Spawn, process_env, start_ready, text
from tests.locations.sched_recorder import RECORD_KEY

LOCATION = "tests.locations.sched_recorder"

Evaluation = tuple[float, float, int]  # start, end, pid


def log_text(proc: subprocess.Popen[str]) -> str:
    """The output of a process the ``spawn`` fixture started."""
    assert isinstance(proc, Process)
    return proc.log_text()


def sched_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of every process of a test: fast leader handover and heartbeats."""
    base = {
        "LOOKOUT_LEADER_TTL": "5",
        "LOOKOUT_LEADER_RENEW": "1",
        "LOOKOUT_HEARTBEAT_INTERVAL": "0.5",
    }
    return process_env(settings, **{**base, **extra})


def start_scheduler(spawn: Spawn, env: dict[str, str]) -> Process:
    """A real ``lookout scheduler``, returned once it has started."""
    args = ["lookout", "scheduler", "-m", LOCATION]
    return start_ready(spawn, args, env, "started with", "the scheduler to start", "scheduler")


def start_worker(spawn: Spawn, env: dict[str, str], concurrency: int = 2) -> Process:
    """A real ``lookout worker`` on the tick queue, returned once Celery says it is ready."""
    args = ["lookout", "worker", "-m", LOCATION, "-c", str(concurrency), "-Q", "ticks"]
    return start_ready(spawn, args, env, " ready.", "the worker to be ready", "worker")


def evaluations(storage: Repositories, sensor: str) -> list[Evaluation]:
    """Every recorded evaluation of ``sensor``, in order of start."""
    found = []
    for raw in storage.client.lrange(RECORD_KEY.format(sensor), 0, -1):
        start, end, pid = text(raw).split()
        found.append((float(start), float(end), int(pid)))
    return sorted(found)


def assert_never_overlapping(evals: list[Evaluation], sensor: str) -> None:
    for (s1, e1, p1), (s2, _, p2) in itertools.pairwise(evals):
        assert s2 >= e1, (
            f"{sensor}: evaluation at {s2:.3f} (pid {p2}) began before the one "
            f"at {s1:.3f} (pid {p1}) ended at {e1:.3f}"
        )


def assert_interval_kept(storage: Repositories, sensor: str, interval: float) -> list[float]:
    """Evaluations start at least ``interval`` apart (by their committed ticks); returns the gaps.

    The recorder's sensors always skip, so their SKIPPED ticks are exactly their
    committed evaluations; a FAILURE record there is a tick that was not
    evaluated (a worker took it up too late to evaluate it safely).
    """
    ticks = sorted(
        (t for t in storage.ticks.history(sensor, 1000) if t.status == "SKIPPED"),
        key=lambda t: t.started_at,
    )
    assert len(ticks) <= len(evaluations(storage, sensor))
    gaps = [b.started_at - a.started_at for a, b in itertools.pairwise(ticks)]
    detail = [(round(t.started_at, 3), t.tick_id, t.worker) for t in ticks]
    assert all(g >= interval for g in gaps), (
        f"{sensor}: tick starts closer than {interval}: {gaps} {detail}"
    )
    return gaps
