"""An asset sensor called as Dagster's docs test it: ``my_asset_sensor(context)``.

With the context alone, the sensor reads the newest materialization of its
asset after its cursor from ``context.instance`` (any ``AssetEventSource``),
calls the user's function with the context and that event, and moves the
cursor to the event's storage id, as Dagster's asset sensors do.  With no
new event it gives Dagster's ``SkipReason``.  The result is a generator, as
Dagster's is: the cursor moves once it has been run through.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, cast

from lookout._author.asset_key import AssetKey
from lookout._author.context import SensorEvaluationContext
from lookout._author.event_records import AssetEventSource, AssetRecordsFilter
from lookout._author.requests import RunRequest, SkipReason
from lookout._base.errors import DefinitionError


def event_source(sensor_name: str, context: SensorEvaluationContext) -> AssetEventSource:
    """The context's instance, checked to be one sensors can read asset events from."""
    instance = context.instance
    if instance is None or not callable(getattr(instance, "fetch_materializations", None)):
        raise DefinitionError(
            f"sensor '{sensor_name}' was called with a context alone, so it reads asset events "
            "from context.instance, which is missing: build the context with "
            "build_sensor_context(instance=DagsterInstance.ephemeral())"
        )
    return cast(AssetEventSource, instance)


def storage_id_cursor(sensor_name: str, cursor: Any) -> int | None:
    """The storage id a cursor holds (None: from the start); any other cursor is an error."""
    if cursor is None or cursor == "":
        return None
    try:
        return int(cursor)
    except (TypeError, ValueError):
        raise DefinitionError(
            f"sensor '{sensor_name}': cursor {cursor!r:.80} is not a storage id; an asset "
            "sensor's cursor is the id of the last event it saw (reset it to start over)"
        ) from None


def evaluate_on_instance(
    sensor_name: str,
    asset_key: AssetKey,
    fn: Callable[[Any, Any], Any],
    context: SensorEvaluationContext,
) -> Iterator[Any]:
    """Dagster's asset-sensor evaluation against ``context.instance`` (see module doc)."""
    source = event_source(sensor_name, context)
    after = storage_id_cursor(sensor_name, context.cursor)
    records = source.fetch_materializations(
        AssetRecordsFilter(asset_key=asset_key, after_storage_id=after), limit=1, ascending=False
    ).records
    if not records:
        yield SkipReason(f"No new materialization events found for asset key {asset_key}")
        return
    record = records[0]
    result = fn(context, record.event_log_entry)
    if inspect.isgenerator(result) or isinstance(result, list):
        yield from result
    elif isinstance(result, SkipReason | RunRequest):
        yield result
    context.update_cursor(str(record.storage_id))
