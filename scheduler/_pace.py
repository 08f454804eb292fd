"""The leader's pace: when its next round goes, and how many ticks that round waits for.

Between rounds the leader sleeps until the head of the due index (less the
claim lead), capped; when few are due, the head waits a little
(``scheduler_batch_wait``) for enough others to fill a message per worker
process, and at a low tick rate for the rest of its group
(``scheduler_merge_wait``, ``_groups``), so that a low tick rate does not pay
a round and messages per tick.  While older messages still wait in the tick
queue the workers are behind, and rounds go in messages of the largest size.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from lookout._core.settings import Settings
from lookout._core.storage import ScheduleStore, Wakeup
from lookout.scheduler._groups import (
    FOLLOW_ROUNDS,
    MERGE_SLACK,
    group_end,
    round_gather,
    trailing_end,
)
from lookout.scheduler._rate import ClaimRate

# How often the leader looks again while a trigger waits for an in-flight tick.
TRIGGER_POLL = 0.1
# The span (s) over which the leader counts the ticks it claimed, for the tick
# rate that decides whether rounds gather with the merge wait, and how many
# ticks they wait for then.
RATE_SPAN = 1.0
# Times (s) this close are one: a lead set to the batch wait and the slack
# together (0.07 against 0.06 + 0.01) must not fall on either side of that
# bound by floating-point rounding.
SAME_TIME = 1e-6


class RoundPace:
    """The leader's pace between rounds (``Scheduler`` asks it after each round).

    ``slots`` tells how many worker processes evaluate ticks; ``rate`` counts
    the ticks the rounds claimed.  ``queued`` is the tick messages that were
    waiting for a worker when the last round ended; ``gather_until`` the
    clock time until which a round gathers (a wake-up before it, to renew the
    lock or at the longest sleep, claims nothing, not to cut the round short).
    """

    def __init__(
        self,
        settings: Settings,
        schedule: ScheduleStore,
        clock: Callable[[], float],
        slots: Callable[[], int],
    ) -> None:
        self.settings = settings
        self.schedule = schedule
        self.clock = clock
        self.slots = slots
        self.rate = ClaimRate(RATE_SPAN)
        self.queued = 0
        self.gather_until = 0.0

    def still_gathering(self, renewal: float) -> float | None:
        """How long more the round gathers (bounded as ``idle_time`` is), or ``None``
        when it may go now.  ``renewal``: seconds until the leader lock's renewal.
        """
        left = self.gather_until - self.clock()
        if left <= 0:
            return None
        return min(self.settings.scheduler_max_sleep, renewal, left)

    def claimed(self, at: float, ticks: int) -> None:
        """Count a round's ``ticks`` claimed at clock time ``at`` (the tick rate)."""
        self.rate.add(at, ticks)

    def woken(self) -> None:
        """A trigger woke the leader: the next round goes at once, gathering nothing."""
        self.gather_until = 0.0

    def behind(self) -> bool:
        """Whether the workers are a round behind: an older message waits for each process.

        One or two waiting is no backlog: at half load a round's messages are
        often still queued when the next round reads the queue, and answering
        with 500-tick messages and a 50 ms gather put one process on hundreds
        of ticks while the other idled (p99 lateness 118-157 ms).
        """
        rounds = 2 if self.settings.scheduler_claim_ahead > 0 else 1
        return self.queued >= rounds * self.slots()

    def idle_time(self, renewal: float, sent: int = 0) -> float:
        """Until the next round: the next due time (or lease expiry), gathered, bounded.

        ``renewal``: seconds until the leader lock's renewal (no sleep outlasts it);
        ``sent``: the messages the round just published.
        """
        settings = self.settings
        behind = self.behind()
        merging = settings.scheduler_batch_wait > 0 and self._merging() and not behind
        gather = self._gather(behind, merging)
        # Rounds that wait for groups read where the group ends as well.
        grouping = merging and not self._fills_anyway(gather)
        follow = FOLLOW_ROUNDS * gather if grouping else 0
        wakeup = self.schedule.next_wakeup(gather, settings.tick_queue, follow)
        # Read right after this round's messages went out, the queue holds
        # them (no worker has had the time to take them): only older ones
        # still there (the queue is first in, first out) say the workers are
        # a round behind.  Counting this round's own made every other round
        # at half load go out in messages of hundreds, each evaluated in one
        # process while the others idled (p99 lateness 150 ms).
        self.queued = max(0, wakeup.queued - sent)
        cap = min(settings.scheduler_max_sleep, renewal)
        if wakeup.triggers_waiting:
            cap = min(cap, TRIGGER_POLL)
        self.gather_until = 0.0
        if wakeup.at is None:
            return cap
        at = wakeup.at
        lead = settings.scheduler_claim_ahead
        if settings.scheduler_batch_wait > 0:
            # Few due: the first waits (at most the batch wait past its due
            # time) until the round has gathered that many.
            gathered = math.inf if wakeup.gathered is None else wakeup.gathered
            # Not for a message of the largest size: that one only the batch wait.
            if merging:
                end = gathered
                # More due times may follow those read: no group end is sure there.
                more = len(wakeup.following) == follow
                if grouping:
                    until = gathered + settings.scheduler_batch_wait
                    end = group_end(gathered, wakeup.following, until, more)
                    if self._joins(at, gathered, lead):
                        lead = 0.0
                at = self._merged(at, gathered, end, wakeup, grouping, more)
            else:
                at = max(at, min(gathered, at + settings.scheduler_batch_wait))
        floor = min(cap, settings.scheduler_min_pause)
        # The round claims the ticks due within the claim lead: it goes that
        # much before the time it gathers for, unless it joins groups.
        now = self.clock()
        wait = max(floor, min(cap, at - lead - now))
        if merging and wakeup.at < at and not wakeup.triggers_waiting:
            self._hold(wakeup.at, at - lead, now + wait)
        return wait

    def _hold(self, head: float, goes: float, wakes: float) -> None:
        """Hold a round that waits for a group past its ``head`` until it ``goes``, when
        the leader ``wakes`` (its sleep capped) with the head within the claim
        lead: that wake-up, to renew the leader lock or at the longest sleep,
        claims nothing (it would cut the group in two, each half gathering again).

        A wake-up before the head comes within the lead claims nothing of it
        anyway, and leaves what came due meanwhile (a tick given back, a
        sensor started) unheld.  Holding only a head that came within the
        merge wait let the longest sleep (0.5 s, the default merge wait too)
        take a head due just past it in a round of its own, and trail the
        group it waited for every interval after (200 sensors on 1 s: three
        rounds a second where two carried them).
        """
        # A wake-up comes a little after its time (the sleep's overshoot, the
        # lock's round trip), and claims what is due by then and the lead.
        if wakes + MERGE_SLACK >= head - self.settings.scheduler_claim_ahead:
            self.gather_until = goes

    def _gather(self, behind: bool, merging: bool) -> int:
        """How many ticks the next round waits for: a few for each worker process (a
        message of the least size at least); while ``merging``, no more than the tick
        rate fills within most of the merge wait, but one process's worth at least
        (``round_gather``); while messages wait for the workers (as the last round
        saw, ``behind``), a message of the largest size.
        """
        settings = self.settings
        if behind:
            return settings.tick_batch_size
        per_process = max(settings.tick_batch_gather, settings.tick_batch_min)
        if not merging:
            return self.slots() * per_process
        rate = self.rate.per_second(self.clock())
        return round_gather(per_process, self.slots(), rate, settings.scheduler_merge_wait)

    def _merging(self) -> bool:
        """Whether rounds gather with the merge wait: over the batch wait, and without
        jitter (which spreads each sensor's ticks afresh: its groups would not hold, and
        every round would wait).
        """
        settings = self.settings
        return (
            settings.scheduler_merge_wait > settings.scheduler_batch_wait
            and settings.sensor_jitter == 0
        )

    def _fills_anyway(self, gather: int) -> bool:
        """Whether ticks come fast enough (claimed in the last RATE_SPAN) to fill a round of
        ``gather`` within the batch wait: then rounds are full without groups, and no
        head waits past the batch wait for one.

        Only a low rate needs groups: above it, the merge wait gains no
        round and costs the few ticks before a gap in the due times (a tick
        begun late, a burst of catching up) up to the merge wait of lateness,
        waiting for the next group (the tail at a quarter and half load:
        max 250-450 ms, p99 up to 60 ms at a p50 of ~1 ms).
        """
        return self.rate.per_second(self.clock()) * self.settings.scheduler_batch_wait >= gather

    def _joins(self, head: float, gathered: float, lead: float) -> bool:
        """Whether the round goes at its group's end without the claim ``lead``, to join
        the group ``head`` is in to the later one whose tick fills it: when the
        lead is longer than the batch wait (and the slack), and the round holds
        ``head`` longer than both together, within the merge wait.

        Its ticks are then all due when it claims them and start together:
        from the next interval on the two are one group.  Claimed a lead
        ahead, the earlier group starts at the claim and the later one at its
        own due time, up to the lead apart.  Within the batch wait of each
        other, the next round takes both on time; further apart, they came
        due apart again every interval, and rounds went on waiting to join
        groups that never joined (200 sensors on 1 s with a lead of 0.1 s:
        one phase in ~10 held every sensor's other tick 225-360 ms late, at
        175 ticks a second).
        A shorter wait keeps the lead: the head is then late by the batch
        wait at most, and a steady stream (each round a batch wait and a few
        ms long) does not lose the lead on every round.
        """
        settings = self.settings
        if lead <= settings.scheduler_batch_wait + MERGE_SLACK + SAME_TIME:
            return False
        return (
            settings.scheduler_batch_wait + lead < gathered - head <= settings.scheduler_merge_wait
        )

    def _merged(
        self,
        head: float,
        gathered: float,
        end: float,
        wakeup: Wakeup,
        grouping: bool,
        more: bool,
    ) -> float:
        """When the round goes with ``LOOKOUT_SCHEDULER_MERGE_WAIT``: at the due time of
        the tick that fills it, or of its group's last (``end``), a little after, if
        that tick comes within the batch wait, or within the merge wait while
        ``grouping`` (the tick rate is too low to fill rounds without groups), else
        after the batch wait.  While ``grouping``, it also waits for a group that
        comes right after the batch wait (``trailing_end``).

        Sensors of one interval tick again an interval after their round
        began them: a group gathered once is due together from then on, and
        its later rounds wait only for its last few milliseconds.  While a due
        tick is held back for the group, a wake-up claims nothing (``_hold``).
        """
        settings = self.settings
        longest = settings.scheduler_merge_wait if grouping else settings.scheduler_batch_wait
        cut = head + settings.scheduler_batch_wait
        at = max(head, end + MERGE_SLACK) if gathered <= head + longest else cut
        if grouping:
            read = (*wakeup.leading, gathered, *wakeup.following)
            trailing = trailing_end(cut, read, settings.scheduler_batch_wait, more)
            at = at if trailing is None else max(at, trailing)
        return at
