"""The whole benchmark: every phase on one embedded redis-server, one result document.

Order: the micro-benchmarks, the raw Celery baseline (``capacity_repeats``
times, the median), the limit (a minimal
batched claim/commit loop on the same Redis, ``bench.limit``), the tick
capacity (default batch size, run ``capacity_repeats`` times for the median;
then one tick per message), lateness at fractions of the capacity just
measured, the low load (200 sensors at 1 s:
what a tick costs when fixed costs dominate), scheduler scale, run launch
(its burst ``capacity_repeats`` times too, the median).
Ratios are always taken against a baseline measured in the same run.
"""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench import limit, micro
from bench.launch import launch_figures
from bench.memory import MEMORY_SENSORS, history_memory, memory_targets
from bench.noop import CONFIGS
from bench.noop import rate as celery_rate
from bench.phases import PhaseResult, PhaseSpec, run_phase
from bench.records import median_run
from bench.targets import targets
from lookout._core.settings import Settings
from lookout._tools.redis_server import EmbeddedRedis

Echo = Callable[[str], None]


@dataclass(frozen=True)
class BenchOptions:
    workers: int = 2  # pool processes of the one lookout worker
    sensors: int = 10_000  # the capacity phases: offered load well above capacity
    interval: float = 1.0  # the lateness phases' interval
    # The capacity phases' interval: 10,000 sensors at 0.25 s offer 40,000
    # ticks/s, above what lookout can do (at 1 s they would cap it at 10,000).
    capacity_interval: float = 0.25
    low_sensors: int = 200  # the low-load phase: sensors at ``low_interval``
    low_interval: float = 1.0
    duration: float = 10.0  # measured window of each phase, s
    warmup: float = 3.0
    celery_tasks: int = 3000
    fractions: Sequence[float] = (0.25, 0.5, 0.9)
    scale_sizes: Sequence[int] = (1000, 10_000, 100_000)
    scale_rate: float = 1000.0  # ticks due per second in the scale phases
    runs: int = 1000
    overload_factor: float = 5.0  # offered runs/s over the burst's SUCCESS rate
    overload_duration: float = 60.0  # s; 0: no overload phase
    dedupe_keys: int = 300_000
    batch_size: int = Settings().tick_batch_size
    # The batched capacity phase and the raw Celery baseline run this many
    # times and report the median:
    # on a shared 2-core machine one window moves by +-10% on the same commit.
    capacity_repeats: int = 3
    extra: dict[str, str] = field(default_factory=dict)  # more LOOKOUT_* settings


