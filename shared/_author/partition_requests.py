"""Run requests for partitions: built for a job's partition, and checked against its partitions.

A request for a key its job does not have is refused with the key and the
asking sensor named, so the tick that made it ends as a FAILURE that says
why.  Dynamic partitions are checked only where an instance can list them;
keys the same tick adds or
deletes count as they will be after it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from lookout._author.partitioned_config import with_partition_config
from lookout._author.partitions import (
    AddDynamicPartitionsRequest,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    DynamicPartitionsStore,
    MultiPartitionsDefinition,
    PartitionsDefinition,
)
from lookout._author.requests import PARTITION_TAG, RunRequest
from lookout._base.errors import DefinitionError, SensorEvaluationError

PARTITION_SET_TAG = "dagster/partition_set"
DynamicRequest = AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest


def _needs_store(partitions_def: PartitionsDefinition) -> bool:
    if isinstance(partitions_def, DynamicPartitionsDefinition):
        return partitions_def.partition_fn is None
    if isinstance(partitions_def, MultiPartitionsDefinition):
        return any(_needs_store(d) for d in partitions_def.partitions_defs.values())
    return False


def known_key(
    partitions_def: PartitionsDefinition,
    key: str,
    store: DynamicPartitionsStore | None,
    current_time: dt.datetime | None = None,
) -> bool | None:
    """True or False when the key can be checked; None when only a store could tell."""
    if _needs_store(partitions_def) and store is None:
        return None
    return partitions_def.has_partition_key(key, current_time, store)


def partition_request(
    job: Any,
    partition_key: str,
    run_key: str | None = None,
    tags: Mapping[str, str] | None = None,
    run_config: Any = None,
    current_time: dt.datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> RunRequest:
    """``job.run_request_for_partition``: a run of one partition, tagged as Dagster tags it."""
    partitions_def = getattr(job, "partitions_def", None)
    if partitions_def is None:
        raise DefinitionError(f"job '{job.name}' is not partitioned")
    if known_key(partitions_def, partition_key, dynamic_partitions_store, current_time) is False:
        raise DefinitionError(
            f"Could not find a partition with key `{partition_key}` in job '{job.name}'."
        )
    request = RunRequest(
        run_key=run_key,
        run_config=run_config,
        tags={
            **(tags or {}),
            PARTITION_TAG: partition_key,
            PARTITION_SET_TAG: f"{job.name}_partition_set",
        },
        job_name=job.name,
        partition_key=partition_key,
    )
    return with_partition_config(request, getattr(job, "partitioned_config", None))


class _Store:
    """An instance's dynamic partitions as they will be after this tick's requests."""

    def __init__(self, base: DynamicPartitionsStore | None, changes: Sequence[DynamicRequest]):
        self._base = base
        self._changes = changes

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]:
        keys = list(self._base.get_dynamic_partitions(partitions_def_name)) if self._base else []
        for change in self._changes:
            if change.partitions_def_name != partitions_def_name:
                continue
            if isinstance(change, AddDynamicPartitionsRequest):
                keys += [k for k in change.partition_keys if k not in keys]
            else:
                keys = [k for k in keys if k not in change.partition_keys]
        return keys


def resolve_partition_requests(
    sensor_name: str,
    requests: Iterable[RunRequest],
    job_of: Callable[[str], Any],
    store: DynamicPartitionsStore | None,
    changes: Sequence[DynamicRequest] = (),
) -> tuple[RunRequest, ...]:
    """Check each request's partition against its job and fill in the partition's config.

    A request for a partition its job does not have is refused, naming key,
    job and sensor.
    """
    # Without an instance the keys stored before this tick are unknown: no check.
    after = _Store(store, changes) if store is not None else None
    resolved = []
    for request in requests:
        if request.partition_key is None or request.job_name is None:
            resolved.append(request)
            continue
        job = job_of(request.job_name)
        partitions_def = getattr(job, "partitions_def", None)
        # An unpartitioned job takes any key as a plain tag, as lookout always allowed.
        if partitions_def is not None and (
            known_key(partitions_def, request.partition_key, after) is False
        ):
            raise SensorEvaluationError(
                f"sensor '{sensor_name}' asked for partition '{request.partition_key}' of job "
                f"'{request.job_name}', which has no such partition"
            )
        resolved.append(with_partition_config(request, getattr(job, "partitioned_config", None)))
    return tuple(resolved)


class _Step(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def partitions_def(self) -> Any: ...


def steps_partitions(job_name: str, steps: Sequence[_Step]) -> PartitionsDefinition | None:
    """The one partitions definition the steps of an asset job share (None if none has one)."""
    found = {id(s.partitions_def): s.partitions_def for s in steps if s.partitions_def}
    defs = list(dict.fromkeys(found.values()))
    if len(defs) > 1:
        raise DefinitionError(
            f"job '{job_name}' selects assets with different partitions definitions; "
            "give each its own job"
        )
    return defs[0] if defs else None


def check_materialize_partition(
    steps: Sequence[_Step], partition_key: str, store: DynamicPartitionsStore | None
) -> None:
    """Refuse to materialize a partition the assets do not have.

    Unpartitioned assets take any key as a plain run tag, as lookout always allowed.
    """
    partitions_def = steps_partitions("__ephemeral_asset_job__", steps)
    if partitions_def is not None and known_key(partitions_def, partition_key, store) is False:
        raise DefinitionError(
            f"Could not find a partition with key `{partition_key}` in "
            f"{type(partitions_def).__name__}."
        )


def dynamic_requests(sensor_name: str, items: Sequence[Any] | None) -> list[DynamicRequest]:
    """A sensor result's dynamic partitions requests, each checked to be one."""
    found = list(items or [])
    for item in found:
        if not isinstance(item, AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest):
            raise SensorEvaluationError(
                f"sensor '{sensor_name}' gave {item!r} in dynamic_partitions_requests; expected "
                "AddDynamicPartitionsRequest or DeleteDynamicPartitionsRequest"
            )
    return found
