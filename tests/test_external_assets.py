"""External assets and asset events: ``AssetSpec``, ``AssetMaterialization``, ``SensorResult``.

Shapes of Dagster's external-asset docs and their tests: a sensor reports a
materialization of an asset lookout does not compute; a script reports one
to the instance; an op logs one; an asset depends on a spec.
"""

from __future__ import annotations

import pytest

import lookout as dg
from lookout._author.asset_event_check import check_known_assets
from lookout._author.evaluate import evaluate
from lookout._base.errors import DefinitionError, SensorEvaluationError

warehouse_dump = dg.AssetSpec(
    "warehouse_dump",
    description="a nightly dump another team writes",
    group_name="outside",
    metadata={"owner": "ops"},
    kinds={"s3"},
)
cleaned_dump = dg.AssetSpec("cleaned_dump", deps=[warehouse_dump], group_name="outside")


@dg.asset(deps=[cleaned_dump])
def dump_summary() -> int:
    return 1


@dg.sensor()
def watch_dump(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    return dg.SensorResult(
        asset_events=[
            dg.AssetMaterialization(
                asset_key="warehouse_dump",
                metadata={"seen_by": f"sensor {context.sensor_name}", "rows": 40},
                partition=None,
            )
        ]
    )


defs = dg.Definitions(assets=[warehouse_dump, cleaned_dump, dump_summary], sensors=[watch_dump])


def test_sensor_reports_an_external_materialization_in_its_result() -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = watch_dump(dg.build_sensor_context(instance=instance, sensor_name="watch_dump"))
    assert isinstance(result, dg.SensorResult)
    (event,) = result.asset_events or []
    assert isinstance(event, dg.AssetMaterialization)
    assert event.asset_key == dg.AssetKey("warehouse_dump")
    assert event.metadata["seen_by"] == dg.MetadataValue.text("sensor watch_dump")
    assert event.metadata["rows"] == dg.MetadataValue.int(40)


def test_the_normalized_outcome_carries_the_asset_events_for_the_tick_to_commit() -> None:
    outcome = evaluate(watch_dump, dg.build_sensor_context(sensor_name="watch_dump"))
    assert outcome.run_requests == () and outcome.skip_message is None
    assert [e.asset_key for e in outcome.asset_events] == [dg.AssetKey("warehouse_dump")]


def test_asset_events_that_are_not_events_or_name_unknown_assets_name_the_sensor() -> None:
    @dg.sensor()
    def confused() -> dg.SensorResult:
        return dg.SensorResult(asset_events=[dg.RunRequest()])

    with pytest.raises(SensorEvaluationError, match="sensor 'confused' reported"):
        evaluate(confused, dg.build_sensor_context())
    stray = dg.AssetMaterialization("not_here")
    with pytest.raises(SensorEvaluationError, match=r"sensor 'watch_dump'.*\['not_here'\]"):
        check_known_assets("watch_dump", [stray], defs.asset_keys)
    check_known_assets("watch_dump", [dg.AssetMaterialization("warehouse_dump")], defs.asset_keys)


def test_asset_specs_are_known_to_the_definitions_and_their_dependents() -> None:
    assert defs.get_assets_def("warehouse_dump") is warehouse_dump
    assert defs.resolve_assets_def("cleaned_dump").asset_deps == {
        dg.AssetKey("cleaned_dump"): {dg.AssetKey("warehouse_dump")}
    }
    assert dump_summary.asset_deps[dump_summary.key] == {dg.AssetKey("cleaned_dump")}
    assert warehouse_dump.metadata == {"owner": dg.MetadataValue.text("ops")}
    assert warehouse_dump.kinds == {"s3"}
    job = defs.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(asset_selection=[dump_summary.key]).success
    with pytest.raises(DefinitionError, match="no asset 'elsewhere'"):
        defs.get_assets_def("elsewhere")


def test_a_script_reports_a_runless_event_to_the_instance() -> None:
    instance = dg.DagsterInstance.ephemeral()
    instance.report_runless_asset_event(
        dg.AssetMaterialization("warehouse_dump", metadata={"rows": 10, "from": "a script"})
    )
    entry = instance.get_latest_materialization_event(dg.AssetKey("warehouse_dump"))
    assert entry is not None and entry.asset_materialization is not None
    assert entry.asset_materialization.metadata["from"].value == "a script"
    instance.report_runless_asset_event(dg.AssetObservation("warehouse_dump", metadata={"n": 1}))
    (observed,) = instance.fetch_observations(dg.AssetKey("warehouse_dump"), limit=5).records
    assert observed.event_log_entry.asset_observation is not None


def test_an_op_logs_an_external_materialization_into_its_run() -> None:
    @dg.op
    def load(context: dg.OpExecutionContext) -> None:
        context.log_event(dg.AssetMaterialization(asset_key="warehouse_dump", description="loaded"))

    @dg.job
    def load_job() -> None:
        load()

    instance = dg.DagsterInstance.ephemeral()
    result = load_job.execute_in_process(instance=instance)
    assert result.success
    (event,) = result.asset_materializations_for_node("load")
    assert (event.asset_key, event.description) == (dg.AssetKey("warehouse_dump"), "loaded")
    entry = instance.get_latest_materialization_event(dg.AssetKey("warehouse_dump"))
    assert entry is not None and entry.run_id == result.run_id


def test_metadata_refuses_values_dagster_refuses() -> None:
    with pytest.raises(DefinitionError, match="metadata entry 'when'"):
        dg.AssetMaterialization("warehouse_dump", metadata={"when": object()})
    assert dg.AssetMaterialization("x", metadata={"n": None}).metadata["n"].value is None


def test_materialize_records_an_asset_and_skips_specs() -> None:
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([warehouse_dump, dump_summary], instance=instance)
    assert [m.asset_key for m in result.materializations] == [dg.AssetKey("dump_summary")]
    assert instance.get_latest_materialization_event(dg.AssetKey("warehouse_dump")) is None


def test_an_assets_definition_of_specs_stands_for_external_assets() -> None:
    feeds: dg.AssetsDefinition[[], None] = dg.AssetsDefinition(
        specs=[dg.AssetSpec("raw_feed"), dg.AssetSpec("parsed_feed", deps=["raw_feed"])]
    )

    @dg.asset(deps=["parsed_feed"])
    def feed_report() -> int:
        return 1

    feed_defs = dg.Definitions(assets=[feeds, feed_report])
    assert feed_defs.resolve_assets_def("parsed_feed").asset_deps == {
        dg.AssetKey("parsed_feed"): {dg.AssetKey("raw_feed")}
    }
    assert feeds.keys == {dg.AssetKey("raw_feed"), dg.AssetKey("parsed_feed")}
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize([feeds, feed_report], instance=instance)
    assert [m.asset_key for m in result.materializations] == [dg.AssetKey("feed_report")]
    with pytest.raises(DefinitionError, match="needs a function or specs"):
        dg.AssetsDefinition()
