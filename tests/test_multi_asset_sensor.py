"""``multi_asset_sensor`` tested in the shapes of Dagster's docs and their tests.

A context on an instance, materializations into it, then the sensor called
with the context: the run requests, skips and per-asset cursors (Dagster's
JSON cursor format, storage ids of the consumed events) are Dagster's.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

import lookout as dg
from lookout._author.evaluate import evaluate
from lookout._base.errors import DefinitionError, SensorEvaluationError

DAYS = dg.StaticPartitionsDefinition(["2024-03-01", "2024-03-02", "2024-03-03"])


@dg.asset
def left() -> int:
    return 1


@dg.asset
def right() -> int:
    return 2


@dg.asset
def other() -> int:
    return 3


@dg.asset(partitions_def=DAYS)
def daily_in() -> int:
    return 1


@dg.asset(partitions_def=DAYS)
def daily_out() -> int:
    return 1


@dg.asset(partitions_def=DAYS)
def daily_report() -> int:
    return 1


report_job = dg.define_asset_job("report_job", dg.AssetSelection.assets("other"))
daily_job = dg.define_asset_job("daily_job", dg.AssetSelection.keys("daily_report"))


@dg.multi_asset_sensor(monitored_assets=[dg.AssetKey("left"), dg.AssetKey("right")], job=report_job)
def both_sides(context: dg.MultiAssetSensorEvaluationContext) -> Any:
    events = context.latest_materialization_records_by_key()
    if all(events.values()):
        context.advance_all_cursors()
        return dg.RunRequest(run_key=context.cursor)
    if any(events.values()):
        seen = [k.to_user_string() for k, v in events.items() if v]
        missing = [k.to_user_string() for k, v in events.items() if not v]
        return dg.SkipReason(f"saw {seen}, waiting for {missing}")
    return None


@dg.multi_asset_sensor(
    monitored_assets=[dg.AssetKey("daily_in"), dg.AssetKey("daily_out")], job=daily_job
)
def both_partitions(context: dg.MultiAssetSensorEvaluationContext) -> Any:
    requests = []
    by_partition = context.latest_materialization_records_by_partition_and_asset()
    for partition, by_asset in by_partition.items():
        if set(by_asset) == set(context.asset_keys):
            requests.append(daily_job.run_request_for_partition(partition))
            for key, record in by_asset.items():
                context.advance_cursor({key: record})
    return requests


def _id(instance: dg.DagsterInstance, key: str) -> int:
    return int(instance.fetch_materializations(dg.AssetKey(key), limit=1).records[0].storage_id)


def _context(instance: dg.DagsterInstance, *keys: str, **kw: Any) -> Any:
    return dg.build_multi_asset_sensor_context(
        monitored_assets=[dg.AssetKey(k) for k in keys], instance=instance, **kw
    )


def test_multi_asset_sensor_requests_once_both_assets_have_new_materializations() -> None:
    instance = dg.DagsterInstance.ephemeral()
    context = _context(instance, "left", "right")
    assert both_sides(context) is None and context.cursor is None

    dg.materialize([left], instance=instance)
    assert both_sides(context) == dg.SkipReason("saw ['left'], waiting for ['right']")
    assert context.cursor is None  # a skip consumes nothing

    dg.materialize([right], instance=instance)
    # the function ran before the cursor moved: run_key is the cursor it was given
    assert both_sides(context) == dg.RunRequest(run_key=None)
    assert json.loads(str(context.cursor)) == {
        "AssetKey(['left'])": [None, _id(instance, "left"), {}],
        "AssetKey(['right'])": [None, _id(instance, "right"), {}],
    }
    assert both_sides(context) is None

    dg.materialize([right], instance=instance)
    assert both_sides(context) == dg.SkipReason("saw ['right'], waiting for ['left']")


def test_multi_asset_sensor_context_on_other_assets_sees_only_those() -> None:
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([left, right], instance=instance)
    for _ in range(3):
        dg.materialize([other], instance=instance)
    # the sensor reads the context's monitored assets, as Dagster's docs test shows
    result = both_sides(_context(instance, "other"))
    assert result == dg.RunRequest(run_key=None) and result.run_config == {}


def test_multi_asset_sensor_and_of_partitions_advances_per_partition() -> None:
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions(assets=[daily_in, daily_out, daily_report])
    context = _context(instance, "daily_in", "daily_out", definitions=defs)
    dg.materialize([daily_in, daily_out], instance=instance, partition_key="2024-03-01")
    (request,) = both_partitions(context)
    assert request.tags["dagster/partition"] == "2024-03-01"
    assert request.job_name == "daily_job"

    dg.materialize([daily_in], instance=instance, partition_key="2024-03-02")
    assert both_partitions(context) == []
    dg.materialize([daily_out], instance=instance, partition_key="2024-03-02")
    (request,) = both_partitions(context)
    assert request.tags["dagster/partition"] == "2024-03-02"
    assert json.loads(str(context.cursor)) == {
        "AssetKey(['daily_in'])": ["2024-03-02", _id(instance, "daily_in"), {}],
        "AssetKey(['daily_out'])": ["2024-03-02", _id(instance, "daily_out"), {}],
    }


def test_multi_asset_sensor_keeps_trailing_unconsumed_partitions_in_its_cursor() -> None:
    @dg.multi_asset_sensor(monitored_assets=[dg.AssetKey("daily_in")], job=daily_job)
    def only_third(context: dg.MultiAssetSensorEvaluationContext) -> Any:
        records = context.latest_materialization_records_by_partition(dg.AssetKey("daily_in"))
        if "2024-03-03" in records:
            context.advance_cursor({dg.AssetKey("daily_in"): records["2024-03-03"]})
            return [daily_job.run_request_for_partition("2024-03-03")]
        return []

    instance = dg.DagsterInstance.ephemeral()
    context = _context(instance, "daily_in", definitions=dg.Definitions(assets=[daily_in]))
    for day in ["2024-03-01", "2024-03-03"]:
        dg.materialize([daily_in], instance=instance, partition_key=day)
    first = instance.fetch_materializations(dg.AssetKey("daily_in"), limit=2).records[-1]
    assert len(only_third(context)) == 1
    # the 03-01 event trails the consumed one: it stays for later ticks
    assert json.loads(str(context.cursor)) == {
        "AssetKey(['daily_in'])": [
            "2024-03-03",
            _id(instance, "daily_in"),
            {"2024-03-01": first.storage_id},
        ]
    }
    assert [
        r.partition_key for r in context.get_trailing_unconsumed_events(dg.AssetKey("daily_in"))
    ] == ["2024-03-01"]
    assert context.all_partitions_materialized(dg.AssetKey("daily_in"), ["2024-03-01"])
    assert not context.all_partitions_materialized(dg.AssetKey("daily_in"))


def test_multi_asset_sensor_monitoring_a_selection_resolves_it_on_the_definitions() -> None:
    @dg.multi_asset_sensor(monitored_assets=dg.AssetSelection.assets(left, right), job=report_job)
    def selected(context: dg.MultiAssetSensorEvaluationContext) -> Any:
        return [k.to_user_string() for k in context.asset_keys]

    defs = dg.Definitions(assets=[left, right, other], sensors=[selected])
    context = dg.build_multi_asset_sensor_context(
        monitored_assets=dg.AssetSelection.assets(left, right), definitions=defs
    )
    assert selected(context) == ["left", "right"]


def test_multi_asset_sensor_on_a_tick_stores_its_cursor_and_requires_an_advance() -> None:
    instance = dg.DagsterInstance.ephemeral()
    dg.materialize([left, right], instance=instance)
    outcome = evaluate(both_sides, dg.build_sensor_context(instance=instance))
    assert [r.job_name for r in outcome.run_requests] == ["report_job"]
    assert outcome.cursor_updated and set(json.loads(outcome.cursor)) == {
        "AssetKey(['left'])",
        "AssetKey(['right'])",
    }

    @dg.multi_asset_sensor(monitored_assets=[dg.AssetKey("left")], job=report_job)
    def forgetful(context: dg.MultiAssetSensorEvaluationContext) -> Any:
        return dg.RunRequest()

    with pytest.raises(SensorEvaluationError, match=r"sensor 'forgetful'.*advance"):
        evaluate(forgetful, dg.build_sensor_context(instance=instance))


def test_multi_asset_sensor_refuses_a_cursor_of_another_format_naming_the_sensor() -> None:
    instance = dg.DagsterInstance.ephemeral()
    for cursor in ["17", "{\"AssetKey(['left'])\": 5}"]:
        context = dg.build_sensor_context(instance=instance, cursor=cursor)
        with pytest.raises(DefinitionError, match=r"sensor 'both_sides': .*cursor"):
            evaluate(both_sides, context)


def test_multi_asset_sensor_selection_with_an_unknown_key_names_the_sensor() -> None:
    @dg.multi_asset_sensor(monitored_assets=dg.AssetSelection.keys("nowhere"), job=report_job)
    def lost(context: dg.MultiAssetSensorEvaluationContext) -> None:
        return None

    defs = dg.Definitions(assets=[left, other], sensors=[lost])
    context = dg.build_sensor_context(instance=dg.DagsterInstance.ephemeral(), definitions=defs)
    with pytest.raises(DefinitionError, match=r"sensor 'lost'.*\['nowhere'\]"):
        evaluate(lost, context)


class Windows:
    """Partitions that are time windows of ``days`` days from 2024-03-01."""

    def __init__(self, days: int, count: int) -> None:
        first = datetime.date(2024, 3, 1)
        self.starts = [first + datetime.timedelta(days=days * i) for i in range(count)]
        self.days = days

    def get_partition_keys(self) -> list[str]:
        return [s.isoformat() for s in self.starts]

    def time_window_for_partition_key(self, key: str) -> tuple[datetime.date, datetime.date]:
        start = datetime.date.fromisoformat(key)
        return start, start + datetime.timedelta(days=self.days)


def test_downstream_partition_keys_map_same_partitions_and_overlapping_windows() -> None:
    @dg.asset(partitions_def=Windows(1, 14))
    def day() -> int:
        return 1

    @dg.asset(partitions_def=Windows(7, 2))
    def week() -> int:
        return 1

    defs = dg.Definitions(assets=[day, week, daily_in, daily_out])
    context = _context(dg.DagsterInstance.ephemeral(), "day", definitions=defs)
    key = dg.AssetKey
    assert context.get_downstream_partition_keys("2024-03-09", key("day"), key("week")) == [
        "2024-03-08"
    ]
    assert len(context.get_downstream_partition_keys("2024-03-08", key("week"), key("day"))) == 7
    same = context.get_downstream_partition_keys("2024-03-02", key("daily_in"), key("daily_out"))
    assert same == ["2024-03-02"]
