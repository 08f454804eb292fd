"""What a real tick (TickRunner on Redis) does with asset events and multi-asset sensors.

Asset events a sensor reports commit with its tick, once, into the event
stream and their assets' streams; a multi-asset sensor evaluates on the
runtime's instance and keeps per-asset cursors; bad input (an event for an
asset the code location does not know, a cursor of another format) fails
the tick naming the sensor and loses nothing committed before.  The one
place that builds a runner is ``runner_for``.
"""

from __future__ import annotations

import json

import lookout as dg
from lookout import Settings
from lookout._tools.dev import describe_event
from lookout.testing import (
    EventKind,
    Repositories,
    RunEvent,
    TickRunner,
    decode_value,
    encode_value,
    tick_runner,
)
from tests.docs_support import launched, tick


@dg.asset
def beans() -> int:
    return 1


@dg.asset
def milk() -> int:
    return 2


beans_job = dg.define_asset_job("beans_job", [beans])
outside_feed = dg.AssetSpec("outside_feed")


@dg.multi_asset_sensor(monitored_assets=[dg.AssetKey("beans"), dg.AssetKey("milk")], job=beans_job)
def both_in(context: dg.MultiAssetSensorEvaluationContext) -> dg.RunRequest | None:
    latest = context.latest_materialization_records_by_key()
    if all(latest.values()):
        context.advance_all_cursors()
        return dg.RunRequest()
    return None


