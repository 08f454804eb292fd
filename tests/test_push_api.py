"""The push API over real HTTP: a ``lookout monitor`` process, ``lookout.client`` and raw requests.

Every call needs the operator's token; bad input of every kind is a 4xx with a
clear message and leaves Redis byte for byte as it was.  The OpenAPI
description the monitor serves is valid OpenAPI 3.1, and the answers it gives
fit the schemas it describes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from lookout import Settings
from lookout._core.payload import PAYLOAD_LIMIT
from lookout._tools.monitor.api import MAX_BODY_BYTES
from lookout.client import PushApiError, PushClient
from lookout.testing import (
    EmbeddedRedis,
    EventKind,
    Repositories,
    load_definitions,
    sync_definitions,
)
from tests.conftest import Spawn
from tests.test_status_page_auth import TOKEN, start_monitor

LOCATION = Path(__file__).resolve().parent / "locations" / "push_api.py"
PATHS = {"/api/v1/runs", "/api/v1/asset-events", "/api/v1/sensors/{name}/trigger"}


@pytest.fixture
def monitor(spawn: Spawn, settings: Settings, storage: Repositories) -> str:
    """A monitor with the operator token, over a location whose sensors Redis knows."""
    sync_definitions(load_definitions(file=str(LOCATION)), storage.sensors)
    return start_monitor(spawn, settings, TOKEN, LOCATION)


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def snapshot(storage: Repositories) -> dict[bytes, bytes | None]:
    """Every key's serialized value, but the monitor's own heartbeat (it changes by itself)."""
    keys = [k for k in storage.client.scan_iter(count=1000) if b":process" not in k]
    return {k: storage.client.dump(k) for k in keys}


def fits(spec: dict[str, Any], schema: str, value: Any) -> None:
    """``value`` matches the described schema (references resolved within the description)."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]}
    Draft202012Validator(root).validate(value)


def test_the_served_openapi_description_is_valid_and_describes_every_push_route(
    monitor: str,
) -> None:
    with urllib.request.urlopen(monitor + "/api/v1/openapi.json", timeout=10) as resp:
        spec = json.loads(resp.read())
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == PATHS
    fits(spec, "LaunchRun", {"job_name": "ingest_job", "run_key": "k", "tags": {"a": "b"}})
    fits(spec, "AssetEvent", {"asset_key": ["vendor", "feed"], "kind": "observation"})
    client = PushClient(monitor, TOKEN)
    fits(spec, "LaunchResult", client.launch_run("ingest_job").__dict__)
    fits(spec, "AssetEventResult", client.report_asset_event("vendor_feed").__dict__)
    fits(spec, "TriggerResult", client.trigger_sensor("on_push", payload=[1]).__dict__)
    status, refused = post(monitor + "/api/v1/runs", b"{}", {})
    assert status == 401
    fits(spec, "Error", refused)


def test_a_run_pushed_with_a_run_key_many_times_at_once_is_requested_once(
    monitor: str, storage: Repositories
) -> None:
    client = PushClient(monitor, TOKEN)
    config = {"ops": {"load": {"config": {"rows": 7}}}}

    def push(_: int) -> Any:
        return client.launch_run(
            "ingest_job", run_config=config, tags={"team": "data"}, run_key="2026-11-29"
        )

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(push, range(16)))
    assert sum(r.launched for r in results) == 1
    assert len({r.run_id for r in results}) == 1
    requests = [r for _, r in storage.launches.requests()]
    assert len(requests) == 1
    (launch,) = requests
    assert launch.run_key == "2026-11-29" and launch.run_config == config
    assert launch.sensor == "push:api"
    assert launch.tags["team"] == "data" and launch.tags["dagster/run_key"] == "2026-11-29"
    # Another source has run keys of its own; without a key every push launches.
    assert client.launch_run("ingest_job", run_key="2026-11-29", source="vendor").launched
    assert client.launch_run("ingest_job").launched and client.launch_run("ingest_job").launched
    assert len(storage.launches.requests()) == 4
    # A sensor's run keys are untouched by pushed ones.
    assert storage.sensors.run_keys_used("on_push", ["2026-11-29"]) == [False]


def test_a_reported_asset_event_is_appended_once_to_the_event_stream(
    monitor: str, storage: Repositories
) -> None:
    client = PushClient(monitor, TOKEN)
    done = client.report_asset_event(
        "vendor_feed", partition="2026-11-29", metadata={"rows": 12, "path": "s3://x"}
    )
    seen = client.report_asset_event(["vendor_feed"], kind="observation", description="looked")
    events = storage.events.read("0-0", 100)
    assert [eid for eid, _ in events] == [done.event_id, seen.event_id]
    (_, materialized), (_, observed) = events
    assert materialized.kind == EventKind.ASSET_MATERIALIZATION.value
    assert materialized.asset_key == "vendor_feed" and materialized.partition == "2026-11-29"
    assert materialized.metadata == {"rows": ["int", 12], "path": ["text", "s3://x"]}
    assert observed.kind == EventKind.ASSET_OBSERVATION.value
    assert observed.description == "looked"


