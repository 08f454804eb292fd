"""``lookout queues``: the monitor's figures in the terminal, as a table or JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lookout import Settings
from lookout.testing import (
    TICK_TASK,
    Heartbeat,
    Repositories,
    load_definitions,
    sync_definitions,
    tick_runner,
)
from lookout.workers.app import make_celery
from tests.conftest import ROOT, Spawn, process_env, wait_for

LOCATION = Path(__file__).resolve().parent / "locations" / "monitor_sensors.py"


def lookout(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout", *args],
        env=process_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def fill(storage: Repositories, settings: Settings) -> None:
    """Two tick messages waiting, three launch entries, a scheduler that leads."""
    celery = make_celery(settings)
    try:
        for _ in range(2):
            celery.send_task(TICK_TASK, args=[[]])
    finally:
        celery.close()
    defs = load_definitions(file=str(LOCATION))
    sync_definitions(defs, storage.sensors)
    runner = tick_runner(defs, storage, settings)
    runner.tick("counter")
    runner.tick("counter")


def test_queues_json_reports_what_redis_holds(settings: Settings, storage: Repositories) -> None:
    fill(storage, settings)
    with Heartbeat(storage.processes, "scheduler", leader=lambda: True) as leader:
        result = lookout(settings, "queues", "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    queues = {q["name"]: q for q in figures["queues"]}
    assert queues["ticks"]["waiting"] == storage.client.llen(f"{settings.key_prefix}celery:ticks")
    assert queues["ticks"]["waiting"] == 2
    assert queues["launch"]["waiting"] == storage.client.xlen(storage.keys.launch) == 3
    assert queues["launch"]["oldest_age"] > 0
    assert figures["sensors"]["known"] == 3
    assert figures["leader"] == leader.id
    assert figures["live"]["scheduler"] == 1


def test_queues_prints_a_table(settings: Settings, storage: Repositories) -> None:
    fill(storage, settings)
    result = lookout(settings, "queues")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["QUEUE", "KIND", "WAITING", "UNACKED", "OLDEST"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:5]}
    assert rows["ticks"][:3] == ["celery", "2", "0"]
    assert rows["launch"][:3] == ["stream", "3", "0"]
    assert rows["deadletter"][:3] == ["stream", "0", "0"]
    assert "leader     none" in result.stdout


def test_queues_watch_refreshes_until_interrupted(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    proc = spawn(
        ["lookout", "queues", "--watch", "--json", "--interval", "0.2"],
        process_env(settings),
        log_name="watch",
    )
    log = next(tmp_path.glob("watch-*.log"))

    def documents() -> list[dict[str, Any]]:
        return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]

    wait_for(lambda: len(documents()) >= 2, 20, what="two refreshes")
    fill(storage, settings)
    wait_for(
        lambda: documents()[-1]["launch"]["length"] == 3,
        10,
        what="a refresh to show the new launch entries",
    )
    os.killpg(proc.pid, signal.SIGINT)
    started = time.monotonic()
    assert proc.wait(10) == 0
    assert time.monotonic() - started < 5
