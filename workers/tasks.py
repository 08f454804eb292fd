"""The worker's Celery tasks, bound to one ``Definitions`` and ``Settings``.

``register_tasks`` puts the tick task and the run task on an app made by
``lookout.workers.app.make_celery``; nothing is registered at import time.  The code
location is loaded before the pool forks, so each child inherits it; what
holds a Redis connection is built once per process, on first use.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from celery.exceptions import Reject

from lookout._author.definitions import Definitions
from lookout._base.wire import RUN_TASK, TICK_TASK, DeadLetter, TickMessage
from lookout._core.settings import Settings
from lookout._core.storage import DeadLetterStore, Repositories
from lookout._process.tick import tick_runner
from lookout.workers.batch import BatchEvaluator
from lookout.workers.runs import Delivery, RunExecutor
from lookout.workers.ticks import TickBatchHandler, payload_bytes

# Redis briefly away: give the message back rather than lose it (invariant 7).
_TRANSIENT = (redis.ConnectionError, redis.TimeoutError)


@dataclass(frozen=True)
class _ProcessState:
    pid: int
    dead_letters: DeadLetterStore
    ticks: TickBatchHandler
    runs: RunExecutor


class WorkerTasks:
    """What the tasks run; the per-process parts are built lazily in each process."""

    def __init__(self, definitions: Definitions, settings: Settings) -> None:
        self.definitions = definitions
        self.settings = settings
        self._state: _ProcessState | None = None

    def _process(self) -> _ProcessState:
        pid = os.getpid()
        if self._state is None or self._state.pid != pid:
            repos = Repositories.from_settings(self.settings)
            runner = tick_runner(self.definitions, repos, self.settings)
            ledger = repos.ticks

            def bury(reason: str, payload: bytes, ref: str | None) -> None:
                self.dead_letter(f"queue:{self.settings.tick_queue}", reason, payload, ref)

            def give_back(tick: TickMessage) -> bool:
                # Not ours to evaluate: back in a whole interval, for a worker that can.
                return bool(ledger.give_back(tick.sensor, tick.tick_id, time.time(), wait=True))

            evaluate = BatchEvaluator(runner, self.settings).run
            self._state = _ProcessState(
                pid,
                repos.dead_letters,
                TickBatchHandler(self.definitions, evaluate, bury, give_back),
                RunExecutor(self.definitions, repos.runs, self.settings),
            )
        return self._state

    def dead_letter(self, source: str, reason: str, payload: bytes, ref: str | None) -> None:
        letter = DeadLetter(source=source, reason=reason, payload=payload, at=time.time(), ref=ref)
        self._process().dead_letters.add(letter, self.settings.dead_letter_max)

    def tick_batch(
        self, task_id: str | None, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> dict[str, int]:
        """Evaluate and commit the ticks of one message."""
        try:
            return self._process().ticks.handle(args, kwargs, task_id).to_log()
        except _TRANSIENT as exc:
            raise Reject(f"Redis unavailable: {exc}", requeue=True) from exc

    def run(self, task_id: str | None, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Delivery:
        """Handle one delivery of a run: execute it, or see that it needs nothing more."""
        if kwargs or len(args) != 1 or not isinstance(args[0], str):
            reason = f"a run message takes one argument, the run id; got {list(args)!r:.200}"
            payload = payload_bytes({"args": list(args), "kwargs": dict(kwargs)})
            self.dead_letter(f"queue:{self.settings.run_queue}", reason, payload, task_id)
            return Delivery.MISSING
        try:
            delivery = self._process().runs.deliver(args[0])
        except _TRANSIENT as exc:
            raise Reject(f"Redis unavailable: {exc}", requeue=True) from exc
        if delivery is Delivery.MISSING:
            reason = f"no run with id {args[0]!r}"
            self.dead_letter(
                f"queue:{self.settings.run_queue}", reason, payload_bytes(args[0]), task_id
            )
        return delivery


def register_tasks(app: Any, definitions: Definitions, settings: Settings) -> WorkerTasks:
    """Register the tick task and the run task on ``app``; returns what they run."""
    tasks = WorkerTasks(definitions, settings)

    def tick_batch(task: Any, *args: Any, **kwargs: Any) -> dict[str, int]:
        return tasks.tick_batch(task.request.id, args, kwargs)

    def run(task: Any, *args: Any, **kwargs: Any) -> str:
        delivery = tasks.run(task.request.id, args, kwargs)
        if delivery is Delivery.BUSY:
            # Another executor holds the run's lease: look again once it could have lapsed.
            raise task.retry(countdown=settings.run_lease)
        return str(delivery.value)

    app.task(name=TICK_TASK, bind=True, typing=False)(tick_batch)
    app.task(name=RUN_TASK, bind=True, typing=False, max_retries=None)(run)
    return tasks
