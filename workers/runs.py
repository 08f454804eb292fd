"""Runs: a launch request becomes a run record, and a worker executes it.

A run moves QUEUED -> STARTED -> SUCCESS or FAILURE (or QUEUED -> CANCELED);
every move is one atomic script that also appends the RUN_STATUS event, so
each status is reported exactly once however often the run task is delivered.
The executor holds a lease that it renews while the job runs: a delivery that
finds the run STARTED with its lease lapsed knows the executor died and fails
the run, as Dagster's run monitoring does, instead of running it twice.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from lookout._author import run_events as events
from lookout._author.definitions import Definitions
from lookout._author.execute import ExecuteInProcessResult, execute_plan, run_logger
from lookout._author.runs import DagsterRunStatus, MaterializationRecord
from lookout._author.selection import select_steps
from lookout._base.errors import DefinitionError
from lookout._base.wire import LaunchRequest, RunEvent, RunRecord, metadata_text
from lookout._core.settings import Settings
from lookout._core.storage import RunStore
from lookout._process.log_capture import RUN_MAX_LINES, LogCapture
from lookout.workers.retries import will_retry, with_job_tags, with_will_retry

log = logging.getLogger(__name__)

QUEUED = DagsterRunStatus.QUEUED.value
STARTED = DagsterRunStatus.STARTED.value
SUCCESS = DagsterRunStatus.SUCCESS.value
FAILURE = DagsterRunStatus.FAILURE.value
CANCELED = DagsterRunStatus.CANCELED.value

# Run ids are derived from launch request ids, so creating a run is idempotent.
_RUN_NAMESPACE = uuid.UUID("6c6f6f6b-6f75-7452-756e-4e616d657370")


def run_id_for(request_id: str) -> str:
    """The run id of a launch request: the same request always gives the same run."""
    return str(uuid.uuid5(_RUN_NAMESPACE, request_id))


def new_run(launch: LaunchRequest, definitions: Definitions, now: float) -> RunRecord:
    """The record of the run a launch request asks for: QUEUED, or FAILURE for an unknown job."""
    error = None
    if not definitions.has_job(launch.job_name):
        error = (
            f"job '{launch.job_name}' is not defined in this code location "
            f"(requested by sensor '{launch.sensor}', tick {launch.tick_id})"
        )
    return RunRecord(
        run_id=run_id_for(launch.request_id),
        job_name=launch.job_name,
        status=FAILURE if error else QUEUED,
        created_at=now,
        request_id=launch.request_id,
        sensor=launch.sensor,
        tick_id=launch.tick_id,
        run_key=launch.run_key,
        partition_key=launch.partition_key,
        tags=dict(launch.tags),
        run_config=dict(launch.run_config),
        ended_at=now if error else None,
        error=error,
        asset_selection=None if launch.asset_selection is None else list(launch.asset_selection),
    )


def status_event(
    record: RunRecord, status: str, now: float, message: str | None = None
) -> RunEvent:
    """The RUN_STATUS event of ``record`` reaching ``status`` (built as in-process runs' are)."""
    return events.status_event(events.RunFacts.of_record(record), status, now, message)


class Delivery(enum.Enum):
    """What a delivery of the run task came to."""

    EXECUTED = "executed"  # this delivery ran the job
    SETTLED = "settled"  # the run had already ended (or was now failed as orphaned)
    BUSY = "busy"  # another live executor is running it: look again later
    MISSING = "missing"  # no such run


class RunLostError(Exception):
    """The run was declared lost (its lease lapsed) while this executor still ran it."""


@dataclass
class _Held:
    renew: Callable[[], bool]
    due: float  # monotonic time of its next renewal


class _LeaseKeeper:
    """Renews the lease of the run its process executes, from one thread for all its runs.

    A thread started and joined per run cost two thread switches a run,
    which a busy machine turns into milliseconds: a short run's largest cost.
    The thread wakes every half renewal period, so a lease is renewed at
    most 1.5 periods (half the lease) after its last renewal.
    """

    def __init__(self, every: float) -> None:
        self._every = every
        self._lock = threading.Lock()
        self._held: _Held | None = None
        self._pid = 0  # the process whose thread runs (a forked child starts its own)

    @contextlib.contextmanager
    def hold(self, renew: Callable[[], bool]) -> Iterator[None]:
        """Renew with ``renew`` every period while the block runs."""
        if self._pid != os.getpid():
            self._pid = os.getpid()
            thread = threading.Thread(target=self._loop, name="lookout-run-lease", daemon=True)
            thread.start()
        with self._lock:
            self._held = _Held(renew, time.monotonic() + self._every)
        try:
            yield
        finally:
            # Under the lock: a renewal under way ends first, and none comes after.
            with self._lock:
                self._held = None

    def _loop(self) -> None:
        while True:
            time.sleep(self._every / 2)
            with self._lock:
                held = self._held
                if held is None or time.monotonic() < held.due:
                    continue
                held.due = time.monotonic() + self._every
                try:
                    if not held.renew():
                        log.warning("lost the lease of the run this worker executes")
                        self._held = None
                except Exception:
                    # Redis away for a moment: the next renewal may still be in time.
                    log.warning("could not renew a run lease", exc_info=True)


class RunExecutor:
    """Executes runs of one ``Definitions``: the body of the run task."""

    def __init__(
        self,
        definitions: Definitions,
        runs: RunStore,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.definitions = definitions
        self.runs = runs
        self.settings = settings
        self.clock = clock
        self._lease = _LeaseKeeper(settings.run_lease / 3)

    def deliver(self, run_id: str) -> Delivery:
        """Handle one delivery of the run task: idempotent whatever the run's state."""
        record = self.runs.get(run_id)
        if record is None:
            return Delivery.MISSING
        if record.status == QUEUED:
            owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
            now = self.clock()
            found = self.runs.start(
                run_id, owner, now, self.settings.run_lease, status_event(record, STARTED, now)
            )
            if found == QUEUED:
                self._execute(record, owner)
                return Delivery.EXECUTED
            record = self.runs.get(run_id) or record
        if record.status == STARTED:
            return self._orphaned(record)
        return Delivery.SETTLED

    def _orphaned(self, record: RunRecord) -> Delivery:
        """A delivery found the run STARTED: fail it if its executor is gone."""
        now = self.clock()
        error = f"the worker executing run {record.run_id} ({record.worker}) stopped while it ran"
        retry = self._will_retry(record, step_failed=False)
        found = self.runs.finish(
            record.run_id,
            (STARTED, FAILURE),
            now,
            status_event(with_will_retry(record, retry), FAILURE, now, error),
            error=error,
            only_if_lapsed=True,
            will_retry=retry,
        )
        if found == STARTED:
            log.warning("%s", error)
            return Delivery.SETTLED
        return Delivery.BUSY if found == "LEASED" else Delivery.SETTLED

    def _execute(self, record: RunRecord, owner: str) -> None:
        # The ops' context.log lines and the run's events, kept when it ends.
        logs = LogCapture(RUN_MAX_LINES)
        logs.add(self.clock(), "EVENT", f"RUN_START on {owner}")
        try:
            result = self._run_job(record, owner, logs)
        except DefinitionError as exc:
            self._finish(record, FAILURE, f"cannot run job '{record.job_name}': {exc}", logs)
        except RunLostError as exc:
            log.warning("%s", exc)
        except BaseException as exc:
            self._finish(record, FAILURE, f"the run task ended abnormally: {exc!r}", logs)
            raise
        else:
            status = SUCCESS if result.success else FAILURE
            self._finish(record, status, result.error, logs, succeeded=list(result.outputs))

    def _finish(
        self,
        record: RunRecord,
        status: str,
        error: str | None,
        logs: LogCapture,
        *,
        succeeded: list[str] | None = None,
    ) -> None:
        """End the run; ``succeeded``: its steps that did, when one of them failed."""
        now = self.clock()
        first = (error or "").split("\n", 1)[0]
        logs.add(now, "EVENT", f"RUN_{status}" + (f": {first}" if first else ""))
        retry = None
        if status == FAILURE:
            retry = self._will_retry(record, step_failed=succeeded is not None)
            record = with_will_retry(record, retry)
        self.runs.finish(
            record.run_id,
            (STARTED, status),
            now,
            status_event(record, status, now, error),
            error=error,
            will_retry=retry,
            succeeded_steps=succeeded if retry else None,
            logs=logs.lines(),
        )

    def _will_retry(self, record: RunRecord, *, step_failed: bool) -> bool:
        run = with_job_tags(self.definitions, record)
        return will_retry(run, self.settings, step_failed=step_failed)

    def _run_job(self, record: RunRecord, owner: str, logs: LogCapture) -> ExecuteInProcessResult:
        job = self.definitions.get_job(record.job_name)
        steps = select_steps(job, record.asset_selection)
        runs, lease = self.runs, self.settings.run_lease
        facts = events.RunFacts.of_record(record)
        emitted = [0]

        def materialized(event: MaterializationRecord) -> None:
            payload = events.materialization_event(facts, event, self.clock())
            logs.add(payload.timestamp, "EVENT", _event_line(payload))
            emitted[0] += 1
            if not runs.emit_event(record.run_id, owner, payload, emitted[0]):
                raise RunLostError(f"run {record.run_id} was declared lost while it ran")

        def renew() -> bool:
            # The lines so far go with the renewal: a running run's logs can be read.
            return runs.renew_lease(record.run_id, owner, lease, logs.lines())

        with self._lease.hold(renew), logs.on(run_logger(job.name)):
            run_config: dict[str, Any] = record.run_config or dict(job.config)
            return execute_plan(
                job.name,
                steps,
                run_config=run_config,
                tags={**job.tags, **record.tags},
                run_id=record.run_id,
                raise_on_error=False,
                on_materialization=materialized,
            )


def _event_line(event: RunEvent) -> str:
    """A run event as a line of the run's log."""
    where = f" partition {event.partition}" if event.partition else ""
    return f"{event.kind} {event.asset_key or ''}{where}{metadata_text(event.metadata)}".rstrip()
