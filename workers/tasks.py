"""The worker's Celery tasks, bound to one ``Definitions`` and ``Settings``.

``register_tasks`` puts the tick task and the run task on an app made by
``lookout.workers.app.make_celery``; nothing is registered at import time.  The code
location is loaded before the pool forks, so each child inherits it; what
holds a Redis connection is built once per process: as the pool process
starts (``prepare_process``), or on first use.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from celery.exceptions import Reject

from lookout._author.definitions import Definitions
from lookout._base.wire import RUN_TASK, TICK_TASK, DeadLetter
from lookout._core.settings import Settings
from lookout._core.storage import (
    DeadLetterStore,
    Death,
    Quarantine,
    Repositories,
    TickLedger,
)
from lookout._core.transient import TRANSIENT_ERRORS
from lookout._process.tick import TickRunner, tick_runner
from lookout._process.timeout import HARD_EXIT_STATUS
from lookout.workers.batch import TickBatch, defined_names, holder_name
from lookout.workers.keeper import LeaseKeeper
from lookout.workers.runs import Delivery, RunExecutor
from lookout.workers.ticks import payload_bytes, tick_refs

log = logging.getLogger(__name__)

# Redis briefly away: a run message goes back to the queue, a tick message's ticks
# are given back by the process; neither is lost (invariant 7).
_TRANSIENT = TRANSIENT_ERRORS


@dataclass(frozen=True)
class _ProcessState:
    pid: int
    dead_letters: DeadLetterStore
    runner: TickRunner
    keeper: LeaseKeeper
    known: frozenset[str]
    runs: RunExecutor


def death_of(status: str, redelivery_ttl: float) -> Death:
    """What a pool process's end (billiard's ``exitcode N`` / ``signal N (NAME)``) says."""
    signal = re.search(r"signal (\d+)(?: \((\w+)\))?", status)
    code = re.search(r"exitcode (-?\d+)", status)
    if signal and signal.group(2) == "SIGPROF":
        cause = (
            f"it ran past its timeout without returning to Python (stuck in C code), so "
            f"its process was ended by its CPU-time limit (signal {signal.group(1)}, SIGPROF)"
        )
        return Death(cause, False, redelivery_ttl)
    if signal:
        name = signal.group(2) or "?"
        cause = (
            f"its process was killed by signal {signal.group(1)} ({name}): "
            "out of memory, or an operator"
        )
        return Death(cause, True, redelivery_ttl)
    if code and int(code.group(1)) == HARD_EXIT_STATUS:
        cause = (
            f"it ignored its timeout, so its process ended itself (exit code {HARD_EXIT_STATUS})"
        )
        return Death(cause, False, redelivery_ttl)
    if code:
        cause = f"its process exited with code {code.group(1)} mid-evaluation (os._exit?)"
        return Death(cause, True, redelivery_ttl)
    return Death(f"its process died: {status}", True, redelivery_ttl)


class WorkerTasks:
    """What the tasks run; the per-process parts are built lazily in each process."""

    def __init__(self, definitions: Definitions, settings: Settings) -> None:
        self.definitions = definitions
        self.settings = settings
        self._state: _ProcessState | None = None
        self._ledger: TickLedger | None = None  # the parent's, for dead pool processes

    def _process(self) -> _ProcessState:
        pid = os.getpid()
        if self._state is None or self._state.pid != pid:
            repos = Repositories.from_settings(self.settings)
            self._state = _ProcessState(
                pid,
                repos.dead_letters,
                tick_runner(self.definitions, repos, self.settings),
                LeaseKeeper(repos.ticks, self.settings),
                defined_names(self.definitions),
                RunExecutor(self.definitions, repos.runs, self.settings),
            )
            # Each sensor's per-tick plan (and logger) made now, to be frozen too.
            self._state.runner.prepare()
            # What the process holds for good (Celery, the definitions of every
            # sensor) leaves the collector's generations: a full collection,
            # which the ticks' garbage brings on every few thousand ticks, then
            # walks only what was made since, not the whole process again.
            gc.freeze()
        return self._state

    def prepare_process(self) -> None:
        """Build this pool process's part as it starts, before it takes a message.

        Built on the first message instead, it held that message's ticks
        back (10,000 sensors: ~110 ms of plans on a 2-core machine, in
        each new pool process, the first round after a start or a
        replacement).  No I/O: the Redis connections open on first use.
        """
        began = time.perf_counter()
        state = self._process()
        log.info(
            "pool process %d ready: %d sensors and schedules prepared in %.0f ms",
            state.pid,
            len(state.known),
            (time.perf_counter() - began) * 1000,
        )

    def dead_letter(self, source: str, reason: str, payload: bytes, ref: str | None) -> None:
        letter = DeadLetter(source=source, reason=reason, payload=payload, at=time.time(), ref=ref)
        self._process().dead_letters.add(letter, self.settings.dead_letter_max)

    def tick_batch(
        self, task_id: str | None, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> dict[str, int]:
        """Evaluate and commit the ticks of one message."""
        state = self._process()

        def bury(reason: str, payload: bytes, ref: str | None) -> None:
            self.dead_letter(f"queue:{self.settings.tick_queue}", reason, payload, ref)

        job = task_id or uuid.uuid4().hex
        batch = TickBatch(state.runner, state.keeper, bury, job, known=state.known)
        try:
            return batch.handle(args, kwargs).to_log()
        except _TRANSIENT as exc:
            # Acknowledged on receipt (``register_tasks``): no requeue to ask for;
            # the batch owes the ticks it did not commit.
            outcome = batch.tally.outcome()
            log.warning(
                "message %s stopped, Redis unavailable (%s): its %d ticks not committed are "
                "given back once Redis answers",
                job,
                exc,
                outcome.owed,
            )
            return outcome.to_log()

    def process_died(self, task_id: str, pid: int, args: Sequence[Any], status: str) -> str:
        """In the worker's main process: pool process ``pid``, running ``task_id``, died.

        The message comes back (Celery sends it again: the tick task's
        ``retry_on_worker_lost``), so the ticks it held go back to wait for
        it; the tick it was evaluating becomes a FAILURE saying how the process
        ended (its sensor quarantined if it keeps doing so), unless the death
        looks like chance and is its first.  Returns that sensor ("": none).
        """
        if self._ledger is None:
            self._ledger = Repositories.from_settings(self.settings).ticks
        quarantine = Quarantine(
            self.settings.quarantine_after, self.settings.quarantine_backoff_cap
        )
        death = death_of(status, self.settings.inflight_ttl)
        holder = holder_name(socket.gethostname(), pid, task_id)
        done = self._ledger.abandon(tick_refs(args), holder, death, time.time(), quarantine)
        if done.sensor:
            log.error(
                "a pool process died evaluating sensor %s (%s): %s",
                done.sensor,
                "its tick failed" if done.outcome == "failed" else "evaluated once more",
                death.cause,
            )
        return done.sensor

    def run(
        self, task_id: str | None, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> RunMessage:
        """Handle one delivery of a run message: each of its runs, one after another.

        Every run's delivery is idempotent (a run starts only from QUEUED), so
        a message given back after this process died, or Redis went away,
        mid-way runs only the runs not started yet and settles the others.  A
        run whose executor raised has ended as a FAILURE: the runs after it in
        the message still run.
        """
        run_ids = _run_ids(args, kwargs)
        if run_ids is None:
            reason = (
                "a run message takes one argument, a run id or a list of run ids; "
                f"got {list(args)!r:.200}"
            )
            payload = payload_bytes({"args": list(args), "kwargs": dict(kwargs)})
            self.dead_letter(f"queue:{self.settings.run_queue}", reason, payload, task_id)
            return RunMessage((), ())
        executor = self._process().runs
        deliveries: list[tuple[str, Delivery]] = []
        errors: list[Exception] = []
        for run_id in run_ids:
            try:
                delivery = executor.deliver(run_id)
            except _TRANSIENT as exc:
                raise Reject(f"Redis unavailable: {exc}", requeue=True) from exc
            except Exception as exc:
                log.exception("run %s ended abnormally; the message's other runs go on", run_id)
                errors.append(exc)
                continue
            if delivery is Delivery.MISSING:
                reason = f"no run with id {run_id!r}"
                self.dead_letter(
                    f"queue:{self.settings.run_queue}", reason, payload_bytes(run_id), task_id
                )
            deliveries.append((run_id, delivery))
        return RunMessage(tuple(deliveries), tuple(errors))


@dataclass(frozen=True)
class RunMessage:
    """What the deliveries of one run message's runs came to, and the errors raised."""

    deliveries: tuple[tuple[str, Delivery], ...]
    errors: tuple[Exception, ...]

    def busy(self) -> list[str]:
        """The runs another live executor still holds: to look at again later."""
        return [run_id for run_id, d in self.deliveries if d is Delivery.BUSY]

    def summary(self) -> str:
        """One delivery's value, or the count of each for a pack."""
        if len(self.deliveries) == 1 and not self.errors:
            return str(self.deliveries[0][1].value)
        counts = Counter(d.value for _, d in self.deliveries)
        return ", ".join(f"{n} {value}" for value, n in sorted(counts.items()))


