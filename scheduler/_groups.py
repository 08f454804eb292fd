"""Rounds that wait for groups: how many ticks a round waits for, and where its group
ends (how far past the tick that fills it a round reaches).

At a low tick rate rounds wait for groups (``RoundPace._merged``): sensors a
round began together come due together an interval later, so a group
gathered once costs one round from then on.  Its ticks start one after
another, though, so a group comes due again spread over the time its last
round took to begin them; the round waits a little past the tick that fills
it for that spread, and for the rest of a group that spread further.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# A round that waits for the tick that fills it waits this long more (s), for
# the rest of that tick's group (due within the time its last round took to begin them).
MERGE_SLACK = 0.01
# ... and for the rest of a group spread wider: the ticks that follow closer
# than that each, when a gap ends them within a batch wait.  Cut at the slack
# alone, a large group's last few waited for the next group (~250 ms late,
# each interval, at 1,000 sensors on 1 s).  This many times what a round
# gathers are read: a rest longer than that goes as a round of its own, but
# reading only as many as a round gathers still left tails (1 of 3 phases at
# 1,000 sensors), and each read costs the scheduler (+15-20% of its CPU at
# 1,000 ticks/s at this size).
FOLLOW_ROUNDS = 4
# A round waits for no more ticks than the claim rate brings within this share
# of the merge wait: the margin for a rate that groups make uneven (a second's
# claims read one group more or less).
FILL_SHARE = 0.8


def round_gather(per_process: int, slots: int, rate: float, merge_wait: float) -> int:
    """How many ticks a round waits for while rounds wait for groups: ``per_process``
    for each of ``slots`` worker processes, but no more than ``rate`` (ticks
    claimed a second) brings within ``FILL_SHARE`` of ``merge_wait``, and never
    fewer than ``per_process``.

    A group forms only when the tick that fills a round comes within the
    merge wait.  A round sized by the processes alone asked for more the more
    processes there were: on four, 200 sensors at 1 s never grouped, and rounds
    went every batch wait with a few ticks each (0.72 CPU-ms a tick against
    0.245 on two processes).
    """
    fill = math.floor(rate * merge_wait * FILL_SHARE)
    return min(slots * per_process, max(per_process, fill))


def group_end(gathered: float, following: Sequence[float], until: float, more: bool) -> float:
    """The due time of the last tick of the group that ``gathered`` is in: of those in
    ``following`` (due after it, in order), the run that comes closer than
    ``MERGE_SLACK`` each to the one before and then stops, before ``until``.

    A run that goes on to ``until`` (or past what was read, while ``more``
    may follow) is no group but a steady stream, which a round cuts where it
    fills: ``gathered`` itself.
    """
    end = gathered
    for due in following:
        if due - end > MERGE_SLACK:
            return end
        if due > until:
            return gathered
        end = due
    return gathered if more else end


def trailing_end(cut: float, due: Sequence[float], batch_wait: float, more: bool) -> float | None:
    """Where a round that waits for groups, whose batch wait ends at ``cut``, goes to take
    the group that comes right after that: past its last tick and ``MERGE_SLACK``;
    ``None`` when no group begins within ``MERGE_SLACK`` after ``cut`` and ends
    within a batch wait (of ``due``, the due times read, in order; ``more``:
    more may follow them).

    A round that went without that group (at the batch wait, or before it,
    filled) sent it a few ms later in a round of its own.  Its sensors began
    together and came due apart from the round before every interval after:
    a chain of small rounds, each a batch wait and a few ms behind the one
    before, that never merged (200 sensors at 1 s in 4-5 rounds a second
    instead of 2-3, at up to twice the CPU per tick).
    """
    end = group_end(cut, [t for t in due if t > cut], cut + batch_wait, more)
    return None if end == cut else end + MERGE_SLACK
