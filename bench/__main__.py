"""``python -m bench``: run every benchmark phase, print the table, write the JSON document."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import click

from bench.harness import Bench, BenchOptions
from bench.report import table


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x.strip())


def _clean(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@click.command()
@click.option(
    "-w",
    "--workers",
    default=2,
    show_default=True,
    envvar="LOOKOUT_BENCH_WORKERS",
    help="Worker pool processes (one lookout worker). [env LOOKOUT_BENCH_WORKERS]",
)
@click.option(
    "-s",
    "--sensors",
    default=10_000,
    show_default=True,
    envvar="LOOKOUT_BENCH_SENSORS",
    help="Sensors in the capacity phases (more than capacity). [env LOOKOUT_BENCH_SENSORS]",
)
@click.option(
    "-i",
    "--interval",
    default=1.0,
    show_default=True,
    envvar="LOOKOUT_BENCH_INTERVAL",
    help="Sensor interval, s, in the lateness phases. [env LOOKOUT_BENCH_INTERVAL]",
)
@click.option(
    "--capacity-interval",
    default=BenchOptions.capacity_interval,
    show_default=True,
    envvar="LOOKOUT_BENCH_CAPACITY_INTERVAL",
    help="Sensor interval, s, in the capacity phases (offered load: sensors / interval). "
    "[env LOOKOUT_BENCH_CAPACITY_INTERVAL]",
)
@click.option(
    "--low-sensors",
    default=BenchOptions.low_sensors,
    show_default=True,
    envvar="LOOKOUT_BENCH_LOW_SENSORS",
    help="Sensors in the low-load phase. [env LOOKOUT_BENCH_LOW_SENSORS]",
)
@click.option(
    "--low-interval",
    default=BenchOptions.low_interval,
    show_default=True,
    envvar="LOOKOUT_BENCH_LOW_INTERVAL",
    help="Sensor interval, s, in the low-load phase. [env LOOKOUT_BENCH_LOW_INTERVAL]",
)
@click.option(
    "-d",
    "--duration",
    default=10.0,
    show_default=True,
    envvar="LOOKOUT_BENCH_DURATION",
    help="Measured window of each phase, s. [env LOOKOUT_BENCH_DURATION]",
)
@click.option(
    "--warmup",
    default=3.0,
    show_default=True,
    envvar="LOOKOUT_BENCH_WARMUP",
    help="Seconds each phase runs before its window. [env LOOKOUT_BENCH_WARMUP]",
)
@click.option(
    "--celery-tasks",
    default=3000,
    show_default=True,
    envvar="LOOKOUT_BENCH_CELERY_TASKS",
    help="No-op tasks of the raw Celery baseline. [env LOOKOUT_BENCH_CELERY_TASKS]",
)
@click.option(
    "--fractions",
    default="0.25,0.5,0.9",
    show_default=True,
    envvar="LOOKOUT_BENCH_FRACTIONS",
    help="Loads, as fractions of the capacity, for lateness. [env LOOKOUT_BENCH_FRACTIONS]",
)
@click.option(
    "--scale-sizes",
    default="1000,10000,100000",
    show_default=True,
    envvar="LOOKOUT_BENCH_SCALE_SIZES",
    help="Registered sensors in the scheduler scale phases. [env LOOKOUT_BENCH_SCALE_SIZES]",
)
@click.option(
    "--scale-rate",
    default=1000.0,
    show_default=True,
    envvar="LOOKOUT_BENCH_SCALE_RATE",
    help="Ticks due per second in the scale phases. [env LOOKOUT_BENCH_SCALE_RATE]",
)
@click.option(
    "--runs",
    default=1000,
    show_default=True,
    envvar="LOOKOUT_BENCH_RUNS",
    help="Run requests in the launch phase. [env LOOKOUT_BENCH_RUNS]",
)
@click.option(
    "--overload-factor",
    default=5.0,
    show_default=True,
    envvar="LOOKOUT_BENCH_OVERLOAD_FACTOR",
    help="Runs/s offered, over the burst's, when overloaded. [env LOOKOUT_BENCH_OVERLOAD_FACTOR]",
)
@click.option(
    "--overload-duration",
    default=60.0,
    show_default=True,
    envvar="LOOKOUT_BENCH_OVERLOAD_DURATION",
    help="Seconds of the overload phase (0: none). [env LOOKOUT_BENCH_OVERLOAD_DURATION]",
)
@click.option(
    "--dedupe-keys",
    default=300_000,
    show_default=True,
    envvar="LOOKOUT_BENCH_DEDUPE_KEYS",
    help="Run keys in the dedupe micro-benchmark. [env LOOKOUT_BENCH_DEDUPE_KEYS]",
)
@click.option(
    "--batch-size",
    default=BenchOptions.batch_size,
    show_default=True,
    envvar="LOOKOUT_BENCH_BATCH_SIZE",
    help="Ticks per message in the batched capacity phase. [env LOOKOUT_BENCH_BATCH_SIZE]",
)
@click.option(
    "--capacity-repeats",
    default=BenchOptions.capacity_repeats,
    show_default=True,
    envvar="LOOKOUT_BENCH_CAPACITY_REPEATS",
    help="Runs of the batched capacity phase, of the raw Celery baseline and of the "
    "run launch's burst; the median of each is reported. "
    "[env LOOKOUT_BENCH_CAPACITY_REPEATS]",
)
@click.option(
    "-o",
    "--output",
    default="bench/results.json",
    show_default=True,
    envvar="LOOKOUT_BENCH_OUTPUT",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the JSON document goes. [env LOOKOUT_BENCH_OUTPUT]",
)
def main(
    workers: int,
    sensors: int,
    interval: float,
    capacity_interval: float,
    low_sensors: int,
    low_interval: float,
    duration: float,
    warmup: float,
    celery_tasks: int,
    fractions: str,
    scale_sizes: str,
    scale_rate: float,
    runs: int,
    overload_factor: float,
    overload_duration: float,
    dedupe_keys: int,
    batch_size: int,
    capacity_repeats: int,
    output: Path,
) -> None:
    """Benchmark lookout against the raw Celery/Redis engine on this machine."""
    options = BenchOptions(
        workers=workers,
        sensors=sensors,
        interval=interval,
        capacity_interval=capacity_interval,
        low_sensors=low_sensors,
        low_interval=low_interval,
        duration=duration,
        warmup=warmup,
        celery_tasks=celery_tasks,
        fractions=_floats(fractions),
        scale_sizes=_ints(scale_sizes),
        scale_rate=scale_rate,
        runs=runs,
        overload_factor=overload_factor,
        overload_duration=overload_duration,
        dedupe_keys=dedupe_keys,
        batch_size=batch_size,
        capacity_repeats=capacity_repeats,
    )
    write(Bench(options, click.echo).run(), output)


def write(result: dict[str, Any], output: Path) -> None:
    click.echo("")
    click.echo(table(result))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(_clean(result), indent=2) + "\n")
    click.echo(f"\nwritten to {output}")


if __name__ == "__main__":
    main()
