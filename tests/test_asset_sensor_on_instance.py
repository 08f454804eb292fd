"""Asset sensors tested as Dagster's docs test them: a context on an instance, materialize, call.

Shapes of Dagster's ``test_my_asset_sensor``; the run requests, skip messages
and cursors are the ones Dagster 1.13 gives for the same calls (its cursor is
the storage id of the materialization the sensor consumed, as a string).
"""

from __future__ import annotations

from typing import Any

import pytest

import lookout as dg
from lookout._base.errors import DefinitionError


@dg.op(config_schema={"table": list})
def copy_table(context: dg.OpExecutionContext) -> Any:
    return context.op_config["table"]


@dg.job
def copy_job() -> None:
    copy_table()


@dg.asset
def orders() -> int:
    return 3


@dg.asset
def customers() -> int:
    return 4


@dg.asset_sensor(asset_key=dg.AssetKey("orders"), job=copy_job)
def orders_sensor(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> Any:
    assert asset_event.dagster_event and asset_event.dagster_event.asset_key
    yield dg.RunRequest(
        run_key=context.cursor,
        run_config={
            "ops": {"copy_table": {"config": {"table": asset_event.dagster_event.asset_key.path}}}
        },
    )


def evaluate_on(sensor: Any, context: dg.SensorEvaluationContext) -> list[Any]:
    """Call a sensor with its context alone, as Dagster's docs do (untyped: their call is too)."""
    return list(sensor(context))


def _storage_id_of_latest(instance: dg.DagsterInstance, key: str) -> str:
    (record,) = instance.fetch_materializations(dg.AssetKey(key), limit=1).records
    return str(record.storage_id)


def test_asset_sensor_called_with_a_context_alone_reads_the_instance() -> None:
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance)

    (skip,) = evaluate_on(orders_sensor, context)
    assert skip == dg.SkipReason(
        "No new materialization events found for asset key AssetKey(['orders'])"
    )
    assert context.cursor is None

    dg.materialize([orders], instance=instance)
    (request,) = evaluate_on(orders_sensor, context)
    # the function runs before the cursor moves, so run_key is the cursor it was given
    assert request == dg.RunRequest(
        run_key=None, run_config={"ops": {"copy_table": {"config": {"table": ["orders"]}}}}
    )
    assert context.cursor == _storage_id_of_latest(instance, "orders")

    # nothing new: Dagster's skip again, cursor kept
    before = context.cursor
    (again,) = evaluate_on(orders_sensor, context)
    assert isinstance(again, dg.SkipReason) and context.cursor == before

    dg.materialize([customers], instance=instance)  # another asset
    assert isinstance(evaluate_on(orders_sensor, context)[0], dg.SkipReason)

    dg.materialize([orders], instance=instance)
    dg.materialize([orders], instance=instance)
    # several new events: called once, with the newest, as Dagster's asset sensor is
    (newest,) = evaluate_on(orders_sensor, context)
    assert newest.run_key == before
    assert context.cursor == _storage_id_of_latest(instance, "orders")


def test_asset_sensor_taking_no_arguments_reads_the_instance_too() -> None:
    @dg.asset_sensor(asset_key=dg.AssetKey("orders"), job=copy_job)
    def bare() -> dg.RunRequest:
        return dg.RunRequest()

    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance)
    dg.materialize([orders], instance=instance)
    assert evaluate_on(bare, context) == [dg.RunRequest()]
    assert bare() == dg.RunRequest()  # the plain function still


def test_asset_sensor_with_context_and_event_still_calls_the_function() -> None:
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([orders], instance=instance)
    entry = instance.get_latest_materialization_event(dg.AssetKey("orders"))
    assert entry is not None
    (request,) = list(orders_sensor(dg.build_sensor_context(cursor="7"), entry))
    assert request.run_key == "7"


def test_asset_sensor_refuses_a_cursor_that_is_not_a_storage_id() -> None:
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(instance=instance, cursor="1732000000000-0")
    with pytest.raises(DefinitionError, match="sensor 'orders_sensor': cursor '1732000000000-0'"):
        evaluate_on(orders_sensor, context)


def test_asset_sensor_called_without_an_instance_says_how_to_build_its_context() -> None:
    with pytest.raises(DefinitionError, match=r"sensor 'orders_sensor'.*instance="):
        evaluate_on(orders_sensor, dg.build_sensor_context())


def test_asset_sensor_sees_the_metadata_an_asset_returned() -> None:
    @dg.asset
    def sales(context: dg.AssetExecutionContext) -> Any:
        yield dg.MaterializeResult(metadata={"rows": 12, "source": "till"})

    @dg.asset_sensor(asset_key=dg.AssetKey("sales"), job=copy_job)
    def sales_sensor(context: dg.SensorEvaluationContext, asset_event: Any) -> Any:
        materialization = asset_event.dagster_event.event_specific_data.materialization
        if "source" in materialization.metadata:
            yield dg.RunRequest(run_key=str(materialization.metadata.get("source")))
        else:
            yield dg.SkipReason("no source")

    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([sales], instance=instance)
    (request,) = evaluate_on(sales_sensor, dg.build_sensor_context(instance=instance))
    # Dagster gives the typed value: str() of it is its repr
    assert request.run_key == "TextMetadataValue(text='till')"
    (event,) = result.asset_materializations_for_node("sales")
    assert event.metadata == {
        "rows": dg.MetadataValue.int(12),
        "source": dg.MetadataValue.text("till"),
    }
    entry = instance.get_latest_materialization_event(dg.AssetKey("sales"))
    assert entry is not None and entry.asset_materialization is not None
    assert entry.asset_materialization.metadata["rows"].value == 12
