"""Asset events reported by sensors, and multi-asset sensors, through the real runtime.

A scheduler, a worker and a launcher run ``tests.locations.work_asset_events``
on a real redis-server.  Reported materializations reach a downstream asset
sensor once each, and a reporting tick delivered again appends nothing more;
a multi-asset sensor launches once both its assets are new (reported by
sensors, or materialized by runs) and keeps a cursor per asset; bad input
fails the ticks of the sensor that gave it, naming it, while everything
committed stays.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from lookout import DefaultSensorStatus, Settings
from lookout.testing import EventKind, Repositories, RunEvent, decode_value, encode_value
from lookout.workers.app import make_celery
from tests.conftest import Spawn, process_env, wait_for
from tests.locations.work_support import (
    all_events,
    claim_ticks,
    publish,
    start_launcher,
    start_worker,
    wait_committed,
)

LOCATION = "tests.locations.work_asset_events"
ENV = {"LOOKOUT_HEARTBEAT_INTERVAL": "0.5"}


def _start_processes(spawn: Spawn, settings: Settings) -> None:
    start_worker(spawn, settings, LOCATION, concurrency=2, env=ENV)
    start_launcher(spawn, settings, LOCATION, env=ENV)
    spawn(["lookout", "scheduler", "-m", LOCATION], process_env(settings, **ENV), "scheduler")


def _set(storage: Repositories, name: str, status: DefaultSensorStatus) -> None:
    storage.sensors.sync(name, DefaultSensorStatus.STOPPED, 1.0)
    storage.sensors.set_status(name, status, due_at=time.time())


def _stop(storage: Repositories, name: str) -> None:
    _set(storage, name, DefaultSensorStatus.STOPPED)
    wait_for(lambda: storage.sensors.state(name).inflight is None, 15, what=f"{name} to stop")


def _ticks(storage: Repositories, name: str, status: str) -> int:
    # A record of a run of like skips counts each of its ticks.
    return sum(t.count for t in storage.ticks.history(name, 1000) if t.status == status)


def _materialized(storage: Repositories, asset: str) -> list[tuple[str, RunEvent]]:
    """(event id, event) of each materialization of ``asset`` on the event stream."""
    return [
        (eid, e)
        for eid, e in storage.events.read("0-0", 100_000)
        if e.kind == EventKind.ASSET_MATERIALIZATION.value and e.asset_key == asset
    ]


def _runs(storage: Repositories, job: str) -> list[dict[str, str]]:
    return [r.tags for r in storage.runs.recent(limit=10_000) if r.job_name == job]


def _wait_materialized(storage: Repositories, asset: str) -> None:
    wait_for(lambda: _materialized(storage, asset) != [], 30, what=f"{asset} to be new")


def _two_more_ticks(storage: Repositories, name: str) -> None:
    """Wait for two more SKIPPED ticks of ``name``: time for a wrong run to show."""
    skipped = _ticks(storage, name, "SKIPPED")
    wait_for(lambda: _ticks(storage, name, "SKIPPED") >= skipped + 2, 20, what="two more ticks")


def _cursor(storage: Repositories, name: str) -> object:
    raw = storage.sensors.state(name).cursor
    return None if raw is None else decode_value(raw)


def test_reported_materializations_launch_one_downstream_run_each_and_a_stray_one_fails(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    _start_processes(spawn, settings)
    _set(storage, "on_outside", DefaultSensorStatus.RUNNING)
    wait_for(lambda: _cursor(storage, "on_outside") is not None, 20, what="on_outside's start")
    _set(storage, "report_outside", DefaultSensorStatus.RUNNING)
    _set(storage, "report_stray", DefaultSensorStatus.RUNNING)
    wait_for(lambda: len(_materialized(storage, "outside_feed")) >= 4, 30, what="four reports")
    wait_for(lambda: _ticks(storage, "report_stray", "FAILURE") >= 2, 20, what="stray failures")
    _stop(storage, "report_outside")
    _stop(storage, "report_stray")

    reported = [(eid, e.metadata["batch"][1]) for eid, e in _materialized(storage, "outside_feed")]
    wait_for(
        lambda: len(_runs(storage, "downstream_job")) >= len(reported),
        30,
        what="one downstream run per reported materialization",
    )
    time.sleep(2.5)  # on_outside ticks twice more: nothing may fire again
    runs = _runs(storage, "downstream_job")
    assert Counter(r["event"] for r in runs) == Counter(eid for eid, _ in reported)
    assert sorted(int(r["batch"]) for r in runs) == list(range(1, len(reported) + 1))
    # Each report sits in its asset's index under the event stream's id, metadata kept.
    indexed = storage.assets.page("outside_feed", count=1000)
    assert [(eid, e.metadata["batch"][1]) for eid, e in indexed] == reported
    assert indexed[0][1].metadata["source"] == ["text", "outside_feed drop"]
    assert all(e.sensor == "report_outside" for _, e in indexed)

    stray = storage.ticks.history("report_stray", 1)[0]
    assert "sensor 'report_stray'" in (stray.error or "") and "nobody_knows" in (stray.error or "")
    assert storage.assets.page("nobody_knows") == []
    assert not any(e.asset_key == "nobody_knows" for e in all_events(storage))


@pytest.mark.parametrize(
    ("multi", "job", "feeds"),
    [
        # reported by sensors with SensorResult(asset_events=...)
        (
            "both_feeds",
            "combine_job",
            (("report_outside", "outside_feed"), ("report_partner", "partner_feed")),
        ),
        # materialized by runs on the workers
        ("both_baked", "toast_job", (("bake_bread", "bread"), ("bake_butter", "butter"))),
    ],
)
def test_a_multi_asset_sensor_launches_once_both_assets_are_new_and_advances_each_cursor(
    spawn: Spawn,
    settings: Settings,
    storage: Repositories,
    multi: str,
    job: str,
    feeds: tuple[tuple[str, str], tuple[str, str]],
) -> None:
    _start_processes(spawn, settings)
    # A cursor of another format (an asset sensor's stream id) fails its ticks, naming it.
    old = "1764400000000-0"
    storage.sensors.set_cursor(multi, encode_value(old))
    _set(storage, multi, DefaultSensorStatus.RUNNING)
    wait_for(lambda: _ticks(storage, multi, "FAILURE") >= 1, 20, what="a failed tick")
    failed = storage.ticks.history(multi, 1)[0]
    assert f"sensor '{multi}'" in (failed.error or "") and "cursor" in (failed.error or "")
    assert _cursor(storage, multi) == old
    storage.sensors.set_cursor(multi, None)  # the operator's reset
    wait_for(lambda: _ticks(storage, multi, "SKIPPED") >= 1, 20, what="a skipped tick")

    for n, (feeder, asset) in enumerate(feeds):
        _set(storage, feeder, DefaultSensorStatus.RUNNING)
        _wait_materialized(storage, asset)
        _stop(storage, feeder)
        if n == 1:
            wait_for(lambda: _runs(storage, job) != [], 20, what="the run once both are new")
        _two_more_ticks(storage, multi)
        assert len(_runs(storage, job)) == n  # none while only the first asset is new
    runs = _runs(storage, job)
    assert len(runs) == 1

    ids = {
        asset: _storage_id(storage.assets.page(asset, newest_first=True, count=1)[0][0])
        for _, asset in feeds
    }
    assert runs[0] == {**runs[0], **{asset: str(sid) for asset, sid in ids.items()}}
    cursor = json.loads(str(_cursor(storage, multi)))
    assert cursor == {f"AssetKey(['{asset}'])": [None, sid, {}] for asset, sid in ids.items()}


def test_a_reporting_tick_delivered_again_appends_its_events_once(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    start_worker(spawn, settings, LOCATION, concurrency=2, queues=settings.tick_queue, env=ENV)
    storage.sensors.sync("report_outside", DefaultSensorStatus.STOPPED, 1.0)
    app = make_celery(settings)
    [tick] = claim_ticks(storage, settings, ["report_outside"])
    publish(app, [tick])
    publish(app, [tick])  # a publish resent after a lost reply
    wait_committed(storage, [tick])
    publish(app, [tick])  # redelivered after its commit
    time.sleep(1.5)  # time for a second append to show, were there one
    app.close()
    assert len(_materialized(storage, "outside_feed")) == 1
    assert len(storage.assets.page("outside_feed")) == 1
    assert [t.tick_id for t in storage.ticks.history("report_outside", 10)] == [tick.tick_id]


def _storage_id(entry_id: str) -> int:
    ms, _, seq = entry_id.partition("-")
    return int(ms) * 1_000_000 + int(seq)
