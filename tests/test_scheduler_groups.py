"""Where a round's group ends (``lookout.scheduler._groups.group_end``)."""

from __future__ import annotations

import pytest

from lookout.scheduler._groups import MERGE_SLACK, group_end

STEP = MERGE_SLACK / 4  # closer than the slack: the same group


def test_a_group_ends_at_its_last_tick_before_a_gap() -> None:
    following = [10.0 + STEP, 10.0 + 2 * STEP, 10.5, 10.5 + STEP]
    assert group_end(10.0, following, until=10.05, more=True) == pytest.approx(10.0 + 2 * STEP)


def test_a_steady_stream_to_the_bound_is_no_group() -> None:
    following = [10.0 + i * STEP for i in range(1, 40)]
    assert group_end(10.0, following, until=10.05, more=False) == 10.0


def test_a_run_longer_than_what_was_read_is_no_group_but_the_index_end_is_a_group_end() -> None:
    following = [10.0 + i * STEP for i in range(1, 4)]
    assert group_end(10.0, following, until=10.05, more=True) == 10.0
    assert group_end(10.0, following, until=10.05, more=False) == pytest.approx(10.0 + 3 * STEP)


def test_nothing_after_the_tick_that_fills_the_round_ends_there() -> None:
    assert group_end(10.0, [], until=10.05, more=False) == 10.0
    assert group_end(10.0, [10.2], until=10.05, more=False) == 10.0
