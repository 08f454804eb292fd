"""A worker told to stop finishes the message its pool process was handed, and ends in seconds.

Celery's warm shutdown drops from its pool's books every job the pool process
has not acknowledged yet, even one already written to that process's pipe.
The process still runs it, and then, on its way out, waits up to 30 s for
the main process to read a result the main process no longer reads: the
worker took more than 30 s to stop (past the compose file's grace period,
so killed), and the message went back to the queue although its ticks had
been committed.  Here the pool process is paused (SIGSTOP) while the message is
written to it, so it cannot acknowledge the job before the shutdown starts.
"""

from __future__ import annotations

import fcntl
import os
import signal
import termios
import time
from pathlib import Path
from typing import Any

from lookout._core.settings import Settings
from lookout.testing import Repositories
from tests.conftest import Spawn, wait_for
from tests.locations.work_support import (
    claim_ticks,
    log_text,
    pool_children,
    publish,
    start_worker,
    wait_committed,
)

LOCATION = "tests.locations.work_basic"


def _bytes_waiting_in_pipes(pid: int) -> int:
    """Bytes written to the pipes ``pid`` holds and not read yet (its job inqueue among them)."""
    waiting = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if not os.readlink(fd).startswith("pipe:"):
                continue
            # Opening the /proc link opens the same pipe; FIONREAD reads nothing from it.
            handle = os.open(fd, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            count = bytearray(4)
            fcntl.ioctl(handle, termios.FIONREAD, count)
            waiting += int.from_bytes(count, "little")
        finally:
            os.close(handle)
    return waiting


def test_a_worker_stopped_with_a_message_unacknowledged_in_its_pool_runs_it_once_and_ends(
    spawn: Spawn, settings: Settings, storage: Repositories, app: Any
) -> None:
    worker = start_worker(spawn, settings, LOCATION, concurrency=1)
    [pool_process] = pool_children(worker.pid)
    os.kill(pool_process, signal.SIGSTOP)
    try:
        ticks = claim_ticks(storage, settings, ["counter"])
        publish(app, ticks)
        wait_for(
            lambda: _bytes_waiting_in_pipes(pool_process) > 0,
            20,
            what="the message to be written to the paused pool process",
        )
        worker.send_signal(signal.SIGTERM)
        wait_for(lambda: "Warm shutdown" in log_text(worker), 10, what="the warm shutdown")
        time.sleep(1.0)  # the consumer closes and flushes the pool meanwhile
    finally:
        os.kill(pool_process, signal.SIGCONT)
    began = time.monotonic()
    worker.wait(60)
    took = time.monotonic() - began
    assert took < 15, f"the worker took {took:.1f} s to stop:\n{log_text(worker)[-3000:]}"
    wait_committed(storage, ticks)
    # Acknowledged once it ran: not handed back to the queue for a second delivery.
    assert storage.metrics.celery_queue_lengths([settings.tick_queue]) == {settings.tick_queue: 0}
    assert storage.metrics.celery_unacked() == {}