def _run_ids(args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[str] | None:
    """The run ids a run message names (one, or a non-empty list); None: malformed."""
    if kwargs or len(args) != 1:
        return None
    arg = args[0]
    if isinstance(arg, str):
        return [arg]
    if isinstance(arg, list | tuple) and arg and all(isinstance(i, str) for i in arg):
        return list(arg)
    return None


def _tick_request(tasks: WorkerTasks) -> type[Any]:
    """The tick task's ``Request`` class: in the worker's main process, it tells
    ``tasks`` when the pool process running a tick message died.
    """
    from billiard.exceptions import WorkerLostError
    from celery.worker.request import Request

    def on_failure(self: Any, exc_info: Any, *args: Any, **kwargs: Any) -> Any:
        exc = getattr(exc_info, "exception", None)
        exc = getattr(exc, "exc", exc)  # unwrap ExceptionWithTraceback
        status = None
        if isinstance(exc, WorkerLostError):
            status = str(exc)
        elif isinstance(exc, SystemExit):
            status = f"exitcode {exc.code if isinstance(exc.code, int) else 1}"
        pid = self.worker_pid
        if status is not None and isinstance(pid, int):
            try:
                tasks.process_died(self.id, pid, self.args, status)
            except _TRANSIENT as lost:
                log.warning("could not record the death of a pool process: %s", lost)
        return Request.on_failure(self, exc_info, *args, **kwargs)

    return type("TickRequest", (Request,), {"on_failure": on_failure})


def register_tasks(app: Any, definitions: Definitions, settings: Settings) -> WorkerTasks:
    """Register the tick task and the run task on ``app``; returns what they run."""
    tasks = WorkerTasks(definitions, settings)

    def tick_batch(task: Any, *args: Any, **kwargs: Any) -> dict[str, int]:
        return tasks.tick_batch(task.request.id, args, kwargs)

    def run(task: Any, *args: Any, **kwargs: Any) -> str:
        message = tasks.run(task.request.id, args, kwargs)
        busy = message.busy()
        if busy:
            # Another executor holds these runs' leases: look again once they
            # could have lapsed (only at them: the message's others are done).
            again = busy[0] if len(busy) == 1 else busy
            raise task.retry(args=[again], kwargs={}, countdown=settings.run_lease)
        if message.errors:
            raise message.errors[0]
        return message.summary()

    # The tick task is acknowledged when a pool process takes it, not when it ends:
    # a late ack is a blocking round trip in the worker's main process, made while
    # the pool process that finished waits for its next message, and it queues
    # behind every other client's scripts on Redis (capacity +7-15%, bench/RESULTS.md
    # "Round 9").  Nothing relies on the broker to bring a tick back: a pool
    # process's death sends the message again (``retry_on_worker_lost``, at once
    # and without limit, as a requeue did; ``process_died`` first gives its ticks
    # back to wait for it), Redis lost mid-message owes its ticks (``TickBatch.handle``),
    # and a whole worker's death leaves leases that lapse and are swept.
    app.task(
        name=TICK_TASK,
        bind=True,
        typing=False,
        Request=_tick_request(tasks),
        acks_late=False,
        retry_on_worker_lost=True,
        default_retry_delay=0,
        max_retries=None,
    )(tick_batch)
    app.task(name=RUN_TASK, bind=True, typing=False, max_retries=None)(run)
    return tasks
