"""Sensors that report external assets' materializations, and sensors downstream of them.

``report_outside`` and ``report_partner`` each report one materialization of
their external asset (an ``AssetSpec``) per tick, numbered in ``batch``
metadata.  ``on_outside`` asks for one ``downstream_job`` run per
``outside_feed`` materialization, with no run key: an event seen twice would
show as a second run.  ``both_feeds`` asks for one ``combine_job`` run once
both feeds have new materializations.  ``report_stray`` reports an asset
this location does not define.  ``bake_bread`` and ``bake_butter`` each ask
for one run (run-keyed: once ever) of a job that materializes an asset, and
``both_baked`` asks for one ``toast_job`` run once both are new.
"""

import lookout as dg

outside_feed = dg.AssetSpec("outside_feed", description="files an outside system drops")
partner_feed = dg.AssetSpec("partner_feed")


@dg.op
def record(context: dg.OpExecutionContext) -> dict[str, str]:
    return dict(context.run.tags)


@dg.job
def downstream_job() -> None:
    record()


@dg.job
def combine_job() -> None:
    record()


@dg.asset
def bread() -> int:
    return 1


@dg.asset
def butter() -> int:
    return 2


bread_job = dg.define_asset_job("bread_job", selection=[bread])
butter_job = dg.define_asset_job("butter_job", selection=[butter])


@dg.job
def toast_job() -> None:
    record()


@dg.sensor(job=bread_job, minimum_interval_seconds=1)
def bake_bread() -> dg.RunRequest:
    return dg.RunRequest(run_key="bread")


@dg.sensor(job=butter_job, minimum_interval_seconds=1)
def bake_butter() -> dg.RunRequest:
    return dg.RunRequest(run_key="butter")


def _report(context: dg.SensorEvaluationContext, asset: str) -> dg.SensorResult:
    batch = int(context.cursor or 0) + 1
    event = dg.AssetMaterialization(asset, metadata={"batch": batch, "source": f"{asset} drop"})
    return dg.SensorResult(asset_events=[event], cursor=str(batch))


@dg.sensor(minimum_interval_seconds=1)
def report_outside(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    return _report(context, "outside_feed")


@dg.sensor(minimum_interval_seconds=1)
def report_partner(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    return _report(context, "partner_feed")


@dg.sensor(minimum_interval_seconds=1)
def report_stray() -> dg.SensorResult:
    return dg.SensorResult(asset_events=[dg.AssetMaterialization("nobody_knows")])


@dg.asset_sensor(
    asset_key=dg.AssetKey("outside_feed"), job=downstream_job, minimum_interval_seconds=1
)
def on_outside(context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry) -> dg.RunRequest:
    materialization = asset_event.asset_materialization
    assert materialization is not None
    batch = materialization.metadata["batch"].value
    return dg.RunRequest(tags={"batch": str(batch), "event": asset_event.storage_id})


def _when_both_new(context: dg.MultiAssetSensorEvaluationContext) -> dg.RunRequest | None:
    latest = context.latest_materialization_records_by_key()
    if not all(latest.values()):
        return None
    context.advance_all_cursors()
    return dg.RunRequest(
        tags={key.to_user_string(): str(r.storage_id) for key, r in latest.items() if r}
    )


@dg.multi_asset_sensor(
    monitored_assets=[dg.AssetKey("outside_feed"), dg.AssetKey("partner_feed")],
    job=combine_job,
    minimum_interval_seconds=1,
)
def both_feeds(context: dg.MultiAssetSensorEvaluationContext) -> dg.RunRequest | None:
    return _when_both_new(context)


@dg.multi_asset_sensor(
    monitored_assets=dg.AssetSelection.assets(bread, butter),
    job=toast_job,
    minimum_interval_seconds=1,
)
def both_baked(context: dg.MultiAssetSensorEvaluationContext) -> dg.RunRequest | None:
    return _when_both_new(context)


defs = dg.Definitions(
    assets=[outside_feed, partner_feed, bread, butter],
    jobs=[downstream_job, combine_job, bread_job, butter_job, toast_job],
    sensors=[
        report_outside,
        report_partner,
        report_stray,
        on_outside,
        both_feeds,
        bake_bread,
        bake_butter,
        both_baked,
    ],
)
