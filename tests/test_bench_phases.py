"""A benchmark phase starts its sensors where the leader sees them in time.

The phase writes the due index itself, behind the leader's back: what it
writes must come due only after the leader has surely looked again.
"""

from __future__ import annotations

import itertools
import time

from bench.location import sensor_name
from bench.phases import SPREAD_LEAD, spread_due
from lookout.testing import Repositories

SENSORS = 100


def test_a_phase_spreads_its_sensors_over_an_interval_after_the_leaders_longest_sleep(
    storage: Repositories,
) -> None:
    names = [sensor_name(i) for i in range(SENSORS)]
    storage.client.zadd(storage.keys.due, dict.fromkeys(names, time.time() + 3600))
    before = time.time()
    first = spread_due(storage, names, interval=2.0, max_sleep=0.5)
    after = time.time()
    due = sorted(t for t in storage.schedule.due_times(names) if t is not None)
    assert len(due) == SENSORS
    assert due[0] == first  # the warm-up counts from it
    # None is due before a leader that just began its longest sleep looks again.
    assert due[0] >= before + 0.5 + SPREAD_LEAD
    # Evenly over one interval from there.
    assert due[-1] < after + 0.5 + SPREAD_LEAD + 2.0
    steps = [b - a for a, b in itertools.pairwise(due)]
    assert max(steps) - min(steps) < 1e-3
