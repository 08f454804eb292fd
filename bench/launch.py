"""Run launch: how fast committed RunRequests become run records, and runs that succeeded.

With the stack running (launcher and workers ready), the harness ticks the
burst sensor once by hand through ``TickRunner``: one commit puts R requests
for a no-op job on the launch stream.  From that commit it times until R run
records exist (the launcher's rate) and until R runs are SUCCESS (launcher,
run queue and run execution together).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.location import BURST_SENSOR, write_location
from bench.procs import peak_rss_kib
from bench.stack import Stack
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout._process.tick import tick_runner
from lookout._tools.location import load_definitions
from lookout._tools.redis_server import EmbeddedRedis


def _wait(done: Callable[[], bool], stack: Stack, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while not done():
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs not done in {timeout:g} s (logs in {stack.logs})")
        time.sleep(0.01)
    return time.perf_counter()


def run_launch(
    redis: EmbeddedRedis, workdir: Path, runs: int, workers: int = 2
) -> tuple[dict[str, Any], dict[str, int]]:
    """The launch figures, and the peak memory of the processes that ran them."""
    settings = Settings(redis_url=redis.url)
    storage = Repositories.from_settings(settings)
    storage.client.flushall()
    logs = workdir / "launch"
    logs.mkdir(parents=True, exist_ok=True)
    location = write_location(logs, 0, 1.0, burst=runs, tag="launch")
    runner = tick_runner(load_definitions(file=str(location)), storage, settings)
    assert redis.process is not None
    with Stack(location, redis.url, logs, workers) as stack:
        stack.wait_ready(storage.processes, storage.leader)
        record = runner.tick(BURST_SENSOR)
        committed = time.perf_counter()
        assert record is not None and record.accepted == "1" * runs, "the burst was not committed"
        timeout = max(60.0, runs / 10)
        created = _wait(lambda: storage.metrics.runs_total() >= runs, stack, timeout)
        succeeded = _wait(lambda: storage.metrics.run_counts()["SUCCESS"] >= runs, stack, timeout)
        peak = stack.peak_memory_kib()
        peak["redis"] = peak_rss_kib(redis.process.pid)
    storage.client.close()
    return {
        "runs": runs,
        "to_run_record_per_s": runs / (created - committed),
        "to_success_per_s": runs / (succeeded - committed),
    }, peak
