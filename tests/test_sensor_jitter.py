"""Jitter (a lookout extension): sensors of one interval spread their ticks, never sooner.

``LOOKOUT_SENSOR_JITTER`` (a share of the interval) or a sensor's
``lookout/jitter_seconds`` tag delays each next tick by a fraction of the
window drawn from the sensor's name and tick id, and spreads a new
deployment's first ticks over one interval.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

import lookout as dg
from lookout import Settings
from lookout._core.settings import SettingsError
from lookout._process.jitter import first_delay, tick_delay
from lookout.scheduler import Scheduler
from lookout.testing import Repositories, sync_definitions, tick_runner
from tests.conftest import Spawn, start_ready, wait_for
from tests.locations.sched_support import sched_env

INTERVAL = 10


def quiet() -> dg.SkipReason:
    return dg.SkipReason("quiet")


def member(name: str, tags: dict[str, str] | None = None) -> dg.SensorDefinition[Any, Any]:
    return dg.sensor(
        name=name,
        minimum_interval_seconds=INTERVAL,
        default_status=dg.DefaultSensorStatus.RUNNING,
        tags=tags,
    )(quiet)


def test_jitter_delays_the_next_tick_within_its_window_and_never_brings_it_sooner(
    settings: Settings, storage: Repositories
) -> None:
    sensors = [member(f"s{i}") for i in range(40)] + [
        member("tagged", {"lookout/jitter_seconds": "4"}),
        member("untouched", {"lookout/jitter_seconds": "0"}),
    ]
    jittery = replace(settings, sensor_jitter=0.5)
    defs = dg.Definitions(sensors=sensors)
    sync_definitions(defs, storage.sensors)
    runner = tick_runner(defs, storage, jittery)
    delays = []
    for s in sensors:
        record = runner.tick(s.name)
        assert record is not None
        [due] = storage.schedule.due_times([s.name])
        assert due is not None
        earliest = record.started_at + INTERVAL
        window = {"tagged": 4.0, "untouched": 0.0}.get(s.name, INTERVAL * 0.5)
        assert due == pytest.approx(earliest + tick_delay(s.name, record.tick_id, window), abs=1e-3)
        assert earliest - 1e-3 <= due < earliest + window + 1e-3
        delays.append(due - earliest)
    # The fractions spread over the window rather than bunching at one end.
    shared = delays[:40]
    assert min(shared) < 1.0 and max(shared) > 4.0


def test_without_jitter_the_next_tick_is_due_exactly_at_the_interval(
    settings: Settings, storage: Repositories
) -> None:
    defs = dg.Definitions(sensors=[member("plain")])
    sync_definitions(defs, storage.sensors)
    runner = tick_runner(defs, storage, settings)
    record = runner.tick("plain")
    assert record is not None
    assert storage.schedule.due_times(["plain"]) == [
        pytest.approx(record.started_at + INTERVAL, abs=1e-3)
    ]


@pytest.fixture
def sync(settings: Settings, storage: Repositories) -> Iterator[Any]:
    made: list[Scheduler] = []

    def run(sensors: list[dg.SensorDefinition[Any, Any]], jitter: float, now: float) -> None:
        scheduler = Scheduler.on(
            dg.Definitions(sensors=sensors),
            replace(settings, sensor_jitter=jitter),
            storage,
            clock=lambda: now,
        )
        made.append(scheduler)
        assert scheduler.lock.hold()
        scheduler.sync()
        scheduler.lock.release()

    yield run
    for scheduler in made:
        scheduler.publisher.close()


def test_a_new_deployments_first_ticks_spread_over_one_interval_with_jitter_only(
    sync: Any, storage: Repositories, settings: Settings
) -> None:
    now = time.time()
    names = [f"n{i}" for i in range(200)]
    sync([member(n) for n in names], 0.0, now)
    assert storage.schedule.due_times(names) == [pytest.approx(now, abs=1e-3)] * len(names)

    storage.client.flushall()
    herd = [member(n) for n in names]
    sync(herd, 0.2, now)
    due = storage.schedule.due_times(names)
    assert due == [pytest.approx(now + first_delay(s, 0.2), abs=1e-3) for s in herd]
    seconds = Counter(int(d - now) for d in due if d is not None)
    assert sorted(seconds) == list(range(INTERVAL))  # every second of the interval
    assert max(seconds.values()) <= 2 * len(names) / INTERVAL


def test_a_sensor_that_ticked_before_is_not_delayed_by_a_new_sync(
    sync: Any, storage: Repositories, settings: Settings
) -> None:
    sensor = member("veteran")
    record = tick_runner(dg.Definitions(sensors=[sensor]), storage, settings).tick("veteran")
    assert record is not None
    storage.client.zrem(storage.keys.due, "veteran")
    later = record.started_at + 3 * INTERVAL
    sync([sensor], 0.5, later)
    assert storage.schedule.due_times(["veteran"]) == [pytest.approx(later, abs=1e-3)]


def test_a_jitter_tag_that_is_no_number_of_seconds_is_refused_at_definition() -> None:
    for bad in ("soon", "-1", "inf"):
        with pytest.raises(dg.DefinitionError, match="lookout/jitter_seconds"):
            member("bad", {"lookout/jitter_seconds": bad})


def test_a_jitter_setting_over_one_interval_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"LOOKOUT_SENSOR_JITTER=1\.5 must be at most 1"):
        Settings.from_env({"LOOKOUT_SENSOR_JITTER": "1.5"})


# -- acceptance: a herd on real processes ----------------------------------------

WINDOW = 60.0
SETTLE = 6.0
JITTER = 0.5


@pytest.mark.long
def test_a_thousand_sensors_with_jitter_spread_their_ticks_over_every_second(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    """1,000 sensors of a 10 s interval, a new deployment with jitter 0.5, on a real
    scheduler and worker: over a minute, no second carries more than twice the
    mean of the ticks made due, and no sensor ticks sooner than its interval.

    Without jitter the first second carries all 1,000 and the herd stays.  The
    due times are what jitter decides; the start times add the machine's
    lateness (a starved scheduler claims what came due meanwhile at once), so
    their bound is looser: a herd would still break it several times over.
    """
    env = sched_env(settings, LOOKOUT_SENSOR_JITTER=str(JITTER), HERD_SIZE="1000")
    start_ready(
        spawn,
        ["lookout", "worker", "-m", "tests.locations.herd", "-c", "2", "-Q", "ticks"],
        env,
        " ready.",
        "the worker to be ready",
        "worker",
    )
    start_ready(
        spawn,
        ["lookout", "scheduler", "-m", "tests.locations.herd"],
        env,
        "started with",
        "the scheduler to start",
        "scheduler",
    )
    names = [f"herd_{i:04d}" for i in range(1000)]
    wait_for(lambda: bool(_ticks(storage, names[:50])), 30, what="the first ticks")
    begin = time.time()
    # The last second's ticks committed, even by a worker running late.
    time.sleep(WINDOW + SETTLE)
    ticks = _ticks(storage, names)
    due = _per_second([d for each in ticks.values() for _, d in each], begin)
    started = _per_second([t for each in ticks.values() for t, _ in each], begin)
    for what, counts in (("due", due), ("started", started)):
        print(f"{what}: {sum(counts)} in {WINDOW:g} s, busiest second {max(counts)}: {counts}")
    # About 1,000 / (10 s + a mean jitter of 2.5 s) per second, when the machine keeps up.
    assert sum(started) > 0.5 * WINDOW * 1000 / (INTERVAL * (1 + JITTER / 2))
    assert max(due) <= 2 * sum(due) / WINDOW
    assert max(started) <= 3 * sum(started) / WINDOW
    for name, each in ticks.items():
        starts = sorted(t for t, _ in each)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert all(g >= INTERVAL - 1e-3 for g in gaps), (name, gaps)


def _per_second(times: list[float], begin: float) -> list[int]:
    """How many of ``times`` fall in each second of the window from ``begin``."""
    counts = Counter(int(t - begin) for t in times if begin <= t < begin + WINDOW)
    return [counts[s] for s in range(int(WINDOW))]


def _ticks(storage: Repositories, names: list[str]) -> dict[str, list[tuple[float, float]]]:
    """Each sensor's ticks (start, due time), from its tick history."""
    out: dict[str, list[tuple[float, float]]] = {}
    for name in names:
        out[name] = [
            (t.started_at, t.due_at if t.due_at is not None else t.started_at)
            for t in storage.ticks.history(name, 100)
        ]
    return {n: s for n, s in out.items() if s}
