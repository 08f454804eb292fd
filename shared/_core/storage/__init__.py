"""Storage: the only code that talks to Redis, as one small repository per concern.

The key layout is documented in one place, ``lookout._core.keys``; every multi-key
change that must be atomic is a Lua script in ``lookout._core.scripts``.  Each
repository holds the client, the key layout and only the scripts it calls;
components are handed the repositories they use and nothing more.
``Repositories`` builds them all on one connection pool, for a process's
``run()`` or a command's body to hand out.

==================  ==============================================================
repository          owns
==================  ==============================================================
``SensorStore``     a sensor's status, cursor and run keys (operators, ticks)
``TickLedger``      in-flight marks, taking up, giving back, commits, tick history
``ScheduleStore``   the due index, claiming rounds, triggers, the wake-up list
``LeaderStore``     the schedulers' leader lock
``RunStore``        run records, their indexes, status moves, the executor's lease
``LaunchStream``    the launchers' consumer group on the launch stream
``EventStream``     run and asset events: append, read by cursor, trim
``ProcessStore``    process heartbeats
``DeadLetterStore`` messages no consumer could read
``MetricsView``     the monitor's read-only counts
``ServerChecks``    whether Redis answers and whether it may evict keys
``PushStore``       runs pushed through the API, deduplicated by run key
==================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import redis

from lookout._core.keys import Keys
from lookout._core.settings import Settings
from lookout._core.storage._base import BRIEF, PATIENT, Patience, redis_client
from lookout._core.storage._replies import StreamEntry
from lookout._core.storage.dead_letters import DeadLetterStore
from lookout._core.storage.events import EventStream
from lookout._core.storage.history import decode_entry
from lookout._core.storage.launches import LaunchStream
from lookout._core.storage.leader import LeaderStore
from lookout._core.storage.metrics import MetricsView, SensorCounts, StreamBacklog
from lookout._core.storage.processes import ProcessInfo, ProcessStore
from lookout._core.storage.push import PushedLaunch, PushStore, push_sensor
from lookout._core.storage.runs import Created, RunStore
from lookout._core.storage.schedule import (
    ClaimedTick,
    ClaimRound,
    ScheduleStore,
    Trigger,
    TriggerOutcome,
    Wakeup,
)
from lookout._core.storage.sensors import SensorState, SensorStore
from lookout._core.storage.server import ServerChecks
from lookout._core.storage.ticks import InFlight, TickCommit, TickLedger


@dataclass(frozen=True)
class Repositories:
    """Every repository, on one client: built where a process or command starts."""

    client: redis.Redis
    keys: Keys
    sensors: SensorStore
    ticks: TickLedger
    schedule: ScheduleStore
    leader: LeaderStore
    runs: RunStore
    launches: LaunchStream
    events: EventStream
    processes: ProcessStore
    dead_letters: DeadLetterStore
    metrics: MetricsView
    server: ServerChecks
    push: PushStore

    @classmethod
    def on(cls, client: redis.Redis, keys: Keys, history_size: int = 1000) -> Repositories:
        """The repositories over ``client`` (registering their scripts does no I/O)."""
        return cls(
            client=client,
            keys=keys,
            sensors=SensorStore(client, keys),
            ticks=TickLedger(client, keys, history_size),
            schedule=ScheduleStore(client, keys, history_size),
            leader=LeaderStore(client, keys),
            runs=RunStore(client, keys),
            launches=LaunchStream(client, keys),
            events=EventStream(client, keys),
            processes=ProcessStore(client, keys),
            dead_letters=DeadLetterStore(client, keys),
            metrics=MetricsView(client, keys),
            server=ServerChecks(client, keys),
            push=PushStore(client, keys),
        )

    @classmethod
    def from_settings(cls, settings: Settings, patience: Patience = PATIENT) -> Repositories:
        """The repositories on a new connection pool (connections open on first use)."""
        return cls.on(
            redis_client(settings.redis_url, patience),
            Keys(settings.key_prefix),
            settings.tick_history,
        )

    def close(self) -> None:
        """Close the connection pool's connections."""
        self.client.close()


__all__ = [
    "BRIEF",
    "PATIENT",
    "ClaimRound",
    "ClaimedTick",
    "Created",
    "DeadLetterStore",
    "EventStream",
    "InFlight",
    "LaunchStream",
    "LeaderStore",
    "MetricsView",
    "Patience",
    "ProcessInfo",
    "ProcessStore",
    "PushStore",
    "PushedLaunch",
    "Repositories",
    "RunStore",
    "ScheduleStore",
    "SensorCounts",
    "SensorState",
    "SensorStore",
    "ServerChecks",
    "StreamBacklog",
    "StreamEntry",
    "TickCommit",
    "TickLedger",
    "Trigger",
    "TriggerOutcome",
    "Wakeup",
    "decode_entry",
    "push_sensor",
    "redis_client",
]
