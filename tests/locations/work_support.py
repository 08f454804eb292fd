"""Helpers for the worker, launcher, run and event-sensor tests (not a code location).

They start real ``lookout worker`` / ``lookout launcher`` processes and drive
ticks the way the scheduler does: claim the sensor in Redis, then publish one
tick message carrying a batch of ticks, in columns as the scheduler sends them.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from lookout import Settings
from lookout.testing import TICK_TASK, EventKind, Repositories, RunEvent, TickMessage
from lookout.workers.ticks import pack_ticks
from tests.conftest import Process, Spawn, process_env, start_ready, wait_for


def log_text(proc: subprocess.Popen[str]) -> str:
    """The output of a process the ``spawn`` fixture started."""
    assert isinstance(proc, Process)
    return proc.log_text()


def start_worker(
    spawn: Spawn,
    settings: Settings,
    module: str,
    *,
    concurrency: int = 1,
    queues: str | None = None,
    env: dict[str, str] | None = None,
) -> Process:
    """A real ``lookout worker``, returned once Celery says it is ready."""
    args = ["lookout", "worker", "-m", module, "-c", str(concurrency)]
    if queues:
        args += ["-Q", queues]
    full_env = process_env(settings, **(env or {}))
    return start_ready(spawn, args, full_env, " ready.", "the worker to be ready", "worker")


def start_launcher(
    spawn: Spawn, settings: Settings, module: str, *, env: dict[str, str] | None = None
) -> Process:
    """A real ``lookout launcher``, returned once it reads the launch stream."""
    args = ["lookout", "launcher", "-m", module]
    full_env = process_env(settings, **(env or {}))
    return start_ready(spawn, args, full_env, " reading ", "the launcher to start", "launcher")


# A worker evaluates a tick only if a whole timeout still fits before its
# in-flight deadline; the tests' settings leave 2 s for the message to get
# there.  These claims leave more, so that a loaded test machine (or a pool
# process killed and replaced) does not make a worker give the tick back.
CLAIM_SLACK = 10.0


def claim_ticks(
    storage: Repositories, settings: Settings, names: Iterable[str]
) -> list[TickMessage]:
    """Claim one tick of each sensor, as the scheduler does before publishing."""
    ticks = []
    for name in names:
        tick_id = uuid.uuid4().hex
        now = time.time()
        held = storage.ticks.claim(name, tick_id, settings.inflight_ttl + CLAIM_SLACK, now)
        assert held == tick_id, f"sensor {name} has tick {held} in flight"
        ticks.append(TickMessage(name, tick_id, now))
    return ticks


def publish(app: Any, ticks: Sequence[TickMessage]) -> None:
    """One tick message with a batch of ticks: the scheduler's one positional argument."""
    app.send_task(TICK_TASK, args=[pack_ticks(ticks)])


def publish_maps(app: Any, ticks: Sequence[TickMessage]) -> None:
    """One tick message in the form before columns, a list of ``TickMessage`` maps."""
    app.send_task(TICK_TASK, args=[[t.to_wire() for t in ticks]])


def committed(storage: Repositories, tick: TickMessage) -> bool:
    return any(t.tick_id == tick.tick_id for t in storage.ticks.history(tick.sensor, 20))


def wait_committed(
    storage: Repositories, ticks: Sequence[TickMessage], timeout: float = 20
) -> None:
    wait_for(
        lambda: all(committed(storage, t) for t in ticks),
        timeout,
        what=f"ticks of {[t.sensor for t in ticks]} to commit",
    )


def tick_and_wait(
    storage: Repositories, settings: Settings, app: Any, names: Sequence[str], timeout: float = 20
) -> list[TickMessage]:
    ticks = claim_ticks(storage, settings, names)
    publish(app, ticks)
    wait_committed(storage, ticks, timeout)
    return ticks


def all_events(storage: Repositories) -> list[RunEvent]:
    return [e for _, e in storage.events.read("0-0", 1_000_000)]


def status_events(storage: Repositories, status: str | None = None) -> list[RunEvent]:
    return [
        e
        for e in all_events(storage)
        if e.kind == EventKind.RUN_STATUS.value and (status is None or e.status == status)
    ]


def pool_children(pid: int) -> list[int]:
    """The pids of process ``pid``'s children: a worker's pool processes."""
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def pids_in(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(line) for line in path.read_text().split() if line.strip()]
