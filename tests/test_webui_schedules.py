"""The web UI lists schedules with one toggle each, and starting or stopping one needs the token."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from lookout import Definitions, Settings
from lookout._tools.monitor import create_app
from lookout._tools.operator import sync_schedules
from lookout.testing import Repositories, load_definitions

LOCATION = Path(__file__).resolve().parent / "locations" / "sched_cron.py"
TOKEN = "harbour-master"


@pytest.fixture
def definitions(storage: Repositories) -> Definitions:
    defs = load_definitions(file=str(LOCATION))
    sync_schedules(defs, storage.sensors)
    return defs


@pytest.fixture
def client(definitions: Definitions, storage: Repositories, settings: Settings) -> TestClient:
    with_token = Settings(
        redis_url=settings.redis_url, key_prefix=settings.key_prefix, admin_token=TOKEN
    )
    return TestClient(create_app(definitions, storage, with_token), follow_redirects=False)


def test_schedules_are_listed_with_their_cron_and_the_one_right_toggle(client: TestClient) -> None:
    page = client.get("/").text
    assert 'id="schedules"' in page
    assert "<code>* * * * *</code>" in page and "Europe/Lisbon" in page
    # every_minute defaults to RUNNING: Stop only; quay_schedule to STOPPED: Start only.
    assert 'data-schedule="every_minute"\n        data-action="stop"' in page
    assert 'data-schedule="quay_schedule"\n        data-action="start"' in page


def test_starting_a_schedule_needs_the_token_and_then_makes_it_due(
    client: TestClient, storage: Repositories
) -> None:
    refused = client.post("/schedules/quay_schedule/start", data={"token": "wrong"})
    assert refused.status_code == 401
    assert storage.schedule.due_times(["quay_schedule"]) == [None]
    done = client.post("/schedules/quay_schedule/start", data={"token": TOKEN})
    assert done.status_code == 303
    [due] = storage.schedule.due_times(["quay_schedule"])
    assert due is not None and due % 300 == 0  # its next */5 fire time
    assert 'data-schedule="quay_schedule"\n        data-action="stop"' in client.get("/").text
    assert client.post("/schedules/quay_schedule/nap", data={"token": TOKEN}).status_code == 404
