"""What a tick checks of its run requests before any run is created.

Each request's partition must be one its job has (the partition's config is
filled in from a partitioned config), and the run config it will run with
must fit the job.  A request that fails either is a ``SensorEvaluationError``
naming the sensor, so the tick ends as a FAILURE that says which op and field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from lookout._author.ops import JobDefinition
from lookout._author.partition_requests import DynamicRequest, resolve_partition_requests
from lookout._author.partitions import DynamicPartitionsStore
from lookout._author.requests import RunRequest
from lookout._author.validate import validate_run_config
from lookout._base.errors import DefinitionError, SensorEvaluationError


def checked_requests(
    sensor_name: str,
    requests: Iterable[RunRequest],
    job_of: Callable[[str], JobDefinition],
    store: DynamicPartitionsStore | None,
    changes: Sequence[DynamicRequest] = (),
) -> tuple[RunRequest, ...]:
    """The requests with their partitions' config filled in, each checked against its job."""
    resolved = resolve_partition_requests(sensor_name, requests, job_of, store, changes)
    for request in resolved:
        if request.job_name is not None:
            _check_config(sensor_name, request, job_of(request.job_name))
    return resolved


def _check_config(sensor_name: str, request: RunRequest, job: JobDefinition) -> None:
    config: Any = request.run_config or job.config
    try:
        validate_run_config(job, config)
    except DefinitionError as exc:
        key = f" (run key '{request.run_key}')" if request.run_key is not None else ""
        raise SensorEvaluationError(f"sensor '{sensor_name}' asked for a run{key}: {exc}") from exc
