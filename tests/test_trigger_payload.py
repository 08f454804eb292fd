"""A trigger's payload reaches the tick it asks for as ``context.trigger_payload``, and only it.

On a real Redis, with the tick runner the workers use: the payload is read by
the next tick, gone once that tick commits, replaced by a newer one sent
before a tick read it, kept when it arrives while a tick is being evaluated,
and refused (nothing stored) when too large.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import lookout as dg
from lookout import Settings
from lookout._core.payload import PAYLOAD_LIMIT, PayloadError
from lookout.scheduler import trigger_sensor
from lookout.testing import Repositories, load_definitions, sync_definitions, tick_runner
from tests.conftest import process_env, wait_for

LOCATION = Path(__file__).resolve().parent / "locations" / "push_api.py"


@pytest.fixture
def defs(storage: Repositories) -> dg.Definitions:
    definitions = load_definitions(file=str(LOCATION))
    sync_definitions(definitions, storage.sensors)
    return definitions


def _reason(storage: Repositories, defs: dg.Definitions, settings: Settings) -> str | None:
    record = tick_runner(defs, storage, settings).tick("on_push")
    assert record is not None
    return record.skip_reason


def test_a_tick_reads_the_payload_of_its_trigger_and_the_next_tick_does_not(
    storage: Repositories, defs: dg.Definitions, settings: Settings
) -> None:
    trigger_sensor(storage.schedule, "on_push", payload={"path": "in/a.csv", "n": [1, 2]})
    assert _reason(storage, defs, settings) == 'payload {"n": [1, 2], "path": "in/a.csv"}'
    assert storage.sensors.state("on_push").payload is None
    assert _reason(storage, defs, settings) == "no payload"


def test_a_trigger_without_a_payload_gives_none(
    storage: Repositories, defs: dg.Definitions, settings: Settings
) -> None:
    trigger_sensor(storage.schedule, "on_push")
    assert _reason(storage, defs, settings) == "no payload"


def test_the_newest_payload_sent_before_a_tick_is_the_one_it_reads(
    storage: Repositories, defs: dg.Definitions, settings: Settings
) -> None:
    trigger_sensor(storage.schedule, "on_push", payload="first")
    trigger_sensor(storage.schedule, "on_push", payload="second")
    assert _reason(storage, defs, settings) == 'payload "second"'


def test_a_payload_sent_while_a_tick_evaluates_waits_for_the_next_tick(
    storage: Repositories, defs: dg.Definitions, settings: Settings, tmp_path: Path
) -> None:
    hold = tmp_path / "hold"
    first = {"hold": str(hold)}
    trigger_sensor(storage.schedule, "on_push", payload=first)
    with ThreadPoolExecutor(1) as pool:
        ticking = pool.submit(_reason, storage, defs, settings)
        wait_for(hold.with_suffix(".started").exists, 10, 0.01, "the tick to evaluate")
        # Sent while the tick evaluates, after it read the first: a new payload.
        trigger_sensor(storage.schedule, "on_push", payload=first)
        hold.with_suffix(".go").touch()
        assert ticking.result(30) == "payload " + json.dumps(first)
    assert storage.sensors.state("on_push").payload is not None
    assert _reason(storage, defs, settings) == "payload " + json.dumps(first)
    assert _reason(storage, defs, settings) == "no payload"


def test_a_payload_too_large_is_refused_and_stores_nothing(
    storage: Repositories, defs: dg.Definitions
) -> None:
    due_before = storage.schedule.due_times(["on_push"])
    with pytest.raises(PayloadError, match="bytes packed"):
        trigger_sensor(storage.schedule, "on_push", payload="x" * PAYLOAD_LIMIT)
    assert storage.sensors.state("on_push").payload is None
    assert storage.schedule.due_times(["on_push"]) == due_before


def test_trigger_payload_is_none_in_a_built_context_unless_given() -> None:
    assert dg.build_sensor_context().trigger_payload is None
    assert dg.build_sensor_context(trigger_payload={"k": 1}).trigger_payload == {"k": 1}


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=60)


def test_the_trigger_command_carries_a_json_payload_and_refuses_malformed_json(
    storage: Repositories, defs: dg.Definitions, settings: Settings
) -> None:
    argv = [sys.executable, "-m", "lookout", "sensor", "trigger", "on_push"]
    env = process_env(settings)
    bad = _run([*argv, "--payload", "{nope"], env)
    assert bad.returncode != 0 and "not valid JSON" in bad.stderr
    assert storage.sensors.state("on_push").payload is None
    good = _run([*argv, "--payload", '{"a": 1}'], env)
    assert good.returncode == 0, good.stderr
    assert _reason(storage, defs, settings) == 'payload {"a": 1}'
