"""The raw Celery baseline: no-op tasks on the same Redis, 2 prefork processes, end to end.

Two configurations: Celery's own defaults, and Celery as lookout configures
it (``lookout.workers.app.make_celery``: msgpack, late acks, prefetch 1, no task events).
Each task only increments a counter, so the figure is the engine's own rate:
publish N tasks, time until the counter reaches N.

Run as ``python -m bench.noop --url URL --config defaults|lookout -c 2`` to
start the baseline's worker (the harness does).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
import redis
from celery import Celery

from bench.stack import lookout_env, start_process, stop_process
from lookout._core.settings import Settings
from lookout.workers.app import make_celery

NOOP_TASK = "bench.noop"
# The baseline's own keys, on the benchmark's throwaway Redis (not lookout's layout).
COUNTER_KEY = "bench:noop:done"
PREFIX = "bench:"
CONFIGS = ("defaults", "lookout")


def noop_app(url: str, config: str) -> Any:
    """A Celery app with the no-op task registered, in one of ``CONFIGS``."""
    if config == "lookout":
        app = make_celery(Settings(redis_url=url, key_prefix=PREFIX), name="bench")
    else:
        app = Celery("bench", broker=url, set_as_current=False)
        app.conf.task_ignore_result = True
    clients: dict[int, redis.Redis] = {}

    def noop() -> None:
        client = clients.get(os.getpid())
        if client is None:
            client = clients[os.getpid()] = redis.Redis.from_url(url)
        client.incr(COUNTER_KEY)

    app.task(name=NOOP_TASK)(noop)
    return app


def start_worker(url: str, config: str, concurrency: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "bench.noop", "--url", url, "--config", config]
    return start_process([*argv, "-c", str(concurrency)], lookout_env(url, {}), log)


def rate(url: str, config: str, tasks: int, logs: Path, concurrency: int = 2) -> dict[str, float]:
    """No-op tasks per second end to end, and the worker's CPU per task."""
    from bench.procs import TreeSample

    client = redis.Redis.from_url(url)
    client.flushall()
    app = noop_app(url, config)
    worker = start_worker(url, config, concurrency, logs / f"celery-{config}.log")
    try:
        _send(app, 1)  # warm: the pool is up and consuming
        _wait_count(client, 1, worker, timeout=120)
        client.set(COUNTER_KEY, 0)
        cpu0, start = TreeSample.take(worker.pid), time.perf_counter()
        _send(app, tasks)
        _wait_count(client, tasks, worker, timeout=max(60.0, tasks / 20))
        elapsed = time.perf_counter() - start
        cpu = TreeSample.take(worker.pid).since(cpu0)
    finally:
        stop_process(worker)
        app.close()
        client.flushall()
        client.close()
    return {
        "tasks": tasks,
        "tasks_per_s": tasks / elapsed,
        "worker_cpu_ms_per_task": 1e3 * cpu / tasks,
    }


def _send(app: Any, count: int) -> None:
    with app.producer_or_acquire() as producer:
        for _ in range(count):
            app.send_task(NOOP_TASK, producer=producer)


def _wait_count(
    client: redis.Redis, target: int, worker: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while int(client.get(COUNTER_KEY) or 0) < target:
        if worker.poll() is not None:
            raise RuntimeError(f"the baseline's Celery worker exited with {worker.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the baseline's tasks did not finish in {timeout:g} s")
        time.sleep(0.005)


@click.command()
@click.option("--url", required=True)
@click.option("--config", type=click.Choice(CONFIGS), default="defaults")
@click.option("-c", "--concurrency", type=int, default=2)
def main(url: str, config: str, concurrency: int) -> None:
    """A Celery prefork worker that runs the no-op task."""
    app = noop_app(url, config)
    worker = app.Worker(
        pool_cls="prefork",
        concurrency=concurrency,
        loglevel="WARNING",
        without_mingle=True,
        without_gossip=True,
    )
    worker.start()
    sys.exit(int(worker.exitcode or 0))


if __name__ == "__main__":
    main()
