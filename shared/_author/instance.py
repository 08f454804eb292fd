"""``DagsterInstance.ephemeral()``: an in-memory record of the runs a test executes.

Dagster's testing examples execute a job against an ephemeral instance and
build a sensor's context from the result.  Here the instance keeps, in this
process only, the runs ``execute_in_process(instance=...)`` executed and the
events each reported (the same events a worker puts on the Redis event
stream).  A deployment never uses it: there, runs and events live in Redis.
"""

from __future__ import annotations

import time

from lookout._author.dynamic_partitions import DynamicPartitionsMixin
from lookout._author.events import DagsterRun, EventLogEntry, entry_from_event
from lookout._author.execute import ExecuteInProcessResult
from lookout._author.run_events import run_events
from lookout._base.wire import RunEvent


class DagsterInstance(DynamicPartitionsMixin):
    """Runs executed in this process and their events, newest run first."""

    def __init__(self) -> None:
        self._runs: dict[str, DagsterRun] = {}
        # (storage id, event); ids ascend as Dagster's storage ids do
        self._events: list[tuple[str, RunEvent]] = []

    @classmethod
    def ephemeral(cls) -> DagsterInstance:
        """A new, empty instance that lives as long as the object does."""
        return cls()

    def add_run_result(self, result: ExecuteInProcessResult) -> None:
        """Record a finished in-process run and the events it reported."""
        run = DagsterRun.from_run(result.dagster_run)
        self._runs[run.run_id] = run
        events = run_events(result.dagster_run, result.materializations, result.error, time.time())
        for event in events:
            self._events.append((str(len(self._events) + 1), event))

    def get_run_by_id(self, run_id: str) -> DagsterRun | None:
        return self._runs.get(run_id)

    def get_runs(self) -> list[DagsterRun]:
        """Every recorded run, newest first (as Dagster lists them)."""
        return list(reversed(self._runs.values()))

    def all_logs(self, run_id: str) -> list[EventLogEntry]:
        """The events of one run, oldest first."""
        return [entry_from_event(eid, e) for eid, e in self._events if e.run_id == run_id]
