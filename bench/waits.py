"""Where one phase's processes wait: the real stack under a load and, over its
window, each process's share of a core, how often it was runnable, the
machine's idle CPU and Redis's time per command.

At capacity the stack leaves CPU idle while ticks are late (bench/RESULTS.md,
Round 16): these figures tell a process that waits for a core (runnable more
often than it runs) from one that waits for Redis or for work (neither).
Run states are read from /proc every ``--every`` s, of every thread each
process has as the window opens (a process is runnable when one of them
is).  Each reading takes the sampler a core for a moment, so "one runnable
at once" is another process beside the sampler.  Redis's command times come
from ``INFO commandstats``, reset as the window opens: a script's time
includes the commands it calls, which are counted again under their own
names.

    python -m bench.waits                  # a capacity phase: 10,000 sensors at 0.25 s
    python -m bench.waits -s 12000 -i 1    # about half load on a 2-core machine
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import redis

from bench.phases import PhaseSpec, run_phase
from bench.procs import MACHINE_KINDS, children, cpu_seconds, machine_times
from bench.stack import Stack
from lookout._tools.redis_server import EmbeddedRedis


def watched(stack: Stack, redis_pid: int) -> dict[str, int]:
    """The processes a window watches, by role: Redis, the scheduler, the worker's
    main process and each of its pool processes.
    """
    worker = stack.procs["worker"].pid
    roles = {"redis": redis_pid, "scheduler": stack.procs["scheduler"].pid, "worker_main": worker}
    roles.update({f"pool_{i}": pid for i, pid in enumerate(sorted(children(worker)), 1)})
    return roles


def _open_threads(pid: int) -> list[int]:
    """A descriptor of each thread's stat file (read again at each reading)."""
    fds: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError):
                fds.append(os.open(f"/proc/{pid}/task/{tid}/stat", os.O_RDONLY))
    return fds


def _runnable(threads: list[int]) -> bool:
    for fd in threads:
        try:
            raw = os.pread(fd, 1024, 0)
        except OSError:  # the thread has ended
            continue
        # The state follows the command name, which may hold spaces: after its ')'.
        state = raw.rindex(b")") + 2
        if raw[state : state + 1] == b"R":
            return True
    return False


@dataclass
class WaitWatch:
    """A phase's window (``run_phase``'s ``during``) that reads where processes wait.

    ``every``: seconds between run-state readings; ``top``: Redis commands kept,
    by their time.  The figures are in ``figures`` once the window has run.
    """

    redis: EmbeddedRedis
    every: float = 0.0005
    top: int = 12
    figures: dict[str, Any] = field(default_factory=dict)

    def __call__(self, stack: Stack, duration: float) -> None:
        assert self.redis.process is not None
        roles = watched(stack, self.redis.process.pid)
        threads = {role: _open_threads(pid) for role, pid in roles.items()}
        client = redis.Redis.from_url(self.redis.url)
        try:
            client.config_resetstat()
            cpu0 = {role: cpu_seconds(pid) for role, pid in roles.items()}
            machine0, start = machine_times(), time.monotonic()
            runnable, at_once, readings = self._sample(threads, start + duration)
            elapsed = time.monotonic() - start
            machine1, commands = machine_times(), client.info("commandstats")
            cpu1 = {role: cpu_seconds(pid) for role, pid in roles.items()}
        finally:
            client.close()
            for fds in threads.values():
                for fd in fds:
                    os.close(fd)
        self.figures = {
            "processes": {
                role: {
                    "cpu_share": round((cpu1[role] - cpu0[role]) / elapsed, 3),
                    "runnable_share": round(runnable[role] / readings, 3),
                }
                for role in roles
            },
            "runnable_at_once": {str(k): round(at_once[k] / readings, 3) for k in sorted(at_once)},
            "readings": readings,
            "machine_share": _shares(machine0, machine1),
            "redis_commands": _top_commands(commands, elapsed, self.top),
        }

    def _sample(
        self, threads: dict[str, list[int]], until: float
    ) -> tuple[Counter[str], Counter[int], int]:
        runnable: Counter[str] = Counter()
        at_once: Counter[int] = Counter()
        readings = 0
        while time.monotonic() < until:
            running = [role for role, fds in threads.items() if _runnable(fds)]
            runnable.update(running)
            at_once[len(running)] += 1
            readings += 1
            time.sleep(self.every)
        return runnable, at_once, max(1, readings)


def _shares(before: dict[str, int], after: dict[str, int]) -> dict[str, float]:
    spent = {kind: after[kind] - before[kind] for kind in MACHINE_KINDS}
    total = max(1, sum(spent.values()))
    return {kind: round(ticks / total, 3) for kind, ticks in spent.items()}


def _top_commands(stats: dict[str, Any], elapsed: float, top: int) -> list[dict[str, Any]]:
    by_time = sorted(stats.items(), key=lambda item: -float(item[1]["usec"]))
    return [
        {
            "command": name.removeprefix("cmdstat_"),
            "calls": int(s["calls"]),
            "usec_per_call": float(s["usec_per_call"]),
            "share_of_window": round(float(s["usec"]) / (elapsed * 1e6), 4),
        }
        for name, s in by_time[:top]
    ]


@click.command()
@click.option("-s", "--sensors", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("-i", "--interval", type=float, default=0.25, show_default=True, help="Seconds.")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("-d", "--duration", type=float, default=10.0, show_default=True, help="Window, s.")
@click.option("--warmup", type=float, default=3.0, show_default=True, help="Seconds before it.")
@click.option("--every", type=float, default=0.0005, show_default=True, help="Between readings, s.")
@click.option("--top", type=click.IntRange(min=1), default=12, show_default=True)
def main(
    sensors: int,
    interval: float,
    workers: int,
    duration: float,
    warmup: float,
    every: float,
    top: int,
) -> None:
    """Where a phase's processes wait: CPU, run states and Redis's commands, as JSON."""
    spec = PhaseSpec("waits", sensors, interval, duration, warmup, workers)
    with EmbeddedRedis() as server, tempfile.TemporaryDirectory(prefix="lookout-waits-") as tmp:
        watch = WaitWatch(server, every, top)
        result = run_phase(server, Path(tmp), spec, watch)
    click.echo(json.dumps({**result.to_json(), **watch.figures}, indent=2))


if __name__ == "__main__":
    main()
