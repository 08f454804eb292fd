"""A code location fed by the push API (not by polling).

``ingest_job`` takes a row count as config; ``vendor_feed`` is an external
asset that only the push API reports, and ``on_vendor_feed`` asks for one
``refresh_job`` run per materialization of it, with no run key: an event
seen twice would show as a second run.  ``on_push`` only ticks when
triggered (STOPPED, so the scheduler never ticks it by itself) and says in
its skip reason what trigger payload it read; a payload ``{"hold": path}``
makes it write ``path.started`` once it runs and wait for ``path.go``, so
that a test can act while a tick evaluates.
"""

import json
import time
from pathlib import Path

import lookout as dg


class LoadConfig(dg.Config):
    rows: int = 1


@dg.op
def load(config: LoadConfig) -> int:
    return config.rows


@dg.job
def ingest_job() -> None:
    load()


@dg.op
def refresh() -> str:
    return "fresh"


@dg.job
def refresh_job() -> None:
    refresh()


vendor_feed = dg.AssetSpec("vendor_feed", description="Files a vendor drops; reported by push.")


@dg.asset_sensor(
    asset_key=dg.AssetKey("vendor_feed"),
    job=refresh_job,
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def on_vendor_feed(
    context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
) -> dg.RunRequest:
    return dg.RunRequest(tags={"vendor_event": asset_event.run_id or "runless"})


def _hold(path: Path) -> None:
    path.with_suffix(".started").touch()
    deadline = time.monotonic() + 10
    while not path.with_suffix(".go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)


@dg.sensor(job=ingest_job, minimum_interval_seconds=1)
def on_push(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    payload = context.trigger_payload
    if payload is None:
        return dg.SkipReason("no payload")
    if isinstance(payload, dict) and "hold" in payload:
        _hold(Path(payload["hold"]))
    return dg.SkipReason("payload " + json.dumps(payload, sort_keys=True))


defs = dg.Definitions(
    assets=[vendor_feed],
    jobs=[ingest_job, refresh_job],
    sensors=[on_vendor_feed, on_push],
)
