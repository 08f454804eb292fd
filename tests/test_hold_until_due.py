"""A tick claimed ahead is held until its due time, on two clocks read at different moments.

The hold's bound by the lead counts on the monotonic clock, its due time on
the wall clock.  A process can be paused between the two reads (another
thread takes the GIL, the OS runs something else): the pause must only ever
lengthen the hold, never end it before the due time (invariant 1).
"""

from __future__ import annotations

from lookout.workers.batch import hold_until_due


class PausedOnce:
    """One timeline read by two clocks; the first wall-clock read comes ``pause`` s late."""

    def __init__(self, start: float, pause: float) -> None:
        self.now = start
        self.pause = pause
        self.wall_reads = 0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        self.wall_reads += 1
        if self.wall_reads == 1:
            self.now += self.pause  # paused just before this read
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def test_a_pause_between_the_two_clock_reads_never_ends_the_hold_before_the_due_time() -> None:
    timeline = PausedOnce(start=1000.0, pause=0.005)
    hold_until_due(1000.04, 0.06, timeline.wall, timeline.monotonic, timeline.sleep)
    assert timeline.now >= 1000.04


def test_the_hold_ends_at_the_due_time_without_a_pause() -> None:
    timeline = PausedOnce(start=1000.0, pause=0.0)
    hold_until_due(1000.04, 0.06, timeline.wall, timeline.monotonic, timeline.sleep)
    assert abs(timeline.now - 1000.04) < 1e-9


def test_the_hold_never_outlasts_the_lead_when_the_due_time_is_further_off() -> None:
    # A scheduler's clock ahead of this host's: the lead alone bounds the hold.
    timeline = PausedOnce(start=1000.0, pause=0.0)
    hold_until_due(1010.0, 0.06, timeline.wall, timeline.monotonic, timeline.sleep)
    assert abs(timeline.now - 1000.06) < 1e-9
