"""What one tick may write is bounded: cursor size, run requests per tick, record size.

A sensor over a limit gets a FAILURE tick naming the size and the setting,
and nothing of its tick is stored; a large cursor under the limit is kept by
the sensor but only as a digest in its tick records; reading never fails on
a large value.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

import lookout as dg
from lookout import Settings
from lookout.testing import Repositories, decode_value, encode_value, tick_runner


def cursor_sensor(name: str, size: int) -> dg.SensorDefinition[Any, Any]:
    def fn(context: dg.SensorEvaluationContext) -> dg.SkipReason:
        context.update_cursor("x" * size)
        return dg.SkipReason("cursor set")

    return dg.sensor(name=name, minimum_interval_seconds=1)(fn)


def test_a_cursor_over_the_limit_fails_the_tick_naming_its_size_and_is_not_stored(
    storage: Repositories, settings: Settings
) -> None:
    settings = replace(settings, max_cursor_bytes=100_000)
    defs = dg.Definitions(sensors=[cursor_sensor("huge", 200_000)])
    record = tick_runner(defs, storage, settings).tick("huge")
    assert record is not None and record.status == "FAILURE"
    assert "set a cursor of 200005 bytes, over the limit of 100000 bytes" in (record.error or "")
    assert "LOOKOUT_MAX_CURSOR_BYTES" in (record.error or "")
    assert storage.sensors.state("huge").cursor is None


def test_a_large_cursor_is_kept_once_and_tick_records_hold_its_digest_and_size(
    storage: Repositories, settings: Settings
) -> None:
    defs = dg.Definitions(sensors=[cursor_sensor("big", 150_000)])
    runner = tick_runner(defs, storage, settings)
    for _ in range(2):
        record = runner.tick("big")
        assert record is not None and record.status == "SKIPPED"
    cursor = storage.sensors.state("big").cursor
    assert cursor is not None and decode_value(cursor) == "x" * 150_000
    digest = f"sha256:{hashlib.sha256(cursor).hexdigest()} ({len(cursor)} bytes)"
    latest = storage.ticks.history("big", 1)[0]
    assert latest.cursor_before is None and latest.cursor_after is None
    assert latest.cursor_before_digest == latest.cursor_after_digest == digest
    # The two like skips are one entry of history, far smaller than the cursor.
    entries = storage.client.lrange(storage.keys.ticks("big"), 0, -1)
    assert latest.count == 2 and len(entries) == 1 and len(entries[0]) < 2_000


def test_more_run_requests_than_the_cap_fail_the_tick_and_launch_nothing(
    storage: Repositories, settings: Settings
) -> None:
    @dg.op
    def noop() -> None:
        return None

    @dg.job
    def flood_job() -> None:
        noop()

    @dg.sensor(job=flood_job, minimum_interval_seconds=1)
    def flood() -> list[dg.RunRequest]:
        return [dg.RunRequest(run_key=f"k{i}") for i in range(51)]

    defs = dg.Definitions(jobs=[flood_job], sensors=[flood])
    record = tick_runner(defs, storage, replace(settings, max_run_requests=50)).tick("flood")
    assert record is not None and record.status == "FAILURE"
    assert "asked for 51 runs in one tick, over the limit of 50" in (record.error or "")
    assert "LOOKOUT_MAX_RUN_REQUESTS" in (record.error or "")
    assert storage.launches.requests() == []
    assert storage.sensors.run_keys_used("flood", ["k0"]) == [False]


def test_a_value_over_msgpacks_default_buffer_still_reads(
    storage: Repositories, settings: Settings
) -> None:
    # An old tick record (from before the limits) with a 101 MiB cursor in it.
    big = b"x" * (101 * 1024 * 1024)
    entry = encode_value(
        {
            "tick_id": "t",
            "sensor": "old",
            "status": "SKIPPED",
            "started_at": 1.0,
            "cursor_after": big,
        }
    ) + encode_value("")
    storage.client.lpush(storage.keys.ticks("old"), entry)
    [read] = storage.ticks.history("old")
    assert read.cursor_after == big