def test_a_trigger_stores_its_payload_for_the_next_tick(
    monitor: str, storage: Repositories
) -> None:
    result = PushClient(monitor, TOKEN).trigger_sensor("on_push", payload={"file": "a.csv"})
    assert result.outcome == "due" and result.due_at is not None
    assert storage.sensors.state("on_push").payload is not None
    (due,) = storage.schedule.due_times(["on_push"])
    assert due == pytest.approx(result.due_at, abs=1e-5)


BAD = [
    # (path, body, token, status, words the message has)
    ("/api/v1/runs", b'{"job_name": "ingest_job"}', None, 401, "operator token"),
    ("/api/v1/runs", b'{"job_name": "ingest_job"}', "wrong", 401, "operator token"),
    ("/api/v1/asset-events", b'{"asset_key": "vendor_feed"}', "wrong", 401, "operator token"),
    ("/api/v1/sensors/on_push/trigger", b"{}", None, 401, "operator token"),
    ("/api/v1/runs", b'{"job_name": "nope"}', TOKEN, 422, "no job 'nope'"),
    ("/api/v1/runs", b'{"job_name": "ingest_job"', TOKEN, 400, "not valid JSON"),
    ("/api/v1/runs", b"[1, 2]", TOKEN, 422, "must be a JSON object"),
    ("/api/v1/runs", b'{"job_name": "ingest_job", "colour": 1}', TOKEN, 422, "colour"),
    ("/api/v1/runs", b'{"job_name": "ingest_job", "tags": {"a": 1}}', TOKEN, 422, "tags.a"),
    (
        "/api/v1/runs",
        b'{"job_name": "ingest_job", "run_config": {"ops": {"load": {"config": {"rows": "x"}}}}}',
        TOKEN,
        422,
        "rows",
    ),
    ("/api/v1/runs", b'{"job_name": "ingest_job", "source": "a b"}', TOKEN, 422, "source"),
    ("/api/v1/asset-events", b'{"asset_key": "nope"}', TOKEN, 422, "no asset 'nope'"),
    ("/api/v1/asset-events", b'{"asset_key": "vendor_feed", "kind": "x"}', TOKEN, 422, "kind"),
    ("/api/v1/asset-events", b"not json", TOKEN, 400, "not valid JSON"),
    ("/api/v1/sensors/nope/trigger", b"{}", TOKEN, 404, "nope"),
    (
        "/api/v1/sensors/on_push/trigger",
        json.dumps({"payload": "x" * PAYLOAD_LIMIT}).encode(),
        TOKEN,
        413,
        "trigger payload",
    ),
    (
        "/api/v1/runs",
        json.dumps({"job_name": "ingest_job", "tags": {"t": "x" * MAX_BODY_BYTES}}).encode(),
        TOKEN,
        413,
        "larger than",
    ),
]


def test_bad_input_is_a_4xx_with_a_clear_message_and_changes_nothing(
    monitor: str, storage: Repositories
) -> None:
    before = snapshot(storage)
    for path, body, token, status, words in BAD:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        got, reply = post(monitor + path, body, headers)
        assert (got, reply["status"]) == (status, status), (path, body[:80], reply)
        assert words in reply["error"], (path, reply)
    assert snapshot(storage) == before


def test_the_client_raises_the_refusal_with_its_status_and_message(monitor: str) -> None:
    with pytest.raises(PushApiError) as refused:
        PushClient(monitor, "wrong").launch_run("ingest_job")
    assert refused.value.status == 401 and "operator token" in refused.value.message
    with pytest.raises(PushApiError) as unknown:
        PushClient(monitor, TOKEN).report_asset_event("nope")
    assert unknown.value.status == 422 and "no asset 'nope'" in unknown.value.message


def test_with_no_operator_token_configured_every_push_is_refused_with_403(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    base = start_monitor(spawn, settings, None, LOCATION)
    before = snapshot(storage)
    with pytest.raises(PushApiError) as refused:
        PushClient(base, "anything").launch_run("ingest_job", run_key="k")
    assert refused.value.status == 403 and "LOOKOUT_ADMIN_TOKEN" in refused.value.message
    assert snapshot(storage) == before


def test_a_trigger_of_a_sensor_no_scheduler_recorded_yet_is_409_and_changes_nothing(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    base = start_monitor(spawn, settings, TOKEN, LOCATION)
    before = snapshot(storage)
    with pytest.raises(PushApiError) as refused:
        PushClient(base, TOKEN).trigger_sensor("on_push", payload={"early": True})
    assert refused.value.status == 409 and "no sensor named 'on_push'" in refused.value.message
    assert snapshot(storage) == before


def test_a_push_while_redis_does_not_answer_is_a_503_in_json(
    spawn: Spawn, settings: Settings
) -> None:
    with EmbeddedRedis() as own:
        base = start_monitor(spawn, replace(settings, redis_url=own.url), TOKEN, LOCATION)
    # That redis-server is gone now; the monitor is still up.
    headers = {"Authorization": f"Bearer {TOKEN}"}
    status, reply = post(base + "/api/v1/runs", b'{"job_name": "ingest_job"}', headers)
    assert (status, reply["status"]) == (503, 503)
    assert reply["error"].startswith("Redis did not answer")
