"""An asset event appended outside a tick is indexed under its asset, as a committed one is."""

from __future__ import annotations

import time

from lookout.testing import EventKind, Repositories, RunEvent


def _materialization(asset: str, partition: str | None) -> RunEvent:
    return RunEvent(
        kind=EventKind.ASSET_MATERIALIZATION.value,
        run_id="",
        job_name="",
        timestamp=time.time(),
        asset_key=asset,
        partition=partition,
        metadata={"rows": ["int", 3]},
    )


def test_an_appended_materialization_is_in_its_assets_stream_and_partitions(
    storage: Repositories,
) -> None:
    event_id = storage.events.append(_materialization("harbour_feed", "2024-05-01"))
    assert [eid for eid, _ in storage.assets.page("harbour_feed")] == [event_id]
    assert storage.assets.materialized_partitions("harbour_feed") == {"2024-05-01": event_id}
    assert [eid for eid, _ in storage.events.read("0-0", 10)] == [event_id]


def test_an_appended_run_event_is_not_indexed_under_any_asset(storage: Repositories) -> None:
    event = RunEvent(
        kind=EventKind.RUN_STATUS.value,
        run_id="r1",
        job_name="copy_job",
        timestamp=time.time(),
        status="SUCCESS",
    )
    event_id = storage.events.append(event)
    assert [eid for eid, _ in storage.events.read("0-0", 10)] == [event_id]
    assert storage.client.keys(storage.keys.prefix + "asset:*") == []
