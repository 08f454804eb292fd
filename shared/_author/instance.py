"""``DagsterInstance.ephemeral()``: an in-memory record of the runs a test executes.

Dagster's testing examples execute a job (or ``materialize`` assets) against
an ephemeral instance and build a sensor's context on it.  Here the instance
keeps, in this process only, the runs executed with ``instance=`` and the
events each reported (the same events a worker puts on the Redis event
stream), and answers Dagster's queries over them (``instance_queries``).
A deployment never uses it: there, runs and events live in Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from lookout._author.asset_key import AssetKey
from lookout._author.dynamic_partitions import DynamicPartitionsMixin
from lookout._author.event_records import RunsFilter
from lookout._author.events import DagsterRun, EventLogEntry
from lookout._author.execute import ExecuteInProcessResult
from lookout._author.instance_queries import InstanceLog
from lookout._author.run_events import run_events


class DagsterInstance(InstanceLog, DynamicPartitionsMixin):
    """Runs executed in this process and their events, newest run first."""

    @classmethod
    def ephemeral(cls) -> DagsterInstance:
        """A new, empty instance that lives as long as the object does."""
        return cls()

    def add_run_result(self, result: ExecuteInProcessResult) -> None:
        """Record a finished in-process run and the events it reported."""
        now = time.time()
        self.store_run(DagsterRun.from_run(result.dagster_run), now, now)
        events = run_events(result.dagster_run, result.materializations, result.error, now)
        for event in events:
            self.store_event(event)

    # Dagster's lookups built on the queries of ``InstanceLog``.
    def get_latest_materialization_events(
        self, asset_keys: Iterable[AssetKey]
    ) -> dict[AssetKey, EventLogEntry]:
        """The newest materialization of each key; a key never materialized is left out."""
        latest = {key: self.get_latest_materialization_event(key) for key in asset_keys}
        return {key: entry for key, entry in latest.items() if entry is not None}

    def has_asset_key(self, asset_key: AssetKey) -> bool:
        """Whether any materialization or observation of ``asset_key`` was recorded."""
        return bool(
            self.fetch_materializations(asset_key, limit=1).records
            or self.fetch_observations(asset_key, limit=1).records
        )

    def get_run_ids(self, filters: RunsFilter | None = None, limit: int | None = None) -> list[str]:
        """The ids of the runs matching ``filters``, newest first."""
        return [r.dagster_run.run_id for r in self.get_run_records(filters, limit=limit)]
