"""Sensors that raise, hang, return garbage or set an unencodable cursor, on the real runtime.

A scheduler and a worker run the faulty sensors beside a healthy one: each
faulty sensor records FAILURE ticks with a clear error and is ticked again and
again; the healthy one keeps its one-second interval (invariant 5).
"""

from __future__ import annotations

import itertools

from lookout import Settings
from lookout.testing import Repositories
from tests.conftest import Spawn, process_env, wait_for
from tests.locations.work_support import log_text, start_worker

LOCATION = "tests.locations.work_faulty"
ERRORS = {
    "raises": "RuntimeError: the bucket is not there",
    "hangs": "SensorTimeoutError: sensor 'hangs' timed out after 1.5 s",
    "wrong_type": "sensor 'wrong_type' returned a int",
    "bad_cursor": "cannot encode a object as msgpack",
}


def test_failing_sensors_record_failures_keep_being_ticked_and_a_healthy_one_keeps_its_interval(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    extra = {
        "LOOKOUT_TICK_TIMEOUT": "1.5",
        "LOOKOUT_HEARTBEAT_INTERVAL": "0.5",
        "LOOKOUT_LEADER_TTL": "5",
        "LOOKOUT_LEADER_RENEW": "1",
    }
    settings = Settings(**{**settings.__dict__, "tick_timeout": 1.5})
    start_worker(spawn, settings, LOCATION, concurrency=5, queues=settings.tick_queue, env=extra)
    scheduler = spawn(
        ["lookout", "scheduler", "-m", LOCATION], process_env(settings, **extra), "scheduler"
    )

    def failures(name: str) -> int:
        return sum(t.status == "FAILURE" for t in storage.ticks.history(name, 100))

    wait_for(
        lambda: (
            all(failures(n) >= 3 for n in ERRORS) and len(storage.ticks.history("healthy", 10)) >= 6
        ),
        30,
        what="three failures of each faulty sensor and six healthy ticks",
    )
    assert scheduler.poll() is None, log_text(scheduler)

    for name, error in ERRORS.items():
        ticks = storage.ticks.history(name, 100)
        assert all(t.status == "FAILURE" for t in ticks), [t.status for t in ticks]
        assert all(error in (t.error or "") for t in ticks), (name, ticks[0].error)
        assert all(t.traceback for t in ticks)
        assert storage.sensors.state(name).cursor is None  # a failure leaves the cursor

    healthy = list(reversed(storage.ticks.history("healthy", 100)))
    assert len(healthy) >= 6 and all(t.status == "SUCCESS" for t in healthy)
    gaps = [b.started_at - a.started_at for a, b in itertools.pairwise(healthy)]
    assert min(gaps) >= 1.0 and max(gaps) < 1.3, gaps
    assert [r.run_key for _, r in storage.launches.requests()] == [
        f"h{i}" for i in range(1, len(storage.launches.requests()) + 1)
    ]
