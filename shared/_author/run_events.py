"""The events of a run, shaped as lookout's event stream carries them: one builder of each.

A run on a worker reports RUN_STATUS and ASSET_MATERIALIZATION events to the
stream (``lookout.workers.runs``); a run executed in a test with
``execute_in_process`` reports the same events here, so that a run-status
sensor called as a plain function sees what it would see on a tick.  Both
build them with ``status_event`` and ``materialization_event`` below, from a
``RunFacts``, so the two cannot drift apart.  On failure the event's
``message`` is the run's error, as the worker sets it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from lookout._author.events import DagsterEvent, entry_from_event
from lookout._author.requests import PARTITION_TAG, RUN_KEY_TAG, SENSOR_NAME_TAG
from lookout._author.runs import DagsterRunStatus, MaterializationRecord, RunInfo
from lookout._base.errors import DefinitionError
from lookout._base.wire import EventKind, RunEvent, RunRecord


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
    def of_run(cls, run: RunInfo) -> RunFacts:
        """A run executed in process: its tags say what a launch request would."""
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


def materialization_event(run: RunFacts, event: MaterializationRecord, now: float) -> RunEvent:
    """The asset event of an asset ``run`` computed (or an op logged), with its tags and metadata.

    An ASSET_MATERIALIZATION event, or ASSET_OBSERVATION for an observation an op logged.
    """
    kind = EventKind.ASSET_OBSERVATION if event.observation else EventKind.ASSET_MATERIALIZATION
    return RunEvent(
        kind=kind.value,
        run_id=run.run_id,
        job_name=run.job_name,
        timestamp=now,
        asset_key=event.asset_key.to_user_string(),
        partition=event.partition,
        tags=dict(event.tags),
        sensor=run.sensor,
        run_key=run.run_key,
        metadata=dict(event.metadata),
        description=event.description,
    )


def _in_process_status_event(run: RunInfo, status: str, error: str | None, now: float) -> RunEvent:
    failed = status == DagsterRunStatus.FAILURE.value
    return status_event(RunFacts.of_run(run), status, now, error if failed else None)


def run_events(
    run: RunInfo,
    materializations: Sequence[MaterializationRecord],
    error: str | None,
    now: float,
) -> list[RunEvent]:
    """Every event an in-process run reported, in order: STARTED, materializations, its end."""
    facts = RunFacts.of_run(run)
    events = [_in_process_status_event(run, DagsterRunStatus.STARTED.value, error, now)]
    events += [materialization_event(facts, m, now) for m in materializations]
    if run.status != DagsterRunStatus.STARTED.value:
        events.append(_in_process_status_event(run, run.status, error, now))
    return events


def job_status_event(run: RunInfo, status: str, error: str | None) -> DagsterEvent:
    """The event of the run ending with ``status``; a run that ended otherwise has none."""
    if run.status != status:
        raise DefinitionError(
            f"run {run.run_id} of job '{run.job_name}' ended {run.status}, "
            f"so it has no {status} event"
        )
    event = _in_process_status_event(run, status, error, time.time())
    return entry_from_event("", event).dagster_event
