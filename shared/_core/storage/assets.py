"""Each asset's events, read through the per-asset streams kept beside the event stream.

The scripts that append an asset event (a tick's commit, a run's emit) put
it, under the same entry id, in its asset's stream as well
(``scripts.asset_index``); here they are read one asset at a time, after or
before an entry id, so that no query of one asset reads the events of any
other.  ``index_call`` gives those scripts the keys and partition of one event.
"""

from __future__ import annotations

from collections.abc import Sequence

from lookout._base.codec import decode
from lookout._base.wire import EventKind, RunEvent
from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import entries_of
from lookout._core.streams import text

Entry = tuple[str, RunEvent]


def is_asset_event(event: RunEvent) -> bool:
    return event.asset_key is not None and event.kind in (
        EventKind.ASSET_MATERIALIZATION.value,
        EventKind.ASSET_OBSERVATION.value,
    )


def index_call(keys: Keys, event: RunEvent) -> tuple[list[str], str]:
    """The asset stream and partitions hash of an asset event, and the partition to index.

    Only a materialization's partition is indexed ("" otherwise).
    """
    assert event.asset_key is not None
    observed = event.kind == EventKind.ASSET_OBSERVATION.value
    streams = [keys.asset_events(event.asset_key, observed), keys.asset_partitions(event.asset_key)]
    return streams, "" if observed else (event.partition or "")


class AssetEventLog(Repository):
    """Reads one asset's materializations or observations, by entry id, a page at a time."""

    def page(
        self,
        asset_key: str,
        *,
        observed: bool = False,
        after: str | None = None,
        before: str | None = None,
        count: int = 100,
        newest_first: bool = False,
    ) -> list[Entry]:
        """Up to ``count`` events of the asset strictly between ids ``after`` and ``before``."""
        key = self.keys.asset_events(asset_key, observed)
        low = f"({after}" if after else "-"
        high = f"({before}" if before else "+"
        if newest_first:
            raw = self.client.xrevrange(key, max=high, min=low, count=count)
        else:
            raw = self.client.xrange(key, min=low, max=high, count=count)
        return [(eid, decode(RunEvent, f[b"d"])) for eid, f in entries_of(raw)]

    def by_ids(self, asset_key: str, ids: Sequence[str], *, observed: bool = False) -> list[Entry]:
        """The asset's events with these entry ids (those still kept), in id order given."""
        key = self.keys.asset_events(asset_key, observed)
        pipe = self.client.pipeline(transaction=False)
        for eid in ids:
            pipe.xrange(key, min=eid, max=eid, count=1)
        found: list[Entry] = []
        for raw in pipe.execute():
            found += [(eid, decode(RunEvent, f[b"d"])) for eid, f in entries_of(raw)]
        return found

    def materialized_partitions(self, asset_key: str) -> dict[str, str]:
        """Each partition of the asset ever materialized -> its newest materialization's id."""
        raw = self.client.hgetall(self.keys.asset_partitions(asset_key))
        return {text(k): text(v) for k, v in raw.items()}
