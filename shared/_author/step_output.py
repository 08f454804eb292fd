"""What a step gave back, sorted into its output value and the asset events it reported.

An asset may return its value, a ``MaterializeResult`` (metadata for its own
materialization), or yield them; an op or asset may also yield or log
(``context.log_event``) ``AssetMaterialization``s and ``AssetObservation``s
of other assets, such as external ones.  Each becomes a
``MaterializationRecord`` of the run, in the order they happened.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from lookout._author.asset_events import AssetMaterialization, AssetObservation, MaterializeResult
from lookout._author.asset_key import AssetKey
from lookout._author.metadata import metadata_from_wire, metadata_to_wire
from lookout._author.requests import PARTITION_TAG
from lookout._author.runs import MaterializationRecord, RunInfo


@dataclass
class StepReport:
    """A step's output value and, in order, the asset events it reported."""

    value: Any = None
    events: list[MaterializationRecord] = field(default_factory=list)


def record_of_event(
    run: RunInfo, event: AssetMaterialization | AssetObservation, step: str | None = None
) -> MaterializationRecord:
    """The record of an event an op logged or yielded (its partition, or the run's)."""
    return MaterializationRecord(
        event.asset_key,
        run.run_id,
        event.partition or run.tags.get(PARTITION_TAG),
        {**run.tags, **event.tags},
        metadata_to_wire(event.metadata),
        event.description,
        observation=isinstance(event, AssetObservation),
        step=step,
    )


def materialization_of_record(record: MaterializationRecord) -> AssetMaterialization:
    """The public event a record stands for, as a user would have built it."""
    return AssetMaterialization(
        record.asset_key,
        description=record.description,
        metadata=metadata_from_wire(record.metadata),
        partition=record.partition,
    )


def _own_record(
    run: RunInfo, step: str, key: AssetKey, result: MaterializeResult | None
) -> MaterializationRecord:
    metadata = metadata_to_wire(result.normalized_metadata()) if result is not None else {}
    tags = {**run.tags, **(result.tags or {})} if result is not None else dict(run.tags)
    partition = run.tags.get(PARTITION_TAG)
    return MaterializationRecord(key, run.run_id, partition, tags, metadata, step=step)


class _StepLike(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def asset_key(self) -> AssetKey | None: ...


def sort_step_output(
    run: RunInfo,
    step: _StepLike,
    value: Any,
    logged: Sequence[AssetMaterialization | AssetObservation],
) -> StepReport:
    """Run a generator step to its end and sort what it gave; ``logged``: its log_event calls."""
    items = list(value) if inspect.isgenerator(value) else [value]
    report = StepReport()
    results: list[MaterializeResult] = []
    events = list(logged)
    for item in items:
        if isinstance(item, MaterializeResult):
            results.append(item)
        elif isinstance(item, AssetMaterialization | AssetObservation):
            events.append(item)
        else:
            report.value = item
    report.events = [record_of_event(run, e, step.name) for e in events]
    if step.asset_key is not None:
        own = _own_record(run, step.name, step.asset_key, results[-1] if results else None)
        report.events.append(own)
    return report
