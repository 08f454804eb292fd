"""What a real tick (TickRunner on Redis) does with asset features the runtime lacks yet.

A multi-asset sensor's tick fails, saying so; a sensor reporting an event for
an asset its code location does not know fails, naming both.  The one place
that builds a runner is ``runner_for``.
"""

from __future__ import annotations

import lookout as dg
from lookout import Settings
from lookout.testing import Repositories, TickRunner, tick_runner
from tests.docs_support import tick


@dg.asset
def beans() -> int:
    return 1


@dg.asset
def milk() -> int:
    return 2


beans_job = dg.define_asset_job("beans_job", [beans])
outside_feed = dg.AssetSpec("outside_feed")


@dg.multi_asset_sensor(monitored_assets=[dg.AssetKey("beans"), dg.AssetKey("milk")], job=beans_job)
def both_in(context: dg.MultiAssetSensorEvaluationContext) -> None:
    context.advance_all_cursors()


@dg.sensor()
def reports_feed() -> dg.SensorResult:
    return dg.SensorResult(asset_events=[dg.AssetMaterialization("outside_feed")])


@dg.sensor()
def reports_stray() -> dg.SensorResult:
    return dg.SensorResult(asset_events=[dg.AssetMaterialization("nobody_knows")])


DEFS = dg.Definitions(
    assets=[beans, milk, outside_feed], sensors=[both_in, reports_feed, reports_stray]
)


def runner_for(storage: Repositories, settings: Settings) -> TickRunner:
    return tick_runner(DEFS, storage, settings)


def test_the_runtime_fails_a_multi_asset_sensor_tick_with_the_reason(
    storage: Repositories, settings: Settings
) -> None:
    record = tick(runner_for(storage, settings), "both_in")
    assert record.status == "FAILURE"
    assert "multi_asset_sensor" in (record.error or "")


def test_a_tick_reporting_an_event_for_an_unknown_asset_fails_naming_both(
    storage: Repositories, settings: Settings
) -> None:
    runner = runner_for(storage, settings)
    failed = tick(runner, "reports_stray")
    assert failed.status == "FAILURE"
    assert "sensor 'reports_stray'" in (failed.error or "")
    assert "nobody_knows" in (failed.error or "")
    assert tick(runner, "reports_feed").status == "SKIPPED"
