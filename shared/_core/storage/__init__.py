"""Storage: the only code that talks to Redis, as one small repository per concern.

The key layout is documented in one place, ``lookout._core.keys``; every multi-key
change that must be atomic is a Lua script in ``lookout._core.scripts``.  Each
repository holds the client, the key layout and only the scripts it calls;
components are handed the repositories they use and nothing more.
``Repositories`` builds them all on one connection pool, for a process's
``run()`` or a command's body to hand out.

=========================  ======================================================="""

from __future__ import annotations

from dataclasses import dataclass

import redis

from lookout._core.keys import Keys
from lookout._core.settings import Settings
from lookout._core.storage._base import BRIEF, Patience, redis_client
from lookout._core.storage._replies import StreamEntry
from lookout._core.storage.assets import AssetEventLog
from lookout._core.storage.claimed import ClaimedTick, ClaimedTicks, ClaimRound
from lookout._core.storage.dead_letters import DeadLetterStore
from lookout._core.storage.events import EventStream
from lookout._core.storage.history import (
    DEFAULT_HISTORY_AGE,
    DEFAULT_HISTORY_SIZE,
    decode_entry,
)
from lookout._core.storage.launches import LaunchStream
from lookout._core.storage.leader import LeaderStore
from lookout._core.storage.metrics import Counters, MetricsView, SensorCounts, StreamBacklog
from lookout._core.storage.partitions import DynamicPartitionStore
from lookout._core.storage.processes import ProcessInfo, ProcessStore, tick_processes
from lookout._core.storage.push import PushedLaunch, PushStore, push_sensor
from lookout._core.storage.run_keys import RunKeyLookup, RunKeyPolicy
from lookout._core.storage.runs import Created, RunStore
from lookout._core.storage.schedule import (
    ScheduleStore,
    Trigger,
    TriggerOutcome,
    Wakeup,
)
from lookout._core.storage.sensors import SensorState, SensorStore
from lookout._core.storage.server import ServerChecks
from lookout._core.storage.ticks import (
    Abandoned,
    Death,
    InFlight,
    Quarantine,
    TakeUp,
    TickCommit,
    TickLedger,
)


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
    assets: AssetEventLog
    processes: ProcessStore
    dead_letters: DeadLetterStore
    partitions: DynamicPartitionStore
    metrics: MetricsView
    server: ServerChecks
    push: PushStore
    run_keys: RunKeyLookup

    @classmethod
    def on(
        cls,
        client: redis.Redis,
        keys: Keys,
        history_size: int = DEFAULT_HISTORY_SIZE,
        history_age: float = DEFAULT_HISTORY_AGE,
    ) -> Repositories:
        """The repositories over ``client`` (registering their scripts does no I/O).

        ``history_size`` and ``history_age``: the tick history's retention.
        """
        return cls(
            client=client,
            keys=keys,
            sensors=SensorStore(client, keys),
            ticks=TickLedger(client, keys, history_size, history_age),
            schedule=ScheduleStore(client, keys),
            leader=LeaderStore(client, keys),
            runs=RunStore(client, keys),
            launches=LaunchStream(client, keys),
            events=EventStream(client, keys),
            assets=AssetEventLog(client, keys),
            processes=ProcessStore(client, keys),
            dead_letters=DeadLetterStore(client, keys),
            partitions=DynamicPartitionStore(client, keys),
            metrics=MetricsView(client, keys),
            server=ServerChecks(client, keys),
            push=PushStore(client, keys),
            run_keys=RunKeyLookup(client, keys),
        )

    @classmethod
    def from_settings(cls, settings: Settings, patience: Patience | None = None) -> Repositories:
        """The repositories on a new connection pool (connections open on first use).

        Without ``patience``, the client's timeouts are the settings' own
        (``LOOKOUT_REDIS_SOCKET_TIMEOUT``, ``LOOKOUT_REDIS_CONNECT_TIMEOUT``).
        """
        if patience is None:
            patience = Patience(settings.redis_connect_timeout, settings.redis_socket_timeout)
        return cls.on(
            redis_client(settings.redis_url, patience),
            Keys(settings.key_prefix),
            settings.tick_history,
            settings.tick_history_age,
        )

    def close(self) -> None:
        """Close the connection pool's connections."""
        self.client.close()


__all__ = [
    "Abandoned",
    "AssetEventLog",
    "BRIEF",
    "ClaimRound",
    "ClaimedTick",
    "ClaimedTicks",
    "Counters",
    "Created",
    "DeadLetterStore",
    "Death",
    "DynamicPartitionStore",
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
    "Quarantine",
    "Repositories",
    "RunKeyLookup",
    "RunKeyPolicy",
    "RunStore",
    "ScheduleStore",
    "SensorCounts",
    "SensorState",
    "SensorStore",
    "ServerChecks",
    "StreamBacklog",
    "StreamEntry",
    "TakeUp",
    "TickCommit",
    "TickLedger",
    "Trigger",
    "TriggerOutcome",
    "Wakeup",
    "decode_entry",
    "push_sensor",
    "redis_client",
    "tick_processes",
]
