"""Run launch: how fast committed RunRequests become run records, and runs that succeeded.

Burst: with the stack running (launcher and workers ready), the harness ticks
the burst sensor once by hand through ``TickRunner``: one commit puts R
requests for a no-op job on the launch stream.  From that commit it times
until R run records exist (the launcher's rate) and until R runs are SUCCESS
(launcher, run queue and run execution together).

Overload: run sensors, ticked by the scheduler every second, ask for
``factor`` times the capacity (the burst's SUCCESS rate, measured in the
same run) for ``duration`` seconds; the figure is the SUCCESS rate over that
window as a fraction of the capacity, with the depth of the run queue and of
the launch stream sampled each second (back-pressure keeps the first at its
bound and lets the second grow), and how often the launchers had nothing to
launch (never, unless back-pressure throttles harder than it must).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bench.location import BURST_SENSOR, write_location
from bench.procs import TreeSample, machine_busy_seconds, peak_rss_kib
from bench.records import median_run
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


# Sensors of the overload phase; each asks for its share of the offered runs.
OVERLOAD_SENSORS = 20
# The overload phase without packing or a bound: as runs were launched before both.
UNBOUNDED = {"run_pack_size": 1, "run_queue_limit": 0}


def run_launch(
    redis: EmbeddedRedis,
    workdir: Path,
    runs: int,
    workers: int = 2,
    settings: Mapping[str, object] | None = None,
    name: str = "launch",
) -> tuple[dict[str, Any], dict[str, int]]:
    """The launch figures, and the peak memory of the processes that ran them."""
    extra = dict(settings or {})
    base = Settings(redis_url=redis.url)
    storage = Repositories.from_settings(base)
    storage.client.flushall()
    logs = workdir / name
    logs.mkdir(parents=True, exist_ok=True)
    location = write_location(logs, 0, 1.0, burst=runs, tag="launch")
    runner = tick_runner(load_definitions(file=str(location)), storage, base)
    assert redis.process is not None
    with Stack(location, redis.url, logs, workers, extra) as stack:
        stack.wait_ready(storage.processes, storage.leader)
        cpu0, busy0 = _cpu(stack, redis), machine_busy_seconds()
        record = runner.tick(BURST_SENSOR)
        committed = time.perf_counter()
        assert record is not None and record.accepted == "1" * runs, "the burst was not committed"
        timeout = max(60.0, runs / 10)
        created = _wait(lambda: storage.metrics.runs_total() >= runs, stack, timeout)
        succeeded = _wait(lambda: storage.metrics.run_counts()["SUCCESS"] >= runs, stack, timeout)
        cpu = _since(_cpu(stack, redis), cpu0)
        other = machine_busy_seconds() - busy0 - sum(cpu.values())
        peak = stack.peak_memory_kib()
        peak["redis"] = peak_rss_kib(redis.process.pid)
    storage.client.close()
    return {
        "runs": runs,
        "to_run_record_per_s": runs / (created - committed),
        "to_success_per_s": runs / (succeeded - committed),
        "cpu_s": cpu,
        "success_per_cpu_s": runs / max(sum(cpu.values()), 1e-9),
        "other_cpu_s": other,
        "settings": {k: str(v) for k, v in extra.items()},
    }, peak


def run_overload(
    redis: EmbeddedRedis,
    workdir: Path,
    capacity: float,
    *,
    factor: float = 5.0,
    duration: float = 60.0,
    warmup: float = 5.0,
    workers: int = 2,
    settings: Mapping[str, object] | None = None,
    name: str = "overload",
) -> dict[str, Any]:
    """SUCCESS/s while sensors ask for ``factor`` x ``capacity`` runs/s for ``duration`` s."""
    extra = dict(settings or {})
    base = Settings(redis_url=redis.url)
    storage = Repositories.from_settings(base)
    storage.client.flushall()
    logs = workdir / name
    logs.mkdir(parents=True, exist_ok=True)
    offered = factor * capacity
    per_tick = max(1, math.ceil(offered / OVERLOAD_SENSORS))
    location = write_location(
        logs, 0, 1.0, burst=1, tag=name, run_sensors=OVERLOAD_SENSORS, runs_per_tick=per_tick
    )
    limit = int(str(extra.get("run_queue_limit", base.run_queue_limit)))
    samples: list[dict[str, float]] = []
    with Stack(location, redis.url, logs, workers, extra) as stack:
        stack.wait_ready(storage.processes, storage.leader)
        _pause(stack, warmup)
        start, done0 = time.perf_counter(), storage.metrics.run_counts()["SUCCESS"]
        cpu0, busy0 = _cpu(stack, redis), machine_busy_seconds()
        while time.perf_counter() - start < duration:
            _pause(stack, 1.0)
            counts = storage.metrics.run_counts()
            stream = storage.metrics.launch_backlog(base.launch_group)
            samples.append(
                {
                    "at_s": time.perf_counter() - start,
                    "success": counts["SUCCESS"] - done0,
                    "queued": counts["QUEUED"],
                    "launch_stream": stream.length,
                    # Not yet launched: unread by the launchers, or read and not acknowledged.
                    "launch_waiting": stream.undelivered + stream.pending,
                }
            )
        elapsed = time.perf_counter() - start
        done = storage.metrics.run_counts()["SUCCESS"] - done0
        cpu = _since(_cpu(stack, redis), cpu0)
        other = machine_busy_seconds() - busy0 - sum(cpu.values())
        deferred = storage.metrics.sensor_counts().deferred
    storage.client.close()
    rate = done / elapsed
    queued = [s["queued"] for s in samples]
    return {
        "capacity_runs_per_s": capacity,
        "factor": factor,
        "offered_runs_per_s": OVERLOAD_SENSORS * per_tick,
        "window_s": elapsed,
        "success": done,
        "success_per_s": rate,
        "of_capacity": rate / capacity if capacity > 0 else math.nan,
        "queued_max": max(queued, default=0),
        "queued_end": queued[-1] if queued else 0,
        "queued_min": min(queued, default=0),
        # The share of seconds the launchers had nothing to launch while the
        # sensors asked for five times what runs: the executors about to run
        # dry (back-pressure that throttles too hard shows here).
        "nothing_to_launch_share": (
            sum(s["launch_waiting"] == 0 for s in samples) / len(samples) if samples else 0.0
        ),
        "paused_share": sum(q >= limit for q in queued) / len(queued) if limit and queued else 0.0,
        "launch_stream_end": samples[-1]["launch_stream"] if samples else 0,
        "ticks_deferred": deferred,
        "cpu_s": cpu,
        "other_cpu_s": other,
        "success_per_cpu_s": done / max(sum(cpu.values()), 1e-9),
        "samples": samples,
        "settings": {k: str(v) for k, v in extra.items()},
    }


def _cpu(stack: Stack, redis: EmbeddedRedis) -> dict[str, TreeSample]:
    """CPU of each role's process tree and of redis-server now."""
    assert redis.process is not None
    return {**stack.cpu(), "redis": TreeSample.take(redis.process.pid)}


