"""Evaluations in a row share one armed timer and one memory limit, with every guarantee kept.

A worker's message evaluates many sensors one after another; inside a
session the timeout's real-time timer and the address-space limit stay set
between them instead of being set and put back for each.  Each evaluation
still times out at its own deadline, never at an earlier one's; nothing
fires between evaluations; a memory-hungry evaluation still fails; and both
are put back when the session ends.  These run in the test process's main
thread, as a pool process evaluates.
"""

from __future__ import annotations

import resource
import signal
import time

import pytest

from lookout._base.errors import SensorTimeoutError
from lookout._process.memory import MemoryLimit, MemoryLimitError
from lookout._process.timeout import PROF_REARM, REARM, EvaluationTimer


def stopped() -> bool:
    return signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0) and signal.getitimer(
        signal.ITIMER_PROF
    ) == (0.0, 0.0)


def test_each_evaluation_of_a_session_times_out_at_its_own_deadline() -> None:
    timer = EvaluationTimer()
    with timer.session():
        # The timer is left set for the first's deadline (0.2 s), which comes
        # while the second runs: the second still has its whole second.
        assert timer.call(lambda: "quick", 0.2, "quick", hard_after=30) == "quick"
        start = time.monotonic()
        with pytest.raises(SensorTimeoutError, match="'hangs' timed out after 1 s"):
            timer.call(lambda: time.sleep(30), 1.0, "'hangs'", hard_after=30)
        assert 0.9 < time.monotonic() - start < 5
        # A deadline sooner than the one the timer is set for comes on time.
        assert timer.call(lambda: "quick", 20, "quick", hard_after=30) == "quick"
        start = time.monotonic()
        with pytest.raises(SensorTimeoutError):
            timer.call(lambda: time.sleep(30), 0.3, "'hangs'", hard_after=30)
        assert time.monotonic() - start < 5
    assert stopped()


def test_nothing_fires_between_the_evaluations_of_a_session_and_its_end_stops_the_timers() -> None:
    timer = EvaluationTimer()
    with timer.session():
        assert timer.call(lambda: 1, 0.1, "quick", hard_after=30) == 1
        time.sleep(0.4)  # past that deadline, outside any evaluation: nothing raised
        assert timer.call(lambda: 2, 0.1, "quick", hard_after=30) == 2
    assert stopped()


def test_a_sensor_that_takes_over_the_alarm_signal_still_times_out_on_the_next_evaluation() -> None:
    timer = EvaluationTimer()
    previous = signal.getsignal(signal.SIGALRM)
    try:
        with timer.session():
            timer.call(
                lambda: signal.signal(signal.SIGALRM, signal.SIG_IGN), 5, "rude", hard_after=30
            )
            with pytest.raises(SensorTimeoutError):
                timer.call(lambda: time.sleep(30), 0.3, "'hangs'", hard_after=30)
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert stopped()


def test_a_memory_hungry_evaluation_of_a_session_still_fails_and_the_limit_is_put_back() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    memory = MemoryLimit(64)
    with memory.session():
        with memory.applied("sensor 'modest'"):
            small = bytearray(1024 * 1024)
        # The limit stays set between evaluations of the session.
        assert resource.getrlimit(resource.RLIMIT_AS)[0] != before[0]
        hungry = "sensor 'hungry' went over its memory limit"
        with pytest.raises(MemoryLimitError, match=hungry), memory.applied("sensor 'hungry'"):
            bytearray(512 * 1024 * 1024)
        with memory.applied("sensor 'modest'"):
            small = bytearray(1024 * 1024)
    assert len(small) == 1024 * 1024
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_in_a_session_the_limit_counts_from_a_size_read_at_most_refresh_ago() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    memory = MemoryLimit(64, refresh=0.3)
    with memory.session():
        with memory.applied("sensor 'first'"):
            pass
        first = resource.getrlimit(resource.RLIMIT_AS)[0]
        kept = bytearray(32 * 1024 * 1024)  # the process grows between evaluations
        with memory.applied("sensor 'soon after'"):
            assert resource.getrlimit(resource.RLIMIT_AS)[0] == first
        time.sleep(0.35)
        # Its size read again: the whole allowance counts from the bigger process.
        with memory.applied("sensor 'later'"):
            assert resource.getrlimit(resource.RLIMIT_AS)[0] >= first + len(kept)
            bytearray(48 * 1024 * 1024)
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_an_evaluation_outside_a_session_puts_its_limit_back_at_once() -> None:
    before = resource.getrlimit(resource.RLIMIT_AS)
    with MemoryLimit(64).applied("sensor 'alone'"):
        assert resource.getrlimit(resource.RLIMIT_AS)[0] != before[0]
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    timer = EvaluationTimer()
    assert timer.call(lambda: 3, 5, "alone", hard_after=30) == 3
    assert stopped()


def test_each_evaluation_of_a_session_starts_with_its_whole_cpu_allowance() -> None:
    # The CPU-time timer is armed anew only every PROF_REARM seconds within a
    # session: whatever the process used since, each evaluation still has
    # more than its timeout and hard exit before SIGPROF can end it.
    timer = EvaluationTimer()
    left: list[float] = []
    with timer.session():
        for _ in range(50):
            timer.call(lambda: left.append(signal.getitimer(signal.ITIMER_PROF)[0]), 1.0, "q", 2.0)
            sum(range(20_000))  # work between evaluations, as a flush does
    assert stopped()
    allowance = 1.0 + 2.0 + 2 * REARM
    # (getitimer rounds up to the kernel's clock tick)
    assert all(allowance - 2 * PROF_REARM < s < allowance + 0.01 for s in left), left
