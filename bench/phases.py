"""One measured phase: S sensors at an interval on a fresh stack, for a time window.

A phase flushes Redis, writes the code location, starts the stack, spreads
the sensors' first due times evenly over one interval (real sensors are not
all due in the same millisecond), lets them tick for a warm-up, then measures a window:
CPU of every process (Redis included) from /proc, and afterwards, from the
tick records, the ticks committed and their lateness in that window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.location import sensor_name, write_location
from bench.procs import TreeSample, machine_busy_seconds, peak_rss_kib
from bench.records import TickTimes, Window, published_in, tick_times
from bench.stack import Stack, lookout_env
from lookout._core.settings import Settings
from lookout._core.storage import Repositories
from lookout._tools.redis_server import EmbeddedRedis

# Due times written before the stack starts, so that the scheduler's sync
# keeps them (it never moves an existing due time) until the harness spreads them.
PARKED = 10 * 365 * 86400.0
# Tick history entries kept per sensor in a phase: more than a phase ticks.
MEASURED_HISTORY = 1000
# The first sensor comes due this long (s) after the leader has surely looked
# at the due index again (``spread_due``).
SPREAD_LEAD = 0.2


@dataclass(frozen=True)
class PhaseSpec:
    """What one phase runs."""

    name: str
    sensors: int
    interval: float
    duration: float
    warmup: float  # seconds of ticking before the window, from the first due time
    workers: int = 2
    settings: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class PhaseResult:
    spec: PhaseSpec
    window: Window
    published: int  # ticks that came due in the window
    cpu_s: dict[str, float]  # per role, and "redis"
    peak_kib: dict[str, int]
    # CPU that other processes on the machine used in the window (noise).
    other_cpu_s: float = 0.0

    @property
    def cpu_ms_per_tick(self) -> float:
        ticks = max(1, self.window.committed)
        return 1e3 * sum(self.cpu_s.values()) / ticks

    def to_json(self) -> dict[str, Any]:
        return {
            "sensors": self.spec.sensors,
            "interval_s": self.spec.interval,
            "offered_ticks_per_s": self.spec.sensors / self.spec.interval,
            "window_s": self.window.end - self.window.start,
            "committed_ticks": self.window.committed,
            "committed_ticks_per_s": self.window.ticks_per_s,
            "failures": self.window.failures,
            "published_ticks": self.published,
            "lateness_ms": self.window.lateness_ms,
            "cpu_s": self.cpu_s,
            "cpu_ms_per_tick": self.cpu_ms_per_tick,
            "other_cpu_s": self.other_cpu_s,
            "settings": {k: str(v) for k, v in self.spec.settings.items()},
        }


def _write_due(storage: Repositories, times: Mapping[str, float], only_existing: bool) -> None:
    # The benchmark places sensors in the due index directly, as the scale tests do.
    names = list(times)
    for start in range(0, len(names), 10_000):
        part = {n: times[n] for n in names[start : start + 10_000]}
        storage.client.zadd(storage.keys.due, part, xx=only_existing)


def spread_due(storage: Repositories, names: list[str], interval: float, max_sleep: float) -> float:
    """Make the sensors due evenly over one interval, from ``SPREAD_LEAD`` s past the
    leader's longest sleep (``max_sleep``) from now; returns when the first is due.

    The due index changes behind the leader's back (no trigger wakes it), and
    the leader may have just gone to sleep for the longest sleep: spread
    sooner, the first sensors came due before it looked again, and the
    first of its rounds found ~3,000 ticks up to 0.4 s late (10,000 sensors
    on 1 s).  A sensor's next tick is due an interval after its tick
    started (invariant 1), so that bunch came due again every second after,
    through the warm-up and into the window: the half load's p99 read the
    start (54-82 ms) instead of the steady state (~24 ms in the same runs).
    """
    first = time.time() + max_sleep + SPREAD_LEAD
    step = interval / max(1, len(names))
    _write_due(storage, {n: first + i * step for i, n in enumerate(names)}, only_existing=True)
    return first


def _sleep(_stack: Stack, seconds: float) -> None:
    time.sleep(seconds)


def run_phase(
    redis: EmbeddedRedis,
    workdir: Path,
    spec: PhaseSpec,
    during: Callable[[Stack, float], None] = _sleep,
) -> PhaseResult:
    """Run ``spec`` on ``redis`` (flushed first); the stack is stopped before returning.

    ``during(stack, duration)`` takes the measured window's ``duration`` s (it
    sleeps, or watches the stack meanwhile: ``bench.waits``).
    """
    settings = Settings(redis_url=redis.url)
    storage = Repositories.from_settings(settings)
    storage.client.flushall()
    names = [sensor_name(i) for i in range(spec.sensors)]
    _write_due(storage, dict.fromkeys(names, time.time() + PARKED), only_existing=False)
    logs = workdir / spec.name
    logs.mkdir(parents=True, exist_ok=True)
    location = write_location(logs, spec.sensors, spec.interval)
    assert redis.process is not None
    # Every tick of the window in the history, which the harness reads them from.
    history = int(str(spec.settings.get("tick_history", MEASURED_HISTORY)))
    settings = replace(settings, tick_history=history)
    stack_settings = {"tick_history": history, **spec.settings}
    with Stack(location, redis.url, logs, spec.workers, stack_settings) as stack:
        stack.wait_ready(storage.processes, storage.leader)
        # The leader's longest sleep as its process reads it: the same environment.
        leader = Settings.from_env(lookout_env(redis.url, stack_settings))
        first = spread_due(storage, names, spec.interval, leader.scheduler_max_sleep)
        # The warm-up counts from the first due time: the groups of a low tick
        # rate take their first seconds of ticking to form (``RoundPace``).
        time.sleep(max(0.0, first + spec.warmup - time.time()))
        cpu0, redis0 = stack.cpu(), TreeSample.take(redis.process.pid)
        busy0, start = machine_busy_seconds(), time.time()
        during(stack, spec.duration)
        cpu1, redis1 = stack.cpu(), TreeSample.take(redis.process.pid)
        busy1, end = machine_busy_seconds(), time.time()
        peak = {**stack.peak_memory_kib(), "redis": peak_rss_kib(redis.process.pid)}
    cpu = {role: cpu1[role].since(cpu0[role]) for role in cpu1}
    cpu["redis"] = redis1.since(redis0)
    ticks: list[TickTimes] = tick_times(storage.metrics, names, settings.tick_history)
    storage.client.close()
    other = max(0.0, busy1 - busy0 - sum(cpu.values()))
    window = Window.of(ticks, start, end)
    return PhaseResult(spec, window, published_in(ticks, start, end), cpu, peak, other)
