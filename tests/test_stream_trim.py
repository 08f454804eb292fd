"""The launch and event streams stay bounded without losing anything a launcher still needs."""

from __future__ import annotations

import time

from lookout._base.wire import RunEvent
from lookout._core.storage import Storage


def _add_launches(storage: Storage, count: int) -> list[str]:
    return [storage.client.xadd(storage.keys.launch, {"d": b"\x80"}).decode() for _ in range(count)]


def test_only_acknowledged_launch_entries_are_trimmed(storage: Storage) -> None:
    storage.ensure_launch_group("g")
    ids = _add_launches(storage, 10)
    read = [eid for eid, _ in storage.read_launches("g", "c1", 6, 0.1)]
    assert read == ids[:6]
    storage.ack_launches("g", read[:2] + read[3:])  # ids[2] stays pending
    trimmed, _ = storage.trim_streams("g", 1000)
    assert trimmed == 2
    left = [eid.decode() for eid, _ in storage.client.xrange(storage.keys.launch)]
    assert left == ids[2:]  # the pending entry and everything not yet delivered
    storage.ack_launches("g", [ids[2]])
    storage.trim_streams("g", 1000)
    left = [eid.decode() for eid, _ in storage.client.xrange(storage.keys.launch)]
    assert left == ids[6:]  # read and acknowledged: gone; never delivered: kept


def test_nothing_is_trimmed_before_a_launcher_read_anything(storage: Storage) -> None:
    ids = _add_launches(storage, 5)
    assert storage.trim_streams("g", 1000) == (0, 0)
    storage.ensure_launch_group("g")
    assert storage.trim_streams("g", 1000) == (0, 0)
    assert [e.decode() for e, _ in storage.client.xrange(storage.keys.launch)] == ids


def test_the_event_stream_keeps_the_newest_entries(storage: Storage) -> None:
    for i in range(30):
        storage.append_event(
            RunEvent(
                kind="RUN_STATUS",
                run_id=f"r{i}",
                job_name="j",
                timestamp=time.time(),
                status="SUCCESS",
            )
        )
    _, trimmed = storage.trim_streams("g", 10)
    assert trimmed == 20
    assert [e.run_id for _, e in storage.read_events("0-0", 100)] == [
        f"r{i}" for i in range(20, 30)
    ]
