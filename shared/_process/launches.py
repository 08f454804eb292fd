"""The launch a tick commits for one run request, sensor's and schedule's alike.

A request becomes a ``LaunchRequest`` the same way whoever asked for it; only
the tags that say who did differ (a sensor's name, a schedule's time).  The
launch is encoded here, so a request that cannot be stored fails its tick,
naming the request; ``listed`` is what a tick record keeps of each launch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lookout._author.definitions import Definitions
from lookout._author.requests import PARTITION_TAG, RUN_KEY_TAG, RunRequest
from lookout._author.selection import selection_keys
from lookout._base.codec import encode
from lookout._base.errors import CodecError
from lookout._base.wire import LaunchRequest


def run_tags(request: RunRequest, instigator_tags: Mapping[str, str]) -> dict[str, str]:
    """The request's tags, the instigator's, and the run key and partition tags Dagster adds."""
    tags = {**request.tags, **instigator_tags}
    if request.run_key is not None:
        tags[RUN_KEY_TAG] = request.run_key
    if request.partition_key is not None:
        tags[PARTITION_TAG] = request.partition_key
    return tags


def launch_of(
    definitions: Definitions,
    what: str,
    name: str,
    tick_id: str,
    index: int,
    request: RunRequest,
    tags: dict[str, str],
    now: float,
) -> tuple[LaunchRequest, bytes]:
    """Request ``index`` of tick ``tick_id`` of ``name`` (``what``: "sensor 'x'"), encoded."""
    assert request.job_name is not None  # resolved before launches are built
    launch = LaunchRequest(
        request_id=f"{tick_id}-{index}",
        sensor=name,
        tick_id=tick_id,
        job_name=request.job_name,
        run_key=request.run_key,
        run_config=dict(request.run_config),
        tags=tags,
        partition_key=request.partition_key,
        created_at=now,
        asset_selection=selection_keys(definitions, name, request),
    )
    try:
        return launch, encode(launch)
    except CodecError as exc:
        raise CodecError(f"{what}: run request {index} cannot be stored: {exc}") from exc


def listed(launches: Iterable[LaunchRequest]) -> list[dict[str, Any]]:
    """What a tick record says of each launch (``TickRecord.requests``)."""
    return [
        {"request_id": r.request_id, "run_key": r.run_key, "job_name": r.job_name} for r in launches
    ]