def machine() -> dict[str, Any]:
    model = "?"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    with open("/proc/loadavg") as info:
        load = info.read().split()[:3]
    return {
        "load_average_at_start": [float(x) for x in load],
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


class Bench:
    """Runs the phases in order on one Redis, reporting progress through ``echo``."""

    def __init__(self, options: BenchOptions, echo: Echo) -> None:
        self.options = options
        self.echo = echo
        self.peak: dict[str, int] = {}

    def phase(self, redis: EmbeddedRedis, workdir: Path, spec: PhaseSpec) -> PhaseResult:
        self.echo(f"phase {spec.name}: {spec.sensors} sensors every {spec.interval:g} s ...")
        result = run_phase(redis, workdir, spec)
        self._peak(result.peak_kib)
        self.echo(
            f"  {result.window.ticks_per_s:.0f} ticks/s, p99 lateness "
            f"{result.window.lateness_ms['p99']:.1f} ms, {result.cpu_ms_per_tick:.3f} CPU-ms/tick"
        )
        return result

    def _peak(self, peak: dict[str, int]) -> None:
        for kind, kib in peak.items():
            self.peak[kind] = max(self.peak.get(kind, 0), kib)

    def _spec(self, name: str, sensors: int, interval: float, **settings: object) -> PhaseSpec:
        o = self.options
        merged = {**o.extra, **settings}
        return PhaseSpec(name, sensors, interval, o.duration, o.warmup, o.workers, merged)

    def run(self) -> dict[str, Any]:
        o = self.options
        out: dict[str, Any] = {"machine": machine(), "options": _options_json(o)}
        with EmbeddedRedis() as redis, tempfile.TemporaryDirectory(prefix="lookout-bench-") as tmp:
            workdir = Path(tmp)
            self.echo("micro: cursor cost, run-key dedupe ...")
            out["cursor"] = micro.cursor_cost()
            out["dedupe"] = micro.dedupe_rate(redis.url, keys_total=o.dedupe_keys)
            out["celery"] = {config: self._celery(redis, config, workdir) for config in CONFIGS}
            self.echo(f"the limit: a minimal batched claim/commit loop, {o.workers} processes ...")
            out["limit"] = limit.rate(
                redis.url,
                o.workers,
                workdir,
                sensors=o.sensors,
                duration=o.duration,
                warmup=min(o.warmup, 2.0),
            )
            self.echo(f"  {out['limit']['ticks_per_s']:.0f} ticks/s")
            out["throughput"] = self._throughput(redis, workdir, out["celery"], out["limit"])
            capacity = out["throughput"]["committed_ticks_per_s"]
            out["lateness"] = self._lateness(redis, workdir, capacity)
            out["low_load"] = self._low_load(redis, workdir)
            out["scale"] = self._scale(redis, workdir)
            out["memory"] = history_memory(
                redis.url, min(o.sensors, MEMORY_SENSORS), None, self.echo
            )
            out["launch"], peak = launch_figures(
                redis,
                workdir,
                runs=o.runs,
                workers=o.workers,
                repeats=o.capacity_repeats,
                celery_tasks_per_s=out["celery"]["defaults"]["tasks_per_s"],
                overload_factor=o.overload_factor,
                overload_duration=o.overload_duration,
                echo=self.echo,
            )
            self._peak(peak)
        out["peak_memory_kib"] = self.peak
        out["targets"] = targets(out) + memory_targets(out["memory"])
        return out

    def _celery(self, redis: EmbeddedRedis, config: str, workdir: Path) -> dict[str, Any]:
        """The raw Celery baseline, run as many times as the capacity phase: the median
        run's figures, with every run's rate.  A ratio's two sides are medians alike
        (one run of 3,000 tasks moved 830-1,080 tasks/s on one machine).
        """
        o = self.options
        self.echo(f"raw Celery no-op tasks ({config}) ...")
        runs = [
            celery_rate(redis.url, config, o.celery_tasks, workdir)
            for _ in range(max(1, o.capacity_repeats))
        ]
        median = median_run(runs, lambda r: float(r["tasks_per_s"]))
        return {**median, "repeats": [r["tasks_per_s"] for r in runs]}

    def _throughput(
        self,
        redis: EmbeddedRedis,
        workdir: Path,
        celery: dict[str, Any],
        limit: dict[str, Any],
    ) -> dict[str, Any]:
        o = self.options
        every = o.capacity_interval
        repeats = [
            self.phase(
                redis,
                workdir,
                self._spec(f"capacity-{i + 1}", o.sensors, every, tick_batch_size=o.batch_size),
            )
            for i in range(max(1, o.capacity_repeats))
        ]
        batched = median_run(repeats, lambda r: r.window.ticks_per_s)
        single = self.phase(
            redis, workdir, self._spec("capacity-batch1", o.sensors, every, tick_batch_size=1)
        )
        rate = batched.window.ticks_per_s
        cpu = statistics.median(r.cpu_ms_per_tick for r in repeats)
        return {
            "committed_ticks_per_s": rate,
            "tick_batch_size": o.batch_size,
            "batched": batched.to_json(),
            "repeats": [
                {
                    "committed_ticks_per_s": r.window.ticks_per_s,
                    "cpu_ms_per_tick": r.cpu_ms_per_tick,
                    "other_cpu_s": r.other_cpu_s,
                }
                for r in repeats
            ],
            "one_tick_per_message": single.to_json(),
            "batch_gain": rate / max(single.window.ticks_per_s, 1e-9),
            "vs_celery": {c: rate / celery[c]["tasks_per_s"] for c in celery},
            "vs_limit": rate / max(limit["ticks_per_s"], 1e-9),
            "cpu_ms_per_tick": cpu,
            # The same CPU as a multiple of the loop's: not a target, but what
            # tells machines apart least (issue 14's 0.06 CPU-ms was 3x the
            # loop's 0.020 when it was set; the loop's moved 0.021-0.035 since).
            "cpu_vs_limit": cpu / max(limit["cpu_ms_per_tick"], 1e-9),
        }

    def _low_load(self, redis: EmbeddedRedis, workdir: Path) -> dict[str, Any]:
        """Few sensors: every tick is offered and done; what it costs is mostly fixed costs."""
        o = self.options
        spec = self._spec(f"low-{o.low_sensors}", o.low_sensors, o.low_interval)
        return self.phase(redis, workdir, spec).to_json()

    def _lateness(self, redis: EmbeddedRedis, workdir: Path, capacity: float) -> dict[str, Any]:
        o = self.options
        found = {}
        for fraction in o.fractions:
            sensors = max(1, round(fraction * capacity * o.interval))
            spec = self._spec(f"lateness-{round(100 * fraction)}", sensors, o.interval)
            result = self.phase(redis, workdir, spec)
            found[f"{round(100 * fraction)}%"] = {"fraction": fraction, **result.to_json()}
        return found

    def _scale(self, redis: EmbeddedRedis, workdir: Path) -> dict[str, Any]:
        o = self.options
        found = {}
        for size in o.scale_sizes:
            result = self.phase(
                redis, workdir, self._spec(f"scale-{size}", size, size / o.scale_rate)
            )
            published = max(1, result.published)
            found[str(size)] = {
                "scheduler_cpu_s_per_1000_ticks": 1e3 * result.cpu_s["scheduler"] / published,
                **result.to_json(),
            }
        return found


def _options_json(options: BenchOptions) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(options).items()}
