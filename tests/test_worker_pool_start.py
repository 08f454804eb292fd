"""A pool process killed at an awkward moment is replaced; the worker lives on.

Celery's first start of its event loop checks that no pool process has
exited since the fork and, if one has, ends the worker with
``WorkerLostError('Could not start worker processes')``, even when the
process was killed from outside (kill -9, the OOM killer).  The soak lost
workers to it.  Here the worker's main process is held (SIGSTOP) between
the pool's fork and that check, a pool process is killed with SIGKILL, and
the main process resumed: the worker must replace it and evaluate ticks.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from kombu.asynchronous import Hub

from lookout._core.settings import Settings
from lookout._tools.location import load_definitions
from lookout.testing import Repositories
from lookout.workers.batch import defined_names
from lookout.workers.pool import SturdyPool, started_ok
from tests.conftest import Process, Spawn, process_env, wait_for
from tests.locations.work_support import log_text, pool_children, start_worker, tick_and_wait

LOCATION = "tests.locations.work_basic"


def _ended(pid: int) -> bool:
    """Dead: gone, or a zombie its parent has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_pool_process_killed_while_the_worker_starts_is_replaced_and_the_worker_lives(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    worker = spawn(
        ["lookout", "worker", "-m", LOCATION, "-c", "2"], process_env(settings), log_name="worker"
    )
    wait_for(
        lambda: len(pool_children(worker.pid)) == 2, 60, interval=0.005, what="the pool's fork"
    )
    # The pool forks before the consumer connects; the check comes after.
    os.kill(worker.pid, signal.SIGSTOP)
    try:
        assert " ready." not in log_text(worker), "the worker started before the pause"
        victim = pool_children(worker.pid)[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: _ended(victim), 10, what="the pool process's death")
    finally:
        os.kill(worker.pid, signal.SIGCONT)
    wait_for(
        lambda: "killed while the worker started" in log_text(worker) or worker.poll() is not None,
        60,
        what="the worker's start check",
    )
    assert worker.poll() is None, log_text(worker)[-3000:]
    assert "Could not start worker processes" not in log_text(worker)
    wait_for(lambda: len(pool_children(worker.pid)) == 2, 30, what="a replacement pool process")
    tick_and_wait(storage, settings, app, ["counter", "counter_b"], timeout=60)
    assert worker.poll() is None, log_text(worker)[-3000:]


def test_only_a_process_ended_by_a_signal_leaves_the_start_good() -> None:
    assert started_ok([-9])
    assert started_ok([-9, -15])
    assert not started_ok([1])  # its start-up failed: Celery's own verdict stands
    assert not started_ok([-9, 1])
    assert not started_ok([None])


@pytest.fixture
def pool() -> Iterator[SturdyPool]:
    """A real pool of one process, as a worker holds it before its event loop starts."""
    started = SturdyPool(processes=1, threads=False)
    yield started
    started.terminate()


def _event_loop() -> Any:
    """kombu's event loop, as a worker's consumer makes it (kombu ships no type hints)."""
    loop: Any = Hub
    return loop()


def _kill_and_wait(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: _ended(pid), 10, what="the pool process's death")


def test_a_process_killed_before_the_event_loop_is_replaced_when_the_pool_is_maintained(
    pool: SturdyPool,
) -> None:
    # A consumer that cannot connect at start closes and maintains its pool
    # before the pool was ever registered with the event loop: Celery's own
    # pool kept the dead process's queue pair and raised StopIteration here.
    victim = pool._pool[0].pid
    _kill_and_wait(victim)
    pool.maintain_pool()
    assert [p.pid for p in pool._pool] != [victim]
    assert len(pool._pool) == 1 and pool._pool[0]._is_alive()


def test_a_process_seen_exiting_but_not_reaped_survives_a_consumer_restart(
    pool: SturdyPool,
) -> None:
    # Its exit seen (its sentinel off the loop), not reaped yet, when the
    # consumer restarts and registers the pool again: Celery's own pool gave
    # the loop a None file descriptor and the worker died of the ValueError.
    hub = _event_loop()
    pool.register_with_event_loop(hub)
    dead = pool._pool[0]
    _kill_and_wait(dead.pid)
    pool._untrack_child_process(dead, hub)
    pool.register_with_event_loop(hub)  # the consumer's restart
    assert dead._sentinel_poll is not None  # watched again: its exit is handled
    pool.maintain_pool()
    assert dead not in pool._pool and len(pool._pool) == 1
    hub.close()


def _prepared(worker: Process, pid: int, count: int) -> bool:
    return f"pool process {pid} ready: {count} sensors and schedules prepared" in log_text(worker)


def test_each_pool_process_and_its_replacement_prepares_its_sensors_before_any_message(
    spawn: Spawn, settings: Settings
) -> None:
    count = len(defined_names(load_definitions(module=LOCATION)))
    worker = start_worker(spawn, settings, LOCATION, concurrency=2)
    children = pool_children(worker.pid)
    assert len(children) == 2
    # No tick was sent: each process prepared as it started, not on a first message.
    for pid in children:
        wait_for(partial(_prepared, worker, pid, count), 30, what=f"{pid} prepared")
    os.kill(children[0], signal.SIGKILL)
    wait_for(
        lambda: len(set(pool_children(worker.pid)) - set(children)) == 1,
        30,
        what="a replacement pool process",
    )
    (replacement,) = set(pool_children(worker.pid)) - set(children)
    wait_for(lambda: _prepared(worker, replacement, count), 30, what="the replacement prepared")
