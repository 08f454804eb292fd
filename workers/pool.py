"""Celery's prefork pool, made to survive pool processes killed at awkward moments.

The soak (kill -9 of pool processes with Redis restarts in between) ended
workers through three faults of Celery's ``AsynPool``, each of which turns
the loss of one pool process, which billiard would simply replace, into the
loss of the whole worker:

- **Killed while the worker starts.**  As its consumer's event loop starts
  for the first time, Celery checks that the pool processes "were able to
  start": billiard's ``did_start_ok`` reaps every process that has exited
  since the fork and fails if there is any, so a process killed from
  outside in that window (long when the broker is slow to answer at start)
  ended the worker with ``WorkerLostError('Could not start worker
  processes')``.  Here only a process that ended on its own (an exit code,
  as when its start-up raised) fails the check; one ended by a signal is
  replaced (billiard's restart limit still applies).
- **Killed while the consumer could not connect.**  A consumer that fails
  to start (Redis restarting) closes, and its close maintains the pool,
  reaping dead processes and forking new ones.  Before the pool was first
  registered with the event loop it has no ``on_process_down`` hook, and
  billiard frees a reaped process's queue pair only through that hook: the
  slot stayed owned by the dead process, the new process found no free pair
  and the worker ended on ``StopIteration`` (``get_process_queues``).  Here
  a pair whose owner was reaped is given back first.
- **Killed just before the consumer restarts.**  When a process's exit is
  seen, its sentinel is taken off the event loop (``_sentinel_poll`` set to
  ``None``) before it is reaped; if it could not be reaped yet and the
  consumer restarts (a Redis restart) in between, registering the pool again
  handed that ``None`` to the event loop, whose ``fileno`` raises
  ``ValueError('file descriptor is None')``, which Celery does not catch,
  and the worker ended.  Here such a process's sentinel is watched anew, so
  its exit is handled (reaped and replaced) as the loop starts.

And one fault of its warm shutdown, which made a worker told to stop take
more than 30 s and hand back a message it had run:

- **Stopped while a job is in a pool process's pipe.**  When the consumer
  closes, Celery's ``flush`` drops from the pool's books every job no pool
  process has acknowledged yet, so that the broker redelivers it; but a job
  already written (or being written) to a live process's pipe is run by
  that process all the same.  The pool stops reading results once its books
  are empty, and the process, on its way out, waits 30 s (billiard's
  ``_ensure_messages_consumed``) for the result nobody reads; the message
  was then restored to the queue and evaluated again.  Here such a job stays
  on the books: its result is read, its message acknowledged once it ran,
  as for any job under way when the worker was told to stop.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.concurrency.asynpool import AsynPool
from celery.concurrency.prefork import TaskPool

log = logging.getLogger(__name__)


def started_ok(exitcodes: list[int | None]) -> bool:
    """Whether pool processes that ended before the first check still mean a good start.

    A negative exit code is a signal from outside (not a failure of the
    process to start); ``None`` is a process never started, which is one.
    """
    return all(code is not None and code < 0 for code in exitcodes)


def handed_to_live_process(process: Any) -> bool:
    """Whether a job's write went to (is going to) ``process``, a pool process still alive.

    ``_write_to`` is set as the write of the job to a process's pipe begins;
    a job only in the outgoing buffer has none, and is rightly left for
    redelivery.
    """
    return process is not None and bool(process._is_alive())


class SturdyPool(AsynPool):  # type: ignore[misc]  # Celery ships no type hints
    """``AsynPool`` that replaces a killed pool process wherever the kill lands, and
    waits at a warm shutdown for the jobs its processes were handed.
    """

    def did_start_ok(self) -> bool:
        exitcodes: list[int | None] = self._join_exited_workers()
        if not exitcodes:
            return True
        if not started_ok(exitcodes):
            return False
        log.warning(
            "%d pool processes were killed while the worker started (%s): replaced",
            len(exitcodes),
            ", ".join(str(c) for c in exitcodes),
        )
        # What billiard's own maintenance does after reaping: new processes,
        # and the slots of the reaped ones given back.
        self._repopulate_pool(exitcodes)
        for _ in exitcodes:
            if self._putlock is not None:
                self._putlock.release()
        return True

    def flush(self) -> None:
        # A job a live process has, or is being handed, is run by it whatever
        # the books say: keep it there, so that the shutdown waits for it.
        handed = [
            job
            for job in self._cache.values()
            if not job._accepted and handed_to_live_process(job._write_to)
        ]
        super().flush()
        for job in handed:
            self._cache[job._job] = job

    def get_process_queues(self) -> Any:
        for queues, owner in list(self._queues.items()):
            if owner is not None and owner not in self._pool and not owner._is_alive():
                log.warning("pool process %s was reaped holding its queues: freed", owner.pid)
                self._queues[queues] = None
        return super().get_process_queues()

    def _track_child_process(self, proc: Any, hub: Any) -> None:
        if getattr(proc, "_sentinel_poll", 0) is None:
            if proc._popen is None:
                return  # reaped already: nothing to watch
            # Seen exiting, not reaped yet: the base class dups its sentinel anew.
            del proc._sentinel_poll
        super()._track_child_process(proc, hub)


class SturdyTaskPool(TaskPool):  # type: ignore[misc]  # Celery ships no type hints
    """Celery's prefork ``TaskPool`` on ``SturdyPool``: ``pool_cls`` of lookout's workers."""

    Pool: Any = SturdyPool
