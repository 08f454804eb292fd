"""Ticks claimed ahead of their due time (LOOKOUT_SCHEDULER_CLAIM_AHEAD) start no earlier.

The leader claims the sensors due within the lead; the worker holds each
tick until its due time, on its own clock, but never longer than the lead.
A lead of 0 claims only due sensors, as before.
"""

from __future__ import annotations

import time
from dataclasses import replace

from lookout import Settings
from lookout.testing import Repositories, TickMessage, load_definitions, tick_runner
from tests.conftest import Spawn, text, wait_for
from tests.locations.sched_support import sched_env, start_scheduler, start_worker
from tests.test_worker_batch import LOCATION, run_batch

FLEET = [f"fleet_{i}" for i in range(3)]


def watch_claims(storage: Repositories, seconds: float) -> dict[str, float]:
    """The claim time of every tick seen in flight for ``seconds``: tick id -> claimed_at."""
    seen: dict[str, float] = {}
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        for name in FLEET:
            tick, claimed = storage.client.hmget(
                storage.keys.sensor(name), "inflight", "claimed_at"
            )
            if tick is not None and claimed is not None:
                seen.setdefault(text(tick), float(text(claimed)))
        time.sleep(0.005)
    return seen


def claims_and_records(
    spawn: Spawn, settings: Settings, storage: Repositories, lead: str
) -> list[tuple[float, float, float]]:
    """A real scheduler and worker with ``lead``: (claimed_at, due_at, started_at) of each
    tick seen in flight and committed.
    """
    env = sched_env(
        settings,
        SCHED_FLEET=str(len(FLEET)),
        SCHED_FLEET_EVAL="0.01",
        LOOKOUT_SCHEDULER_CLAIM_AHEAD=lead,
    )
    start_worker(spawn, env)
    start_scheduler(spawn, env)
    wait_for(lambda: len(storage.ticks.history(FLEET[0])) >= 1, 20, what="a first tick")
    claims = watch_claims(storage, 3.5)
    records = {t.tick_id: t for name in FLEET for t in storage.ticks.history(name, 1000)}
    found = [
        (claims[tick], records[tick].due_at or 0.0, records[tick].started_at)
        for tick in claims
        if tick in records
    ]
    assert len(found) >= 2 * len(FLEET), (claims, records)
    return found


def test_a_tick_claimed_ahead_of_its_due_time_does_not_start_before_it(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    found = claims_and_records(spawn, settings, storage, "0.3")
    # Claimed well before due (the round goes a lead early) ...
    assert sum(claimed < due - 0.1 for claimed, due, _ in found) >= len(found) // 2, found
    # ... and held by the worker until then: none started early.
    assert all(started >= due for _, due, started in found), found


def test_a_lead_of_zero_claims_only_due_ticks(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    found = claims_and_records(spawn, settings, storage, "0")
    assert all(claimed >= due for claimed, due, _ in found), found
    assert all(started >= claimed for claimed, _, started in found), found


def test_a_worker_holds_a_tick_until_its_due_time(
    storage: Repositories, settings: Settings
) -> None:
    held = replace(settings, scheduler_claim_ahead=1.0)
    runner = tick_runner(load_definitions(module=LOCATION), storage, held)
    due = time.time() + 0.3
    assert storage.ticks.claim("counter", "t-ahead", 30, time.time()) == "t-ahead"
    assert run_batch(runner, [TickMessage("counter", "t-ahead", due)]).committed == 1
    [record] = storage.ticks.history("counter")
    assert due <= record.started_at < due + 0.2


def test_the_hold_is_capped_by_the_lead_whatever_the_due_time_says(
    storage: Repositories, settings: Settings
) -> None:
    # A due time 10 s ahead of this host's clock (a scheduler host whose
    # clock runs ahead): held for the lead only, then evaluated.
    capped = replace(settings, scheduler_claim_ahead=0.2)
    runner = tick_runner(load_definitions(module=LOCATION), storage, capped)
    began = time.time()
    assert storage.ticks.claim("counter", "t-skewed", 30, began) == "t-skewed"
    assert run_batch(runner, [TickMessage("counter", "t-skewed", began + 10)]).committed == 1
    [record] = storage.ticks.history("counter")
    assert began + 0.2 <= record.started_at < began + 1.0