def _since(now: dict[str, TreeSample], before: dict[str, TreeSample]) -> dict[str, float]:
    return {role: sample.since(before[role]) for role, sample in now.items()}


def _pause(stack: Stack, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        stack.check_alive()
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def launch_figures(
    redis: EmbeddedRedis,
    workdir: Path,
    *,
    runs: int,
    workers: int,
    repeats: int,
    celery_tasks_per_s: float,
    overload_factor: float,
    overload_duration: float,
    echo: Callable[[str], None],
) -> tuple[dict[str, Any], dict[str, int]]:
    """The burst, packed and one run per message; the overload, bounded and not; all in one run.

    The packed burst runs ``repeats`` times and its figures are the median
    run's: it is the overload's capacity, and one burst of 1,000 runs lasts
    about a second (one run's rate moved 1,017-1,313 runs/s on one machine).
    Returns the figures and the peak memory of the processes.
    """
    bursts: list[dict[str, Any]] = []
    peak: dict[str, int] = {}
    for i in range(max(1, repeats)):
        echo(f"run launch: {runs} run requests ({i + 1} of {max(1, repeats)}) ...")
        burst, burst_peak = run_launch(redis, workdir, runs, workers, name=f"launch-{i + 1}")
        bursts.append(burst)
        peak = {k: max(peak.get(k, 0), v) for k, v in burst_peak.items()}
    median = median_run(bursts, lambda b: float(b["to_success_per_s"]))
    out = {**median, "repeats": [b["to_success_per_s"] for b in bursts]}
    echo("run launch: one run per message ...")
    single, _ = run_launch(redis, workdir, runs, workers, {"run_pack_size": 1}, "launch-single")
    out["one_run_per_message_to_success_per_s"] = single["to_success_per_s"]
    out["vs_celery"] = out["to_success_per_s"] / celery_tasks_per_s
    capacity = out["to_success_per_s"]
    if overload_duration > 0:
        for name, extra in (("overload", {}), ("overload-unbounded", UNBOUNDED)):
            echo(f"{name}: {overload_factor:g}x {capacity:.0f} runs/s for {overload_duration:g} s")
            found = run_overload(
                redis,
                workdir,
                capacity,
                factor=overload_factor,
                duration=overload_duration,
                workers=workers,
                settings=extra,
                name=name,
            )
            # The machine is shared: what the runs got of it moves with the
            # outside load, so the SUCCESS per CPU-second is compared too.
            found["of_capacity_per_cpu"] = found["success_per_cpu_s"] / out["success_per_cpu_s"]
            echo(
                f"  {found['success_per_s']:.0f} SUCCESS/s ({found['of_capacity']:.2f}x; "
                f"per CPU-s {found['of_capacity_per_cpu']:.2f}x; "
                f"other processes {found['other_cpu_s']:.0f} CPU-s; nothing to launch "
                f"{found['nothing_to_launch_share']:.0%} of the time, QUEUED min "
                f"{found['queued_min']:.0f})"
            )
            out[name.replace("-", "_")] = found
    return out, peak
