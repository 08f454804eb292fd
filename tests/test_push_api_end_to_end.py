"""The push API's acceptance on real processes: scheduler, worker, launcher, monitor, redis-server.

A run pushed twice with one run key is one run; an external materialization
pushed once makes the downstream asset sensor launch exactly one run; a
trigger with a payload reaches its sensor within a second.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from lookout import Settings
from lookout._base.wire import RunRecord
from lookout.client import PushClient
from lookout.testing import Repositories
from tests.conftest import Spawn, process_env, wait_for
from tests.locations.work_support import start_launcher, start_worker
from tests.test_status_page_auth import TOKEN, start_monitor

MODULE = "tests.locations.push_api"
LOCATION = Path(__file__).resolve().parent / "locations" / "push_api.py"
ENV = {"LOOKOUT_HEARTBEAT_INTERVAL": "0.5", "LOOKOUT_LEADER_TTL": "5", "LOOKOUT_LEADER_RENEW": "1"}


@dataclass(frozen=True)
class Deployment:
    client: PushClient
    storage: Repositories


@pytest.fixture
def deployment(spawn: Spawn, settings: Settings, storage: Repositories) -> Deployment:
    start_worker(spawn, settings, MODULE, concurrency=2, env=ENV)
    start_launcher(spawn, settings, MODULE, env=ENV)
    spawn(["lookout", "scheduler", "-m", MODULE], process_env(settings, **ENV), "scheduler")
    base = start_monitor(spawn, settings, TOKEN, LOCATION)
    # The scheduler records the sensors; the asset sensor's first tick starts
    # it at the newest event (none yet), so that it sees every pushed one.
    wait_for(
        lambda: storage.sensors.state("on_vendor_feed").cursor is not None,
        30,
        what="the asset sensor's first tick",
    )
    return Deployment(PushClient(base, TOKEN), storage)


def _runs(storage: Repositories, job: str) -> list[RunRecord]:
    return [r for r in storage.runs.recent(limit=1000) if r.job_name == job]


def _succeeded(storage: Repositories, job: str, count: int) -> bool:
    runs = _runs(storage, job)
    return len(runs) == count and all(r.status == "SUCCESS" for r in runs)


def test_a_run_pushed_twice_with_one_run_key_is_one_run(deployment: Deployment) -> None:
    client, storage = deployment.client, deployment.storage
    config = {"ops": {"load": {"config": {"rows": 3}}}}
    first = client.launch_run("ingest_job", run_config=config, run_key="batch-17")
    second = client.launch_run("ingest_job", run_config=config, run_key="batch-17")
    assert first.launched and not second.launched
    assert first.run_id == second.run_id
    wait_for(lambda: _succeeded(storage, "ingest_job", 1), 30, what="the pushed run to succeed")
    # Pushed again once the run is over: still that one run.
    third = client.launch_run("ingest_job", run_config=config, run_key="batch-17")
    assert not third.launched and third.run_id == first.run_id
    time.sleep(1.5)  # the launcher's next rounds: nothing more may come
    (run,) = _runs(storage, "ingest_job")
    assert run.run_id == first.run_id and run.run_key == "batch-17"
    assert run.run_config == config and run.tags["lookout/push_source"] == "api"
    with urllib.request.urlopen(f"{client.url}/runs/{run.run_id}", timeout=10) as page:
        html = page.read().decode()
    assert "pushed through the API by source" in html and "/sensors/push" not in html


def test_an_external_materialization_pushed_once_launches_one_downstream_run(
    deployment: Deployment,
) -> None:
    client, storage = deployment.client, deployment.storage
    client.report_asset_event("vendor_feed", kind="observation", metadata={"files": 2})
    client.report_asset_event("vendor_feed", metadata={"rows": 1200})
    wait_for(lambda: _succeeded(storage, "refresh_job", 1), 30, what="one downstream run")

    def ticks() -> int:
        # A record of a run of like skips counts each of its ticks.
        return sum(t.count for t in storage.ticks.history("on_vendor_feed", 1000))

    seen = ticks()
    wait_for(lambda: ticks() >= seen + 3, 20, what="three more ticks of the asset sensor")
    (run,) = _runs(storage, "refresh_job")
    assert run.sensor == "on_vendor_feed" and run.tags["vendor_event"] == "runless"


def _reads(reasons: Callable[[], list[str | None]], wanted: str) -> Callable[[], bool]:
    return lambda: wanted in reasons()


def test_a_trigger_with_a_payload_reaches_its_sensor_within_a_second(
    deployment: Deployment,
) -> None:
    client, storage = deployment.client, deployment.storage

    def reasons() -> list[str | None]:
        return [t.skip_reason for t in storage.ticks.history("on_push", 100)]

    latencies = []
    for n in range(3):
        time.sleep(1.1)  # past the sensor's minimum interval since its last tick
        wanted = f'payload {{"n": {n}}}'
        start = time.monotonic()
        client.trigger_sensor("on_push", payload={"n": n})
        wait_for(_reads(reasons, wanted), 5, 0.01, what=f"the tick reading {wanted}")
        latencies.append(time.monotonic() - start)
    time.sleep(1.1)
    client.trigger_sensor("on_push")
    wait_for(lambda: reasons()[:1] == ["no payload"], 5, 0.01, what="a tick without payload")
    assert reasons() == ["no payload", *(f'payload {{"n": {n}}}' for n in (2, 1, 0))]
    print("trigger-to-tick latencies (s):", [round(x, 3) for x in latencies])
    assert max(latencies) < 1.0, latencies
