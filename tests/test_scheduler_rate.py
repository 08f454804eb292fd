"""The leader's claim rate: ticks per second over a sliding span of its clock."""

from __future__ import annotations

from lookout.scheduler._rate import ClaimRate


def test_the_rate_counts_the_rounds_within_the_span_and_forgets_older_ones() -> None:
    rate = ClaimRate(span=1.0)
    rate.add(10.0, 300)
    rate.add(10.4, 500)
    rate.add(10.5, 0)  # a round that claimed nothing counts nothing
    assert rate.per_second(10.9) == 800
    # At 11.0 the round of 10.0 is a whole span old: it is out.
    assert rate.per_second(11.0) == 500
    assert rate.per_second(11.4) == 0


def test_a_longer_span_gives_the_rate_per_second_not_the_total() -> None:
    rate = ClaimRate(span=2.0)
    rate.add(0.0, 1000)
    rate.add(1.0, 1000)
    assert rate.per_second(1.5) == 1000
