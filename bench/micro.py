"""Micro-benchmarks that need no running lookout: cursor codec cost and run-key dedupe.

Each is measured against its own baseline in the same run (JSON for the
cursor, the same Redis for dedupe) so that a noisy shared machine shows in
both figures alike.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from lookout._base.codec import decode_value, encode_value
from lookout._base.wire import TickRecord
from lookout._core.settings import Settings
from lookout._core.storage import Repositories, TickCommit, TickLedger


def structured_cursor(target_bytes: int = 10_000) -> dict[str, Any]:
    """A cursor like a multi-stream sensor keeps: per-stream offsets, ids and flags."""
    cursor: dict[str, Any] = {"version": 3, "streams": {}}
    n = 0
    while len(json.dumps(cursor)) < target_bytes:
        cursor["streams"][f"stream-{n:04d}"] = {
            "offset": 1_700_000_000_000 + n * 7919,
            "last_id": f"{1_700_000_000_000 + n}-{n % 7}",
            "seen": [n, n + 1, n + 2],
            "healthy": n % 3 != 0,
            "lag_s": n * 0.25,
        }
        n += 1
    return cursor


def _per_call(fn: Any, rounds: int) -> float:
    start = time.perf_counter()
    for _ in range(rounds):
        fn()
    return (time.perf_counter() - start) / rounds


def cursor_cost(rounds: int = 2000) -> dict[str, float]:
    """Encoded size and encode+decode time of a ~10 KB cursor, msgpack against JSON."""
    cursor = structured_cursor()
    packed = encode_value(cursor)
    text = json.dumps(cursor).encode()
    assert decode_value(packed) == cursor
    return {
        "msgpack_bytes": len(packed),
        "json_bytes": len(text),
        "msgpack_us": 1e6 * _per_call(lambda: decode_value(encode_value(cursor)), rounds),
        "json_us": 1e6 * _per_call(lambda: json.loads(json.dumps(cursor).encode()), rounds),
    }


def _commit_with_keys(ledger: TickLedger, sensor: str, keys: list[str]) -> TickRecord:
    """Commit one tick whose requests carry ``keys``, through lookout's real commit script."""
    tick_id = uuid.uuid4().hex
    ledger.claim(sensor, tick_id, 1e6)
    ledger.begin([(sensor, tick_id)], "bench", 1e6)
    record = TickRecord(tick_id=tick_id, sensor=sensor, status="SUCCESS", started_at=0.0)
    payload = b"\x80"  # an empty msgpack map: the launch entry's size is not what is measured
    commit = TickCommit(record, [(k, payload) for k in keys], False, None, None, holder="bench")
    result = ledger.commit(commit)
    assert result is not None
    return result


def dedupe_rate(url: str, keys_total: int = 300_000, per_tick: int = 1000) -> dict[str, float]:
    """Run keys checked per second by the commit script, and Redis memory per stored key.

    First pass: every key is new (claimed and launched); second pass: every
    key is a duplicate (checked and dropped), the pure dedupe rate.  Keys have
    a realistic shape: a file path per run.
    """
    storage = Repositories.from_settings(Settings(redis_url=url))
    storage.client.flushall()
    before = int(storage.client.info("memory")["used_memory"])
    batches = [
        [f"incoming/2024/file-{i:08d}.csv" for i in range(off, off + per_tick)]
        for off in range(0, keys_total, per_tick)
    ]
    start = time.perf_counter()
    for keys in batches:
        _commit_with_keys(storage.ticks, "file_sensor", keys)
    first = time.perf_counter() - start
    launch_bytes = int(storage.client.memory_usage(storage.keys.launch) or 0)
    after = int(storage.client.info("memory")["used_memory"])
    start = time.perf_counter()
    for keys in batches:
        record = _commit_with_keys(storage.ticks, "file_sensor", keys)
        assert "1" not in record.accepted
    second = time.perf_counter() - start
    run_key_bytes = int(storage.client.memory_usage(storage.keys.run_keys("file_sensor")) or 0)
    storage.client.flushall()
    return {
        "keys": keys_total,
        "new_keys_per_s": keys_total / first,
        "duplicate_keys_per_s": keys_total / second,
        "bytes_per_key": run_key_bytes / keys_total,
        "bytes_per_key_used_memory": (after - before - launch_bytes) / keys_total,
    }
