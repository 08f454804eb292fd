"""Where a round's group ends (``lookout.scheduler._groups.group_end``)."""

from __future__ import annotations

import pytest

from lookout.scheduler._groups import (
    FILL_SHARE,
    MERGE_SLACK,
    group_end,
    round_gather,
    trailing_end,
)

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


def test_a_round_gathers_per_process_only_as_many_as_the_rate_fills_in_the_merge_wait() -> None:
    # 200 ticks a second fill 80 within 80% of a 0.5 s merge wait.
    assert FILL_SHARE == 0.8
    assert round_gather(32, 2, rate=200.0, merge_wait=0.5) == 64
    assert round_gather(32, 4, rate=200.0, merge_wait=0.5) == 80
    assert round_gather(32, 16, rate=2000.0, merge_wait=0.5) == 512


def test_a_round_gathers_at_least_one_process_worth_whatever_the_rate() -> None:
    assert round_gather(32, 4, rate=0.0, merge_wait=0.5) == 32
    assert round_gather(32, 4, rate=20.0, merge_wait=0.5) == 32


def test_a_group_beginning_within_the_slack_after_the_cut_is_taken_to_its_end() -> None:
    due = [9.96, 10.003, 10.005, 10.5]
    assert trailing_end(10.0, due, 0.05, more=False) == pytest.approx(10.005 + MERGE_SLACK)


def test_no_group_is_taken_past_the_slack_or_past_a_batch_wait() -> None:
    assert trailing_end(10.0, [9.96, 10.0 + 2 * MERGE_SLACK], 0.05, more=False) is None
    stream = [10.0 + i * STEP for i in range(1, 40)]
    assert trailing_end(10.0, stream, 0.05, more=False) is None
