"""The launch and event streams stay bounded without losing anything a launcher still needs."""

from __future__ import annotations

import time

from lookout.testing import Repositories, RunEvent
from tests.conftest import text


def _add_launches(storage: Repositories, count: int) -> list[str]:
    return [text(storage.client.xadd(storage.keys.launch, {"d": b"\x80"})) for _ in range(count)]


def _launch_ids(storage: Repositories) -> list[str]:
    return [text(eid) for eid, _ in storage.client.xrange(storage.keys.launch) or []]


def test_only_acknowledged_launch_entries_are_trimmed(storage: Repositories) -> None:
    storage.launches.ensure_group("g")
    ids = _add_launches(storage, 10)
    read = [eid for eid, _ in storage.launches.read("g", "c1", 6, 0.1)]
    assert read == ids[:6]
    storage.launches.ack("g", read[:2] + read[3:])  # ids[2] stays pending
    trimmed = storage.launches.trim("g")
    assert trimmed == 2
    left = _launch_ids(storage)
    assert left == ids[2:]  # the pending entry and everything not yet delivered
    storage.launches.ack("g", [ids[2]])
    storage.launches.trim("g")
    left = _launch_ids(storage)
    assert left == ids[6:]  # read and acknowledged: gone; never delivered: kept


def test_nothing_is_trimmed_before_a_launcher_read_anything(storage: Repositories) -> None:
    ids = _add_launches(storage, 5)
    assert (storage.launches.trim("g"), storage.events.trim(1000)) == (0, 0)
    storage.launches.ensure_group("g")
    assert (storage.launches.trim("g"), storage.events.trim(1000)) == (0, 0)
    assert _launch_ids(storage) == ids


def test_the_event_stream_keeps_the_newest_entries(storage: Repositories) -> None:
    for i in range(30):
        storage.events.append(
            RunEvent(
                kind="RUN_STATUS",
                run_id=f"r{i}",
                job_name="j",
                timestamp=time.time(),
                status="SUCCESS",
            )
        )
    trimmed = storage.events.trim(10)
    assert trimmed == 20
    assert [e.run_id for _, e in storage.events.read("0-0", 100)] == [
        f"r{i}" for i in range(20, 30)
    ]
