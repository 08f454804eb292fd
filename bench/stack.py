"""lookout's processes as the benchmark runs them: real ``lookout`` commands, each its own group.

``Stack.start`` launches the scheduler, one worker (a prefork pool of
``workers`` processes) and the launcher on a code location file, with the
``LOOKOUT_*`` settings given; ``wait_ready`` returns once the scheduler leads
and the worker and launcher heartbeat.  ``stop`` ends them with SIGTERM
(SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import TreeSample, children, peak_rss_kib
from lookout._core.storage import LeaderStore, ProcessStore

ROOT = Path(__file__).resolve().parent.parent
ROLES = ("scheduler", "worker", "launcher")


def lookout_env(redis_url: str, settings: Mapping[str, object]) -> dict[str, str]:
    """This interpreter's environment, pointed at ``redis_url``, with ``LOOKOUT_<NAME>`` set."""
    env = dict(os.environ)
    env.update(
        LOOKOUT_REDIS_URL=redis_url,
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
        PYTHONUNBUFFERED="1",
    )
    env.update({f"LOOKOUT_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def start_process(
    argv: Sequence[str], env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own process group, its output to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=str(ROOT),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_process(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process's group, SIGKILL it if it outlives ``grace``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@dataclass
class Stack:
    """A scheduler, a worker pool and a launcher on one code location."""

    location: Path
    redis_url: str
    logs: Path
    workers: int = 2
    settings: Mapping[str, object] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> Stack:
        env = lookout_env(self.redis_url, self.settings)
        cli = [sys.executable, "-m", "lookout._tools.cli"]
        where = ["-f", str(self.location)]
        commands = {
            "worker": [*cli, "worker", "-c", str(self.workers), "--loglevel", "WARNING", *where],
            "launcher": [*cli, "launcher", *where],
            "scheduler": [*cli, "scheduler", "--loglevel", "WARNING", *where],
        }
        for role, argv in commands.items():
            self.procs[role] = start_process(argv, env, self.logs / f"{role}.log")
        return self

    def wait_ready(
        self, processes: ProcessStore, leader: LeaderStore, timeout: float = 120.0
    ) -> None:
        """Until the scheduler leads and has recorded its sensors, and the worker and
        launcher heartbeat.

        A new leader records every sensor of its code before its first round
        (~0.6 CPU-s at 100,000 sensors): measured, that one-off cost would pass
        for a cost of the rounds that grows with the sensors registered.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            beats = processes.heartbeats()
            roles = {p.role for p in beats}
            synced = any(
                p.role == "scheduler" and p.leader and p.details.get("synced") == "1" for p in beats
            )
            if {"worker", "launcher"} <= roles and synced and leader.token() is not None:
                return
            time.sleep(0.1)
        raise TimeoutError(f"lookout processes not ready in {timeout:g} s (logs in {self.logs})")

    def check_alive(self) -> None:
        for role, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"lookout {role} exited with {proc.returncode} (log: {self.logs}/{role}.log)"
                )

    def cpu(self) -> dict[str, TreeSample]:
        """CPU seconds of each role's process tree now."""
        return {role: TreeSample.take(proc.pid) for role, proc in self.procs.items()}

    def peak_memory_kib(self) -> dict[str, int]:
        """VmHWM per process kind: scheduler, worker main, worker pool (largest child), launcher."""
        worker = self.procs["worker"].pid
        pool = children(worker)
        return {
            "scheduler": peak_rss_kib(self.procs["scheduler"].pid),
            "worker_main": peak_rss_kib(worker),
            "worker_pool_child": max((peak_rss_kib(p) for p in pool), default=0),
            "launcher": peak_rss_kib(self.procs["launcher"].pid),
        }

    def stop(self) -> None:
        # The scheduler first, so nothing new is published while the rest stop.
        for role in ("scheduler", "launcher", "worker"):
            proc = self.procs.get(role)
            if proc is not None:
                stop_process(proc)
        self.procs.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
