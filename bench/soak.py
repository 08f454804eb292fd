"""``python -m bench.soak``: the chaos test's harness for longer; prints and writes the figures.

Faults of every kind (``tests.chaos_harness``: kill -9 of schedulers,
workers, pool processes and launchers, pauses, Redis restarts, poison on both
Celery queues and both streams) at random from ``--seed`` for ``--minutes``,
then every file's run is waited for.  The figures go to stdout and, as JSON,
to ``--out``; the exit status is 1 if a run was lost, doubled or left
unfinished, two evaluations overlapped, a worker died of a Redis restart or a
FAILURE tick had no cause.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

import click

from tests.chaos_harness import FAULT_KINDS, Chaos, ChaosConfig, Figures


def failed(figures: Figures) -> bool:
    """Whether a promise was broken."""
    return bool(
        figures.lost
        or figures.duplicates
        or figures.unfinished
        or figures.overlapping
        or figures.not_running
        or figures.deaths_after_redis_restart["worker"]
        or figures.failure_ticks_without_cause
    )


def _plain(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@click.command()
@click.option(
    "--minutes", type=float, default=15.0, show_default=True, help="Faults for this long."
)
@click.option("--seed", type=int, default=12, show_default=True)
@click.option(
    "--interval",
    type=float,
    default=0.1,
    show_default=True,
    help="Mean seconds between two faults (plus the time a Redis restart takes).",
)
@click.option(
    "--settle",
    type=float,
    default=300.0,
    show_default=True,
    help="Seconds to wait afterwards for every file's run.",
)
@click.option("--workers", type=int, default=3, show_default=True)
@click.option("--sensors", type=int, default=6, show_default=True)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("bench/soak.json"), show_default=True
)
def main(
    minutes: float,
    seed: int,
    interval: float,
    settle: float,
    workers: int,
    sensors: int,
    out: Path,
) -> None:
    """Run the soak and report what it found."""
    with tempfile.TemporaryDirectory(prefix="lookout-soak-") as work:
        config = ChaosConfig(
            work_dir=Path(work),
            seed=seed,
            fault_seconds=minutes * 60,
            fault_interval=interval,
            settle_seconds=settle,
            sensors=sensors,
            workers=workers,
            # Every kind about as often as every other, Redis restarts included
            # (each down for at most a second): over 300 of each in 15 minutes
            # at the default interval.  Pool kills are drawn more often: a
            # draw finds no pool process to kill while every worker restarts.
            weights=dict.fromkeys(FAULT_KINDS, 1.0) | {"kill_pool": 1.5},
            redis_down_max=1.0,
        )
        figures = Chaos(config).run()
    for line in figures.lines():
        click.echo(line)
    document = {
        "config": {"minutes": minutes, "seed": seed, "interval": interval, "workers": workers},
        "machine": {"cpus": os.cpu_count()},
        # By hand: dataclasses.asdict turns a Counter into a Counter of pairs.
        "figures": {f.name: _plain(getattr(figures, f.name)) for f in dataclasses.fields(figures)},
    }
    out.write_text(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
    sys.exit(1 if failed(figures) else 0)


if __name__ == "__main__":
    main()
