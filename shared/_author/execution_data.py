"""``SensorDefinition.evaluate_tick``: one evaluation, as Dagster's tests read it.

Dagster's ``evaluate_tick`` gives a ``SensorExecutionData``: the run requests
as the function gave them (their job left as it named it) tagged with the
sensor's name, the skip message (Dagster's "Sensor function returned an
empty result" when the function gave nothing), the cursor after the call,
and the dynamic partition requests and asset events of a ``SensorResult``.
The same checks as a tick in the runtime apply (``evaluate.normalize``), so
a sensor that evaluates here evaluates there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lookout._author.context import SensorEvaluationContext
from lookout._author.evaluate import Evaluable, collect_items, normalize
from lookout._author.requests import SENSOR_NAME_TAG, RunRequest, SensorResult, SkipReason

EMPTY_RESULT = "Sensor function returned an empty result"


@dataclass(frozen=True)
class SensorExecutionData:
    """What one evaluation of a sensor asked for (Dagster's ``SensorExecutionData``)."""

    run_requests: list[RunRequest] = field(default_factory=list)
    skip_message: str | None = None
    cursor: Any = None
    # Dagster's run reactions belong to run-status sensors, which this does not evaluate.
    dagster_run_reactions: list[Any] = field(default_factory=list)
    log_key: Sequence[str] | None = None
    dynamic_partitions_requests: list[Any] = field(default_factory=list)
    asset_events: list[Any] = field(default_factory=list)


def tick_data(
    sensor: Evaluable, context: SensorEvaluationContext, output: Any
) -> SensorExecutionData:
    """Check what a sensor function gave back and shape it as Dagster's ``evaluate_tick``."""
    items = collect_items(sensor.name, output)
    outcome = normalize(sensor, context, items)  # refuses what a runtime tick would refuse
    result = next((i for i in items if isinstance(i, SensorResult)), None)
    given = [i for i in items if isinstance(i, RunRequest)]
    given += list(result.run_requests or []) if result is not None else []
    requests = [replace(r, tags={**r.tags, SENSOR_NAME_TAG: sensor.name}) for r in given]
    skipped = any(isinstance(i, SkipReason) for i in items) or (
        result is not None and result.skip_reason is not None
    )
    skip = outcome.skip_message
    if skip is None and not requests and not skipped:
        skip = EMPTY_RESULT
    return SensorExecutionData(
        run_requests=requests,
        skip_message=skip,
        cursor=outcome.cursor,
        dynamic_partitions_requests=list(result.dynamic_partitions_requests or [])
        if result is not None
        else [],
        asset_events=list(result.asset_events or []) if result is not None else [],
    )
