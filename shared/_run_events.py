"""The events of a run, shaped as lookout's event stream carries them: one builder of each.

A run on a worker reports RUN_STATUS and ASSET_MATERIALIZATION events to the
stream (``workers.runs``); a run executed in a test with
``execute_in_process`` reports the same events here, so that a run-status
sensor called as a plain function sees what it would see on a tick.  Both
build them with ``status_event`` and ``materialization_event`` below, from a
``RunFacts``, so the two cannot drift apart.  On failure the event's
``message`` is the run's error, as the worker sets it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from shared._errors import DefinitionError
from shared._event_sensors import DagsterRunStatus
from shared._events import DagsterEvent, entry_from_event
from shared._execute import AssetMaterialization, ExecuteInProcessResult
from shared._requests import PARTITION_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG
from shared._wire import EventKind, RunEvent, RunRecord


@dataclass(frozen=True)
class RunFacts:
    """What every event of one run repeats: which run, and where it came from."""

    run_id: str
    job_name: str
    tags: Mapping[str, str] = field(default_factory=dict)
    partition: str | None = None
    sensor: str | None = None
    run_key: str | None = None

    @classmethod
    def of_record(cls, record: RunRecord) -> RunFacts:
        """A run a launcher created (a worker's run)."""
        return cls(
            record.run_id,
            record.job_name,
            dict(record.tags),
            record.partition_key,
            record.sensor,
            record.run_key,
        )

    @classmethod
    def of_result(cls, result: ExecuteInProcessResult) -> RunFacts:
        """A run executed in process: its tags say what a launch request would."""
        run = result.dagster_run
        return cls(
            run.run_id,
            run.job_name,
            dict(run.tags),
            run.tags.get(PARTITION_TAG),
            run.tags.get(SENSOR_NAME_TAG),
            run.tags.get(RUN_KEY_TAG),
        )


def status_event(run: RunFacts, status: str, now: float, message: str | None = None) -> RunEvent:
    """The RUN_STATUS event of ``run`` reaching ``status`` (``message``: its error)."""
    return RunEvent(
        kind=EventKind.RUN_STATUS.value,
        run_id=run.run_id,
        job_name=run.job_name,
        timestamp=now,
        status=status,
        partition=run.partition,
        tags=dict(run.tags),
        message=message,
        sensor=run.sensor,
        run_key=run.run_key,
    )


def materialization_event(run: RunFacts, event: AssetMaterialization, now: float) -> RunEvent:
    """The ASSET_MATERIALIZATION event of an asset ``run`` computed, with the event's tags."""
    return RunEvent(
        kind=EventKind.ASSET_MATERIALIZATION.value,
        run_id=run.run_id,
        job_name=run.job_name,
        timestamp=now,
        asset_key=event.asset_key.to_user_string(),
        partition=event.partition,
        tags=dict(event.tags),
        sensor=run.sensor,
        run_key=run.run_key,
    )


def _result_status_event(result: ExecuteInProcessResult, status: str, now: float) -> RunEvent:
    failed = status == DagsterRunStatus.FAILURE.value
    return status_event(RunFacts.of_result(result), status, now, result.error if failed else None)


def run_events(result: ExecuteInProcessResult, now: float) -> list[RunEvent]:
    """Every event the run reported, in order: STARTED, materializations, how it ended."""
    run = result.dagster_run
    facts = RunFacts.of_result(result)
    events = [_result_status_event(result, DagsterRunStatus.STARTED.value, now)]
    events += [materialization_event(facts, m, now) for m in result.materializations]
    if run.status != DagsterRunStatus.STARTED.value:
        events.append(_result_status_event(result, run.status, now))
    return events


def job_status_event(result: ExecuteInProcessResult, status: str) -> DagsterEvent:
    """The event of the run ending with ``status``; a run that ended otherwise has none."""
    run = result.dagster_run
    if run.status != status:
        raise DefinitionError(
            f"run {run.run_id} of job '{run.job_name}' ended {run.status}, "
            f"so it has no {status} event"
        )
    return entry_from_event("", _result_status_event(result, status, time.time())).dagster_event
