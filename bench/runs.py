"""``python -m bench.runs``: only the run figures, and the raw Celery baseline they are judged by.

The burst (packed, then one run per message) and the overload (with the
bound, then without packing or bound), with raw Celery no-op tasks measured
first on the same Redis: a quicker run than the whole ``python -m bench``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import click

from bench.harness import machine
from bench.launch import launch_figures
from bench.noop import rate as celery_rate
from lookout._tools.redis_server import EmbeddedRedis


@click.command()
@click.option("-w", "--workers", default=2, show_default=True, help="Worker pool processes.")
@click.option("--runs", default=1000, show_default=True, help="Run requests in the burst.")
@click.option(
    "--burst-repeats", default=3, show_default=True, help="Bursts run; the median is reported."
)
@click.option("--celery-tasks", default=3000, show_default=True, help="Raw Celery no-op tasks.")
@click.option("--overload-factor", default=5.0, show_default=True, help="Offered / capacity.")
@click.option("--overload-duration", default=60.0, show_default=True, help="Overload window, s.")
@click.option(
    "-o",
    "--output",
    default="bench/runs.json",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
def main(
    workers: int,
    runs: int,
    burst_repeats: int,
    celery_tasks: int,
    overload_factor: float,
    overload_duration: float,
    output: Path,
) -> None:
    """Measure runs to SUCCESS/s against raw Celery, and under overload."""
    out: dict[str, Any] = {"machine": machine()}
    with EmbeddedRedis() as redis, tempfile.TemporaryDirectory(prefix="lookout-runs-") as tmp:
        workdir = Path(tmp)
        click.echo("raw Celery no-op tasks (defaults) ...")
        celery = celery_rate(redis.url, "defaults", celery_tasks, workdir)
        out["celery"] = {"defaults": celery}
        out["launch"], out["peak_memory_kib"] = launch_figures(
            redis,
            workdir,
            runs=runs,
            workers=workers,
            repeats=burst_repeats,
            celery_tasks_per_s=celery["tasks_per_s"],
            overload_factor=overload_factor,
            overload_duration=overload_duration,
            echo=click.echo,
        )
    with open("/proc/loadavg") as info:
        out["load_average_at_end"] = [float(x) for x in info.read().split()[:3]]
    output.write_text(json.dumps(out, indent=2) + "\n")
    launch = out["launch"]
    click.echo(
        f"raw Celery {celery['tasks_per_s']:.0f} tasks/s; burst {launch['to_success_per_s']:.0f}"
        f" runs/s ({launch['vs_celery']:.2f}x), one per message "
        f"{launch['one_run_per_message_to_success_per_s']:.0f}"
    )


if __name__ == "__main__":
    main()