@dg.sensor()
def reports_feed(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    n = int(context.cursor or 0) + 1
    event = dg.AssetMaterialization("outside_feed", metadata={"rows": n}, partition=f"p{n}")
    return dg.SensorResult(asset_events=[event], cursor=str(n))


@dg.sensor()
def reports_beans() -> dg.SensorResult:
    return dg.SensorResult(asset_events=[dg.AssetMaterialization("beans")])


@dg.sensor()
def reports_milk() -> dg.SensorResult:
    return dg.SensorResult(asset_events=[dg.AssetMaterialization("milk")])


@dg.sensor()
def reports_stray() -> dg.SensorResult:
    return dg.SensorResult(asset_events=[dg.AssetMaterialization("nobody_knows")])


@dg.sensor(job=beans_job)
def asks_the_instance(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    latest = context.instance.get_latest_materialization_event(dg.AssetKey("outside_feed"))
    runs = context.instance.get_run_records(filters=dg.RunsFilter(job_name="beans_job"), limit=5)
    rows = latest.asset_materialization.metadata["rows"].value if latest else None
    return dg.SkipReason(f"rows={rows} runs={len(runs)}")


@dg.asset_sensor(asset_key=dg.AssetKey("outside_feed"), job=beans_job)
def on_feed(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.RunRequest:
    materialization = asset_event.asset_materialization
    assert materialization is not None
    return dg.RunRequest(tags={"rows": str(materialization.metadata["rows"].value)})


@dg.asset_sensor(asset_key=dg.AssetKey("outside_feed"))
def relays_stray(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> dg.SensorResult:
    return dg.SensorResult(asset_events=[dg.AssetObservation("nobody_knows")])


class Days:
    """A fixed list of partition keys (what a partitions definition tells a sensor)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def get_partition_keys(self) -> list[str]:
        return self.keys


DAYS = Days(["d1", "d2", "d3"])


@dg.asset(partitions_def=DAYS)
def left() -> int:
    return 1


@dg.asset(partitions_def=DAYS)
def right() -> int:
    return 2


@dg.sensor()
def reports_days(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    n = int(context.cursor or 0) + 1
    plan = [("left", "d1"), ("right", "d1"), ("left", "d2")] if n == 1 else [("right", "d2")]
    events = [dg.AssetMaterialization(a, partition=p) for a, p in plan]
    return dg.SensorResult(asset_events=events, cursor=str(n))


@dg.multi_asset_sensor(monitored_assets=[dg.AssetKey("left"), dg.AssetKey("right")], job=beans_job)
def days_in(context: dg.MultiAssetSensorEvaluationContext) -> list[dg.RunRequest]:
    requests = []
    by_partition = context.latest_materialization_records_by_partition_and_asset()
    for partition, records in by_partition.items():
        if set(records) == set(context.asset_keys):
            context.advance_cursor(records)
            requests.append(dg.RunRequest(partition_key=partition))
    return requests


@dg.sensor()
def reports_through_the_instance(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    context.instance.report_runless_asset_event(dg.AssetObservation("milk", metadata={"l": 2}))
    return dg.SensorResult(asset_events=[dg.AssetMaterialization("milk")])


@dg.sensor()
def reports_then_raises(context: dg.SensorEvaluationContext) -> None:
    context.instance.report_runless_asset_event(dg.AssetMaterialization("milk"))
    raise RuntimeError("the fridge broke")


DEFS = dg.Definitions(
    assets=[beans, milk, outside_feed, left, right],
    jobs=[beans_job],
    sensors=[
        both_in,
        reports_feed,
        reports_beans,
        reports_milk,
        reports_stray,
        asks_the_instance,
        on_feed,
        relays_stray,
        reports_days,
        days_in,
        reports_through_the_instance,
        reports_then_raises,
    ],
)


def runner_for(storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(DEFS, storage, settings)


def _cursor(storage: Repositories, name: str) -> object:
    raw = storage.sensors.state(name).cursor
    return None if raw is None else decode_value(raw)


def _materializations(storage: Repositories, asset: str) -> list[str]:
    return [
        eid
        for eid, e in storage.events.read("0-0", 10_000)
        if e.kind == EventKind.ASSET_MATERIALIZATION.value and e.asset_key == asset
    ]


def test_reported_asset_events_commit_with_the_tick_into_the_stream_and_their_asset_index(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    assert tick(runner, "reports_feed").status == "SKIPPED"
    assert tick(runner, "reports_feed").status == "SKIPPED"
    ids = _materializations(storage, "outside_feed")
    assert len(ids) == 2
    indexed = storage.assets.page("outside_feed")
    assert [eid for eid, _ in indexed] == ids  # the same entries, under the same ids
    event = indexed[-1][1]
    assert event.sensor == "reports_feed" and event.partition == "p2"
    assert event.metadata == {"rows": ["int", 2]}
    assert storage.assets.materialized_partitions("outside_feed") == {"p1": ids[0], "p2": ids[1]}


def test_a_redelivered_commit_appends_its_asset_events_once(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    tick_id = "t-redelivered"
    holder = f"test:{tick_id}"
    storage.ticks.claim("reports_feed", tick_id, 60)
    assert storage.ticks.begin([("reports_feed", tick_id)], holder, 60) == [""]
    commit = runner.evaluate(
        DEFS.get_sensor("reports_feed"),
        storage.sensors.state("reports_feed"),
        tick_id=tick_id,
        due_at=None,
        holder=holder,
    )
    assert len(commit.asset_events) == 1
    assert storage.ticks.commit(commit) is not None
    # Sent again (a lost reply), the commit is answered as done and writes nothing more.
    assert storage.ticks.commit(commit) is not None
    assert len(_materializations(storage, "outside_feed")) == 1
    assert len(storage.assets.page("outside_feed")) == 1


def test_a_multi_asset_sensor_runs_once_both_assets_are_new_and_advances_each_cursor(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    assert tick(runner, "both_in").status == "SKIPPED"
    tick(runner, "reports_beans")
    assert tick(runner, "both_in").status == "SKIPPED"  # milk has nothing new yet
    tick(runner, "reports_milk")
    assert tick(runner, "both_in").status == "SUCCESS"
    assert [r.job_name for r in launched(runner)] == ["beans_job"]
    assert tick(runner, "both_in").status == "SKIPPED"  # consumed: nothing new
    cursor = json.loads(str(_cursor(storage, "both_in")))
    newest = {
        asset: storage.assets.page(asset, newest_first=True, count=1)[0][0]
        for asset in ("beans", "milk")
    }
    for asset, eid in newest.items():
        ms, _, seq = eid.partition("-")
        assert cursor[str(dg.AssetKey(asset))][1] == int(ms) * 1_000_000 + int(seq)


def test_a_multi_asset_sensor_with_a_cursor_of_another_format_fails_naming_it(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    # An asset sensor's cursor (a stream id), as left by an older version of the sensor.
    storage.sensors.set_cursor("both_in", encode_value("1764400000000-0"))
    failed = tick(runner, "both_in")
    assert failed.status == "FAILURE"
    assert "sensor 'both_in'" in (failed.error or "") and "cursor" in (failed.error or "")
    assert _cursor(storage, "both_in") == "1764400000000-0"  # left where it was


def test_a_tick_reporting_an_event_for_an_unknown_asset_fails_naming_both_and_keeps_the_rest(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    tick(runner, "reports_feed")
    failed = tick(runner, "reports_stray")
    assert failed.status == "FAILURE"
    assert "sensor 'reports_stray'" in (failed.error or "")
    assert "nobody_knows" in (failed.error or "")
    assert storage.assets.page("nobody_knows") == []
    assert len(_materializations(storage, "outside_feed")) == 1  # what was committed stays
    assert tick(runner, "reports_feed").status == "SKIPPED"
    # An asset sensor's function reporting one is refused alike.
    first = _materializations(storage, "outside_feed")[0]
    storage.sensors.set_cursor("relays_stray", encode_value(first))  # one event after it
    relayed = tick(runner, "relays_stray")
    assert relayed.status == "FAILURE" and "nobody_knows" in (relayed.error or "")
    assert storage.assets.page("nobody_knows", observed=True) == []


def test_context_instance_on_the_runtime_answers_from_redis(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    assert tick(runner, "asks_the_instance").skip_reason == "rows=None runs=0"
    tick(runner, "reports_feed")
    tick(runner, "reports_feed")
    assert tick(runner, "asks_the_instance").skip_reason == "rows=2 runs=0"


def test_lookout_dev_shows_a_reported_event_with_its_sensor_and_metadata(
    storage: Repositories, settings: Settings
) -> None:
    tick(runner_for(storage, settings), "reports_feed")
    [(_, event)] = storage.assets.page("outside_feed")
    shown = describe_event(event)
    assert shown == "sensor reports_feed materialized outside_feed partition=p1 rows=1"


def test_an_asset_sensor_takes_a_storage_id_cursor_and_fails_on_one_of_another_format(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    for _ in range(3):
        tick(runner, "reports_feed")
    storage.sensors.set_cursor("on_feed", encode_value("last-week"))
    failed = tick(runner, "on_feed")
    assert failed.status == "FAILURE"
    assert "sensor 'on_feed'" in (failed.error or "") and "'last-week'" in (failed.error or "")
    assert _cursor(storage, "on_feed") == "last-week"
    # A storage id, as the instance's records carry them: only later events fire.
    assert runner.instance is not None
    first = runner.instance.fetch_materializations(dg.AssetKey("outside_feed"), 1, ascending=True)
    storage.sensors.set_cursor("on_feed", encode_value(str(first.records[0].storage_id)))
    assert tick(runner, "on_feed").status == "SUCCESS"
    assert sorted(r.tags["rows"] for r in launched(runner)) == ["2", "3"]


def test_an_asset_sensors_first_tick_finds_the_newest_materialization_however_old(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    tick(runner, "reports_feed")
    for n in range(10_050):  # more than the stream's recent events looked through
        storage.events.append(RunEvent(EventKind.RUN_STATUS.value, f"r{n}", "other", 0.0))
    assert tick(runner, "on_feed").status == "SUCCESS"
    assert [r.tags["rows"] for r in launched(runner)] == ["1"]


def test_a_partitioned_multi_asset_sensor_runs_each_partition_once_both_assets_have_it(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    tick(runner, "reports_days")  # left d1, right d1, left d2
    assert tick(runner, "days_in").status == "SUCCESS"
    assert tick(runner, "days_in").status == "SKIPPED"
    tick(runner, "reports_days")  # right d2
    assert tick(runner, "days_in").status == "SUCCESS"
    assert tick(runner, "days_in").status == "SKIPPED"
    assert [r.partition_key for r in launched(runner)] == ["d1", "d2"]


def test_events_reported_through_context_instance_commit_with_the_tick_or_not_at_all(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    assert tick(runner, "reports_then_raises").status == "FAILURE"
    assert storage.assets.page("milk") == []
    tick(runner, "reports_through_the_instance")
    [(_, observed)] = storage.assets.page("milk", observed=True)
    assert observed.metadata == {"l": ["int", 2]}
    assert len(storage.assets.page("milk")) == 1
    kinds = [e.kind for _, e in storage.events.read("0-0", 100) if e.asset_key == "milk"]
    assert kinds == [EventKind.ASSET_OBSERVATION.value, EventKind.ASSET_MATERIALIZATION.value]
