"""The events of an in-process run, shaped as lookout's event stream carries them.

A run on a worker reports RUN_STATUS and ASSET_MATERIALIZATION events to the
stream (``workers.runs``); a run executed in a test with
``execute_in_process`` reports the same events here, so that a run-status
sensor called as a plain function sees what it would see on a tick.  On
failure the event's ``message`` is the run's error, as the worker sets it.
"""

from __future__ import annotations

import time

from shared._errors import DefinitionError
from shared._event_sensors import DagsterRunStatus
from shared._events import DagsterEvent, entry_from_event
from shared._execute import ExecuteInProcessResult
from shared._requests import PARTITION_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG
from shared._wire import EventKind, RunEvent


def status_event(result: ExecuteInProcessResult, status: str, now: float) -> RunEvent:
    """The RUN_STATUS event of ``result``'s run reaching ``status``."""
    run = result.dagster_run
    failed = status == DagsterRunStatus.FAILURE.value
    return RunEvent(
        kind=EventKind.RUN_STATUS.value,
        run_id=run.run_id,
        job_name=run.job_name,
        timestamp=now,
        status=status,
        partition=run.tags.get(PARTITION_TAG),
        tags=dict(run.tags),
        message=result.error if failed else None,
        sensor=run.tags.get(SENSOR_NAME_TAG),
        run_key=run.tags.get(RUN_KEY_TAG),
    )


def run_events(result: ExecuteInProcessResult, now: float) -> list[RunEvent]:
    """Every event the run reported, in order: STARTED, materializations, how it ended."""
    run = result.dagster_run
    events = [status_event(result, DagsterRunStatus.STARTED.value, now)]
    events += [
        RunEvent(
            kind=EventKind.ASSET_MATERIALIZATION.value,
            run_id=run.run_id,
            job_name=run.job_name,
            timestamp=now,
            asset_key=m.asset_key.to_user_string(),
            partition=m.partition,
            tags=dict(m.tags),
            sensor=run.tags.get(SENSOR_NAME_TAG),
            run_key=run.tags.get(RUN_KEY_TAG),
        )
        for m in result.materializations
    ]
    if run.status != DagsterRunStatus.STARTED.value:
        events.append(status_event(result, run.status, now))
    return events


def job_status_event(result: ExecuteInProcessResult, status: str) -> DagsterEvent:
    """The event of the run ending with ``status``; a run that ended otherwise has none."""
    run = result.dagster_run
    if run.status != status:
        raise DefinitionError(
            f"run {run.run_id} of job '{run.job_name}' ended {run.status}, "
            f"so it has no {status} event"
        )
    return entry_from_event("", status_event(result, status, time.time())).dagster_event
