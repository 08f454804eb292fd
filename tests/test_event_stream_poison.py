"""An entry on the event stream that is not an event is dead-lettered once and skipped.

Before, one such entry (``XADD <prefix>events * d <garbage>``, or an entry
without the ``d`` field) made every read of the stream raise, so every
run-status and asset sensor failed on every tick and its cursor never moved.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from redis.typing import EncodableT, FieldT

from lookout import Definitions, Settings
from lookout._author.run_events import run_events
from lookout.testing import Repositories, TickRunner, encode_value, load_definitions, tick_runner
from tests.docs_support import launched, tick

LOCATION = Path(__file__).parent / "locations" / "docs_run_status.py"
SENSOR = "report_success_sensor"


@pytest.fixture
def runner(storage: Repositories, settings: Settings) -> TickRunner:
    defs: Definitions = load_definitions(file=str(LOCATION))
    return tick_runner(defs, storage, settings)


def _run_job(runner: TickRunner) -> None:
    result = runner.definitions.get_job("nightly_load").execute_in_process(raise_on_error=False)
    for event in run_events(result.dagster_run, result.materializations, result.error, time.time()):
        runner.events.append(event)


def test_garbage_on_the_event_stream_is_dead_lettered_once_and_sensors_go_past_it(
    runner: TickRunner, storage: Repositories
) -> None:
    assert tick(runner, SENSOR).status == "SKIPPED"  # starts at the newest event
    garbage: list[dict[FieldT, EncodableT]] = [
        {"d": b"\xc1 not msgpack"},
        {"d": b""},
        {"x": b"no d field"},
    ]
    for fields in garbage:
        storage.client.xadd(storage.keys.events, fields)
    _run_job(runner)

    record = tick(runner, SENSOR)
    assert record.status == "SUCCESS", record.error
    assert len(launched(runner)) == 1
    letters = [letter for _, letter in storage.dead_letters.newest(10)]
    # An entry without a "d" field keeps all its fields, as a msgpack map.
    assert sorted(letter.payload for letter in letters) == sorted(
        [b"", encode_value({"x": b"no d field"}), b"\xc1 not msgpack"]
    )
    assert {letter.source for letter in letters} == {"stream:events"}
    assert all(letter.reason.startswith("cannot decode event") for letter in letters)
    # Gone from the stream: every other reader sees only events, and no letter twice.
    assert all(e.run_id for _, e in storage.events.read("0-0", 1000))
    assert tick(runner, SENSOR).status == "SKIPPED"
    assert len(storage.dead_letters.newest(10)) == len(garbage)
