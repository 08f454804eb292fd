"""Partitions, in the shapes of Dagster's partitions guide and its tests.

Key formats, time windows and time zones (DST included), static, dynamic
and multi-dimensional partitions, partitioned assets and jobs, partitioned
config, and run requests for a partition.  Every expected value is what
Dagster 1.13 gives for the same code.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import lookout as dg
from lookout._author.evaluate import evaluate
from lookout._base.errors import DefinitionError

UTC = dt.UTC

harbours = dg.StaticPartitionsDefinition(["leith", "oban", "wick"])
tides = dg.DailyPartitionsDefinition(start_date="2024-03-09", timezone="America/New_York")
crates = dg.DynamicPartitionsDefinition(name="crates")


@dg.asset(partitions_def=tides)
def tide_table(context: dg.AssetExecutionContext) -> tuple[str, str, str]:
    window = context.partition_time_window
    return context.partition_key, window.start.isoformat(), window.end.isoformat()


@dg.asset(
    partitions_def=dg.MultiPartitionsDefinition(
        {"day": dg.DailyPartitionsDefinition(start_date="2024-05-01"), "harbour": harbours}
    )
)
def landings(context: dg.AssetExecutionContext) -> dict[str, str]:
    key = context.partition_key
    assert isinstance(key, dg.MultiPartitionKey)
    return key.keys_by_dimension


@dg.op
def count_catch(context: dg.OpExecutionContext) -> str:
    return f"catch at {context.partition_key}"


@dg.job(partitions_def=harbours)
def catch_job() -> None:
    count_catch()


class HarbourConfig(dg.Config):
    harbour: str


@dg.op
def inspect_harbour(config: HarbourConfig) -> str:
    return f"inspected {config.harbour}"


@dg.static_partitioned_config(partition_keys=["leith", "oban"])
def harbour_config(partition_key: str) -> dg.RunConfig:
    return dg.RunConfig(ops={"inspect_harbour": HarbourConfig(harbour=partition_key)})


@dg.job(config=harbour_config)
def inspection_job() -> None:
    inspect_harbour()


@dg.asset(partitions_def=crates)
def crate_report(context: dg.AssetExecutionContext) -> str:
    return context.partition_key


crate_job = dg.define_asset_job("crate_job", [crate_report], partitions_def=crates)


@dg.sensor(job=crate_job)
def crate_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    arrived = ["c1", "c2"]
    new = [c for c in arrived if not context.instance.has_dynamic_partition("crates", c)]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=c) for c in new],
        dynamic_partitions_requests=[crates.build_add_request(new)],
    )


@pytest.mark.parametrize(
    ("partitions_def", "now", "keys"),
    [
        (tides, dt.datetime(2024, 3, 12, 3, tzinfo=UTC), ["2024-03-09", "2024-03-10"]),
        (
            dg.HourlyPartitionsDefinition(start_date="2024-01-01-00:00"),
            dt.datetime(2024, 1, 1, 3, 30, tzinfo=UTC),
            ["2024-01-01-00:00", "2024-01-01-01:00", "2024-01-01-02:00"],
        ),
        (
            dg.WeeklyPartitionsDefinition(start_date="2024-01-03", day_offset=3),
            dt.datetime(2024, 2, 1, tzinfo=UTC),
            ["2024-01-03", "2024-01-10", "2024-01-17", "2024-01-24"],
        ),
        (
            dg.MonthlyPartitionsDefinition(start_date="2024-01-15", day_offset=15, end_offset=1),
            dt.datetime(2024, 4, 1, tzinfo=UTC),
            ["2024-01-15", "2024-02-15", "2024-03-15"],
        ),
        (
            dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=-1),
            dt.datetime(2024, 1, 5, tzinfo=UTC),
            ["2024-01-01", "2024-01-02", "2024-01-03"],
        ),
        (
            dg.TimeWindowPartitionsDefinition(
                start="2024-01-01", fmt="%Y-%m-%d", cron_schedule="0 0 * * 1-5"
            ),
            dt.datetime(2024, 1, 10, tzinfo=UTC),
            [
                "2024-01-01",
                "2024-01-02",
                "2024-01-03",
                "2024-01-04",
                "2024-01-05",
                "2024-01-08",
                "2024-01-09",
            ],
        ),
    ],
)
def test_time_window_keys_are_the_windows_ended_by_now(
    partitions_def: dg.PartitionsDefinition, now: dt.datetime, keys: list[str]
) -> None:
    assert partitions_def.get_partition_keys(current_time=now) == keys


def test_hourly_keys_across_dst_skip_the_lost_hour_and_keep_both_repeated_ones() -> None:
    spring = dg.HourlyPartitionsDefinition(start_date="2024-03-31-00:00", timezone="Europe/Berlin")
    assert spring.get_partition_keys(current_time=dt.datetime(2024, 3, 31, 4, tzinfo=UTC)) == [
        "2024-03-31-00:00",
        "2024-03-31-01:00",
        "2024-03-31-03:00",
        "2024-03-31-04:00",
        "2024-03-31-05:00",
    ]
    autumn = dg.HourlyPartitionsDefinition(start_date="2024-10-27-00:00", timezone="Europe/Berlin")
    keys = autumn.get_partition_keys(current_time=dt.datetime(2024, 10, 27, 4, tzinfo=UTC))
    assert keys == [
        "2024-10-27-00:00",
        "2024-10-27-01:00",
        "2024-10-27-02:00",
        "2024-10-27-02:00+0100",
        "2024-10-27-03:00",
        "2024-10-27-04:00",
    ]
    first, second = (autumn.time_window_for_partition_key(k) for k in keys[2:4])
    assert first.end == second.start and second.start.utcoffset() == dt.timedelta(hours=1)


def test_time_window_of_a_key_is_in_the_definition_time_zone() -> None:
    offset = dg.DailyPartitionsDefinition(
        start_date="2024-03-09", timezone="America/New_York", hour_offset=2, minute_offset=30
    )
    window = offset.time_window_for_partition_key("2024-03-10")
    # 02:30 does not exist on the day clocks spring forward: the window opens at 03:00.
    assert window.start.isoformat() == "2024-03-10T03:00:00-04:00"
    assert window.end.isoformat() == "2024-03-11T02:30:00-04:00"


def test_multi_partition_keys_join_dimensions_in_name_order() -> None:
    multi = dg.MultiPartitionsDefinition(
        {
            "day": dg.DailyPartitionsDefinition(start_date="2024-05-01", end_date="2024-05-03"),
            "harbour": dg.StaticPartitionsDefinition(["leith", "oban"]),
        }
    )
    assert multi.get_partition_keys() == [
        "2024-05-01|leith",
        "2024-05-01|oban",
        "2024-05-02|leith",
        "2024-05-02|oban",
    ]
    key = dg.MultiPartitionKey({"harbour": "wick", "day": "2024-05-02"})
    assert key == "2024-05-02|wick"
    assert key.keys_by_dimension == {"day": "2024-05-02", "harbour": "wick"}


def test_partitioned_asset_sees_its_key_and_time_window() -> None:
    result = dg.materialize([tide_table], partition_key="2024-03-10")
    assert result.output_for_node("tide_table") == (
        "2024-03-10",
        "2024-03-10T00:00:00-05:00",
        "2024-03-11T00:00:00-04:00",
    )
    assert result.dagster_run.tags["dagster/partition"] == "2024-03-10"


def test_multi_partitioned_asset_gets_a_multi_partition_key() -> None:
    key = dg.MultiPartitionKey({"day": "2024-05-01", "harbour": "oban"})
    result = dg.materialize([landings], partition_key=key)
    assert result.output_for_node("landings") == {"day": "2024-05-01", "harbour": "oban"}


def test_materializing_a_partition_the_asset_lacks_is_an_error_naming_the_key() -> None:
    with pytest.raises(DefinitionError, match="`1999-01-01`"):
        dg.materialize([tide_table], partition_key="1999-01-01")


def test_partitioned_op_job_runs_one_partition() -> None:
    result = catch_job.execute_in_process(partition_key="oban")
    assert result.output_for_node("count_catch") == "catch at oban"


def test_run_request_for_partition_carries_dagster_tags() -> None:
    request = catch_job.run_request_for_partition("wick", run_key="wick-1", tags={"crew": "a"})
    assert request.run_key == "wick-1"
    assert request.partition_key == "wick"
    assert request.job_name == "catch_job"
    assert request.tags == {
        "crew": "a",
        "dagster/partition": "wick",
        "dagster/partition_set": "catch_job_partition_set",
    }


def test_run_request_for_an_unknown_partition_names_the_key() -> None:
    with pytest.raises(DefinitionError, match="`thurso`"):
        catch_job.run_request_for_partition("thurso")


def test_partitioned_config_gives_each_partition_its_run_config() -> None:
    assert harbour_config.get_partition_keys() == ["leith", "oban"]
    assert harbour_config.get_run_config_for_partition_key("oban") == {
        "loggers": {},
        "resources": {},
        "ops": {"inspect_harbour": {"config": {"harbour": "oban"}}},
        "execution": {},
    }
    assert inspection_job.execute_in_process(partition_key="leith").output_for_node(
        "inspect_harbour"
    ) == ("inspected leith")
    request = inspection_job.run_request_for_partition("oban")
    assert dg.validate_run_config(inspection_job, request.run_config)


def test_dynamic_partitions_live_on_the_instance() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("crates", ["c1", "c2"])
        instance.add_dynamic_partitions("crates", ["c2"])  # already there: kept once
        assert instance.get_dynamic_partitions("crates") == ["c1", "c2"]
        assert instance.has_dynamic_partition("crates", "c2")
        assert crates.get_partition_keys(dynamic_partitions_store=instance) == ["c1", "c2"]
        assert crates.has_partition_key("c1", dynamic_partitions_store=instance)
        instance.delete_dynamic_partition("crates", "c1")
        assert instance.get_dynamic_partitions("crates") == ["c2"]


def test_sensor_result_carries_dynamic_partition_requests_on_its_outcome() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("crates", ["c1"])
        context = dg.build_sensor_context(instance=instance)
        outcome = evaluate(crate_sensor, context)
    assert [(r.partition_key, r.job_name) for r in outcome.run_requests] == [("c2", "crate_job")]
    assert outcome.dynamic_partitions_requests == (
        dg.AddDynamicPartitionsRequest("crates", ["c2"]),
    )


def test_dynamic_partitioned_asset_materializes_a_key_the_instance_has() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("crates", ["c9"])
        result = dg.materialize([crate_report], partition_key="c9", instance=instance)
        assert result.output_for_node("crate_report") == "c9"
        with pytest.raises(DefinitionError, match="`c10`"):
            dg.materialize([crate_report], partition_key="c10", instance=instance)


def test_op_context_built_for_a_partition() -> None:
    context = dg.build_op_context(partition_key="leith")
    assert count_catch(context) == "catch at leith"


def _keys(defn: Any) -> list[str]:
    return list(defn.get_partition_keys())


def test_static_partition_keys_must_be_unique() -> None:
    with pytest.raises(DefinitionError, match="duplicate"):
        dg.StaticPartitionsDefinition(["a", "b", "a"])
    assert _keys(harbours) == ["leith", "oban", "wick"]


def test_unknown_partition_time_zone_is_a_clear_error() -> None:
    with pytest.raises(DefinitionError, match="unknown time zone 'Atlantis/Port'"):
        dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="Atlantis/Port")


def test_partition_loading_context_sets_the_time_and_the_store_partitions_are_read_at() -> None:
    days = dg.DailyPartitionsDefinition(start_date="2025-01-01")
    with dg.partition_loading_context(effective_dt=dt.datetime(2025, 1, 3)):
        assert days.get_last_partition_key() == "2025-01-02"
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("crates", ["c4"])
        with dg.partition_loading_context(dynamic_partitions_store=instance):
            assert crates.get_partition_keys() == ["c4"]
