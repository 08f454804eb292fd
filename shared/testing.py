"""Testing with a real deployment: a redis-server, the repositories on it, a tick at a time.

Tests of lookout (and of code locations that run on it) stand a deployment up
and look inside it with these names instead of lookout's private modules::

    from lookout import Settings
    from lookout.testing import EmbeddedRedis, open_repositories, tick_runner

    with EmbeddedRedis() as server:
        settings = Settings(redis_url=server.url)
        repos = open_repositories(settings)
        record = tick_runner(load_definitions(module="my.defs"), repos, settings).tick("s")
        repos.launches.requests()  # the run requests the tick committed
        repos.runs.recent()  # runs, newest first (once a launcher made them)
        repos.ticks.history("s")  # the sensor's tick history, newest first
        repos.sensors.state("s").cursor  # its stored cursor (``decode_value`` reads it)

Each attribute of ``Repositories`` is one concern's keys in Redis (sensor
state, tick ledger, schedule, leader lock, runs, launch stream, event
stream, heartbeats, dead letters, metrics); ``client`` and ``keys`` are there
for tests that must reach under them (a fault injected by hand).  Nothing
here mocks Redis: every call goes to the real server.
"""

from __future__ import annotations

from lookout._base.codec import decode_value, encode_value
from lookout._base.wire import (
    RUN_TASK,
    TICK_TASK,
    DeadLetter,
    EventKind,
    LaunchRequest,
    RunEvent,
    TickMessage,
    TickRecord,
    TickStatus,
)
from lookout._base.wire import RunRecord as StoredRun
from lookout._core.keys import Keys
from lookout._core.settings import Settings
from lookout._core.storage import (
    LaunchStream,
    ProcessInfo,
    Repositories,
    TriggerOutcome,
    redis_client,
)
from lookout._process.heartbeat import Heartbeat
from lookout._process.tick import TickInFlightError, TickRunner, tick_runner
from lookout._tools.location import load_definitions
from lookout._tools.operator import sync_definitions
from lookout._tools.redis_server import EmbeddedRedis, free_port, redis_server_binary


def open_repositories(settings: Settings) -> Repositories:
    """The deployment's repositories on a new connection pool (close it with ``close()``)."""
    return Repositories.from_settings(settings)


def launch_requests(runner: TickRunner) -> list[LaunchRequest]:
    """The run requests the runner's ticks committed to the launch stream, oldest first."""
    ledger = runner.ticks
    return [request for _, request in LaunchStream(ledger.client, ledger.keys).requests()]


__all__ = [
    # A Redis server and the repositories on it
    "EmbeddedRedis",
    "Keys",
    "Repositories",
    "free_port",
    "open_repositories",
    "redis_client",
    "redis_server_binary",
    # Running a code location's parts in the test's process
    "Heartbeat",
    "TickInFlightError",
    "TickRunner",
    "load_definitions",
    "sync_definitions",
    "launch_requests",
    "tick_runner",
    # What the repositories hand back
    "DeadLetter",
    "EventKind",
    "LaunchRequest",
    "ProcessInfo",
    "RunEvent",
    "StoredRun",  # the stored run record (lookout.RunRecord is Dagster's)
    "TickMessage",
    "TickRecord",
    "TickStatus",
    "TriggerOutcome",
    "decode_value",
    "encode_value",
    # Celery task names (for tests that publish messages by hand)
    "RUN_TASK",
    "TICK_TASK",
]
