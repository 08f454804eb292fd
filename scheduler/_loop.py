"""The scheduler: keeps the due-time index and publishes the ticks that are due.

One round (``run_once``): acquire or renew the leader lock; a scheduler that
has just become the leader records its code's sensors (only the leader does:
a standby may run other code); as leader, claim the due sensors in one fenced
script (which also expires lapsed tick leases and wakes waiting
triggers) and publish the claimed ticks in batches, giving back those that
surely never reached the broker when publishing fails; the ticks sent are
marked published, and any the leader could not mark (it failed or died) are
given back by the sweep unless a worker began them.
While the tick queue holds ``LOOKOUT_TICK_QUEUE_LIMIT`` messages per worker
process or more, the workers are behind: the round claims nothing (the due
sensors stay due, and tick late) and the leader looks again soon, so that
no tick waits in the queue until its lease lapses (back-pressure).
A round claims, besides the due sensors, those due within
``LOOKOUT_SCHEDULER_CLAIM_AHEAD``: their ticks reach the workers early and
each waits there until its due time, instead of starting late by the whole
path from the due index to a worker.
Between rounds the leader sleeps as its pace says (``_pace``: until the
head of the due index, gathered, capped) and wakes early on a trigger.
Each round reads only the sensors it claims, so its cost per tick is
O(log n) in the number of sensors.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lookout._author.definitions import Definitions
from lookout._core.settings import Settings
from lookout._core.storage import (
    ClaimedTick,
    LeaderStore,
    ProcessStore,
    Repositories,
    ScheduleStore,
    ServerChecks,
    TickLedger,
    tick_processes,
)
from lookout._core.transient import TRANSIENT_ERRORS
from lookout._process.guards import check_eviction_policy
from lookout._process.heartbeat import Heartbeat
from lookout._process.jitter import first_delay
from lookout._process.schedule_tick import next_due
from lookout.scheduler._leader import LeaderLock
from lookout.scheduler._pace import RoundPace
from lookout.scheduler._publish import PublishError, TickPublisher

log = logging.getLogger(__name__)

# Errors a round survives: Redis or the broker briefly away (invariant 7).
TRANSIENT = TRANSIENT_ERRORS
# How often Redis ends blocked commands whose timeout passed (1 / its hz).
REDIS_TIMER = 0.1
# How often the leader re-reads how many worker processes evaluate ticks.
SLOTS_REFRESH = 5.0
# ... and this often while no worker's heartbeat is there.
NO_WORKER_REFRESH = 0.5
# While the tick queue is at its bound, the leader looks at it this often (s).
HELD_BACK_POLL = 0.05
# Holding back for the tick queue's bound is logged at most this often (s).
HELD_BACK_LOG_EVERY = 60.0
# A hold this long (s) is a stall, and its end is logged.
HELD_BACK_STALL = 5.0


@dataclass
class SchedulerStats:
    """Counters since start, for logs and tests."""

    rounds: int = 0
    ticks: int = 0
    messages: int = 0
    requeued: int = 0
    parked: int = 0
    given_back: int = 0  # claimed ticks not published (the broker failed), due again
    deferred: int = 0  # due ticks put back: the launch stream was over its limit
    lapsed: int = 0  # published ticks no worker began before their leases lapsed
    held_back: int = 0  # rounds that claimed nothing: the tick queue was at its bound
    most_queued: int = 0  # the most messages a round saw in the tick queue


class Scheduler:
    """Schedules the sensors of one ``Definitions``; ``run()`` loops until ``stop()``.

    It uses the schedule, the tick ledger (to park ticks of sensors it does
    not define), the heartbeats (its own, and the workers' to count them),
    the leader lock's store and the server checks; ``on`` takes them from a
    ``Repositories``.
    """

    def __init__(
        self,
        definitions: Definitions,
        settings: Settings,
        *,
        schedule: ScheduleStore,
        ticks: TickLedger,
        leader: LeaderStore,
        processes: ProcessStore,
        server: ServerChecks,
        clock: Callable[[], float] = time.time,
        app: Any = None,
    ) -> None:
        self.definitions = definitions
        self.settings = settings
        self.schedule = schedule
        self.ticks = ticks
        self.processes = processes
        self.server = server
        self.clock = clock
        self.known = frozenset(
            [s.name for s in definitions.sensors] + [s.name for s in definitions.schedules]
        )
        self.lock = LeaderLock(leader, settings.leader_ttl, settings.leader_renew)
        self.publisher = TickPublisher(settings, app)
        self.heartbeat = Heartbeat(
            processes,
            "scheduler",
            interval=settings.heartbeat_interval,
            leader=lambda: self.lock.leading,
            details=lambda: {
                "sensors": str(len(self.known)),
                # "synced": this leader has recorded its code's sensors (a new
                # leader's first round; a benchmark waits for it before measuring).
                "synced": str(int(self._synced)),
                # Back-pressure: the tick queue is at its bound, no tick is claimed.
                "held_back": "1" if self.held_back else "0",
            },
        )
        self.stats = SchedulerStats()
        self._stop = threading.Event()
        self._slots = 1
        self._slots_read = float("-inf")
        # Whether this scheduler has recorded its sensors since it last became leader.
        self._synced = False
        # Whether the last round not held back by the queue's bound was full.
        self._last_full = False
        # The tick queue was at its bound in the last round: nothing claimed.
        self.held_back = False
        self._held_since = 0.0
        self._said_held_back = -HELD_BACK_LOG_EVERY
        self.pace = RoundPace(settings, schedule, clock, self._worker_slots)

    @classmethod
    def on(
        cls,
        definitions: Definitions,
        settings: Settings,
        repos: Repositories,
        *,
        clock: Callable[[], float] = time.time,
        app: Any = None,
    ) -> Scheduler:
        """A scheduler on the repositories it uses, taken from ``repos``."""
        return cls(
            definitions,
            settings,
            schedule=repos.schedule,
            ticks=repos.ticks,
            leader=repos.leader,
            processes=repos.processes,
            server=repos.server,
            clock=clock,
            app=app,
        )

    # -- lifecycle -------------------------------------------------------------

    def run(self) -> None:
        """Check Redis, then schedule until ``stop()`` (syncing the sensors once it leads)."""
        check_eviction_policy(self.server, log)
        self.heartbeat.start()
        log.info(
            "scheduler %s started with %d sensors (standing by until it leads)",
            self.lock.token[:8],
            len(self.known),
        )
        try:
            while not self._stop.is_set():
                self._pause(self._round_safely())
        finally:
            self._shutdown()

    def stop(self) -> None:
        """Ask ``run()`` to return after the current round (safe from a signal handler)."""
        self._stop.set()

    def _shutdown(self) -> None:
        try:
            self.lock.release()
        except TRANSIENT as exc:
            log.warning("leader lock not released (it expires by itself): %s", exc)
        self.heartbeat.stop()
        self.publisher.close()
        log.info(
            "scheduler %s stopped: %d ticks in %d messages",
            self.lock.token[:8],
            self.stats.ticks,
            self.stats.messages,
        )

    def sync(self) -> int | None:
        """As the leader, record every sensor's (and schedule's) defaults and make the idle
        RUNNING ones due (a schedule at its next cron fire time).

        Sensors Redis knows but this code location does not define leave the
        due index (their state is kept).  Returns how many became due, or
        ``None`` when this scheduler does not hold the leader lock: then
        nothing was changed, as a standby may run other code than the leader.
        """
        sensors = [
            (s.name, s.default_status, float(s.minimum_interval_seconds))
            for s in self.definitions.sensors
        ]
        # With jitter, a sensor that never ticked is first due within one interval.
        jitter = self.settings.sensor_jitter
        first = {s.name: first_delay(s, jitter) for s in self.definitions.sensors}
        now = self.clock()
        added = self.schedule.sync_sensors(self.lock.token, sensors, now, first_delays=first)
        gone = (
            None if added is None else self.schedule.unschedule_unknown(self.lock.token, self.known)
        )
        timed = None if gone is None else self._sync_schedules(now)
        if added is None or gone is None or timed is None:
            return None
        added += timed
        if gone:
            log.warning(
                "%d sensors in Redis are not defined here and are not scheduled: %s",
                len(gone),
                ", ".join(sorted(gone)[:10]) + (" ..." if len(gone) > 10 else ""),
            )
        return added

    def _sync_schedules(self, now: float) -> int | None:
        """Record the schedules, the idle RUNNING ones due at their next fire time after now.

        Fenced like the sensors' sync; ``None`` when this scheduler does not lead.
        """
        token = self.lock.token
        schedules = [
            (s.name, s.default_status.value, next_due(s, now), f"{s.cron_schedule!r} {s.timezone}")
            for s in self.definitions.schedules
        ]
        added = self.schedule.sync_schedules(token, schedules)
        known = frozenset(s.name for s in self.definitions.schedules)
        if added is None or self.schedule.unschedule_unknown(token, known, schedules=True) is None:
            return None
        return added

    # -- rounds ----------------------------------------------------------------

    def _round_safely(self) -> float:
        try:
            return self.run_once()
        except TRANSIENT as exc:
            log.warning("scheduling round failed (retrying in 1 s): %s", exc)
            return 1.0

    def run_once(self) -> float:
        """One round; returns how long to wait before the next one."""
        was_leading = self.lock.leading
        leading = self.lock.hold()
        if leading != was_leading and self.heartbeat.started_at is not None:
            self.heartbeat.beat()  # the monitor sees the new leader at once
        if not leading:
            self._synced = False
            return self.lock.seconds_to_renewal()
        if not self._synced:
            # A leader of other code (a rolling deploy) may have parked sensors
            # this one defines: the new leader's code decides what is scheduled.
            if self.sync() is None:
                self.lock.lost()
                return self.lock.seconds_to_renewal()
            self._synced = True
            if self.heartbeat.started_at is not None:
                self.heartbeat.beat()  # synced: the monitor sees it at once
        gathering = self.pace.still_gathering(self.lock.seconds_to_renewal())
        if gathering is not None:
            return gathering
        messages = self.stats.messages
        now = self.clock()
        claimed = self.publish_due(now)
        self.pace.claimed(now, claimed)
        if claimed >= self.settings.schedule_limit:
            return 0.0  # more are due: go round at once
        if self.held_back:
            # The due sensors wait for the queue, not for a due time: look again soon.
            return min(HELD_BACK_POLL, self.lock.seconds_to_renewal())
        return self.pace.idle_time(self.lock.seconds_to_renewal(), self.stats.messages - messages)

    def publish_due(self, now: float) -> int:
        """Claim what is due, or due within the claim lead (fenced by the lock), and
        publish it; returns ticks claimed.
        """
        claim = self.ticks.claim_due(
            self.lock.token,
            now,
            limit=self.settings.schedule_limit,
            ttl=self.settings.inflight_ttl,
            tick_prefix=uuid.uuid4().hex[:24],
            launch_limit=self.settings.launch_backlog_limit,
            launch_group=self.settings.launch_group,
            queue=self.settings.tick_queue,
            queue_limit=self._queue_bound(),
            ahead=self.settings.scheduler_claim_ahead,
        )
        if claim is None:
            self.lock.lost()
            return 0
        self.stats.rounds += 1
        self.stats.most_queued = max(self.stats.most_queued, claim.queued)
        self._hold_back(claim.held_back, claim.queued)
        if claim.lapsed:
            self.stats.lapsed += claim.lapsed
            log.warning(
                "%d published ticks lapsed before any worker began them (the tick queue was "
                "backed up, no worker took them, or their messages were lost): due again, "
                "no tick record",
                claim.lapsed,
            )
        if claim.deferred:
            self.stats.deferred += claim.deferred
            log.warning(
                "%d due ticks deferred: %d run requests or more wait on the launch stream "
                "(LOOKOUT_LAUNCH_BACKLOG_LIMIT); the launchers are behind",
                claim.deferred,
                self.settings.launch_backlog_limit,
            )
        if claim.requeued:
            self.stats.requeued += claim.requeued
            log.warning(
                "%d tick leases lapsed while a process held them (a worker lost?): "
                "FAILURE ticks, ticking again",
                claim.requeued,
            )
        # In columns, as claimed: a tick at a time, the scheduler's CPU went to
        # building and reading an object per tick.
        ticks = claim.claimed
        if not self.known.issuperset(ticks.sensors):
            self._park(list(ticks.where(lambda sensor: sensor not in self.known)))
            ticks = ticks.where(self.known.__contains__)
        full, after_full = len(claim.claimed) >= self.settings.schedule_limit, self._last_full
        if not claim.held_back:  # held back: the workers are busy, as they were
            self._last_full = full
        if ticks:
            # A full round right after a full one (the workers still hold the
            # last one's messages: their prefetch empties the queue, so its
            # length does not tell), or the workers behind: spreading gains
            # nothing and large messages cost least.  The first full round
            # after a quieter one (a burst) goes to two processes (batch_sizes).
            backlog = (full and after_full) or self.pace.behind()
            try:
                self.stats.messages += self.publisher.publish(
                    ticks, self._worker_slots(), backlog=backlog, full=full
                )
            except PublishError as failed:
                self._give_back(failed, len(ticks))
                # A transient error ends the round as any other would: tried again soon.
                raise failed.error from None
            # Published: a worker has a lease's length to begin each.  Should
            # this fail, the sweep gives the ticks back unless a worker began them.
            self.ticks.publish(ticks, self.settings.inflight_ttl)
            self.stats.ticks += len(ticks)
            log.debug("published %d ticks", len(ticks))
        return len(claim.claimed)

    def _queue_bound(self) -> int:
        """The tick queue's bound in messages: LOOKOUT_TICK_QUEUE_LIMIT per tick-evaluating
        worker process (0: none).
        """
        per_process = self.settings.tick_queue_limit
        return per_process * self._worker_slots() if per_process > 0 else 0

    def _hold_back(self, held: bool, queued: int) -> None:
        """Note (and log, at most once a minute) when claiming stops or resumes for the
        tick queue's bound.
        """
        if held:
            self.stats.held_back += 1
        if held == self.held_back:
            return
        self.held_back = held
        now = time.monotonic()
        if not held:
            # A long hold (a worker stopped, or far behind) is worth saying it ended;
            # a sustained overload holds back and resumes many times a second.
            if now - self._held_since >= HELD_BACK_STALL:
                log.warning(
                    "the tick queue is below its bound again (%d messages): claiming ticks "
                    "after %.1f s held back",
                    queued,
                    now - self._held_since,
                )
            return
        self._held_since = now
        if now - self._said_held_back >= HELD_BACK_LOG_EVERY:
            self._said_held_back = now
            log.warning(
                "the tick queue holds %d messages, at its bound (LOOKOUT_TICK_QUEUE_LIMIT=%d "
                "per worker process, %d processes): the workers are behind; no tick is "
                "claimed until they take some, due sensors wait and tick late "
                "(held back in %d rounds so far)",
                queued,
                self.settings.tick_queue_limit,
                self._worker_slots(),
                self.stats.held_back,
            )

    def _give_back(self, failed: PublishError, claimed: int) -> None:
        """Claimed ticks that surely never reached the broker are due again at once.

        The message whose sending failed may have reached the queue: its ticks
        stay claimed (a worker may begin them); unpublished, the sweep gives
        them back without a record unless a worker did.
        """
        self.stats.messages += failed.sent
        self.stats.ticks += claimed - len(failed.unsent) - len(failed.uncertain)
        try:
            given = self.ticks.give_back(
                [(t.sensor, t.tick_id, t.due_at) for t in failed.unsent], self.clock()
            )
        except TRANSIENT as exc:
            log.warning("claimed ticks not given back (the sweep will): %s", exc)
            given = 0
        self.stats.given_back += given
        log.warning(
            "publishing ticks failed after %d messages (%s): %d ticks given back, %d left in "
            "flight in case their message arrived",
            failed.sent,
            failed.error,
            given,
            len(failed.uncertain),
        )

    def _worker_slots(self) -> int:
        """Tick-evaluating worker processes, from the workers' heartbeats (cached).

        A worker evaluates a message's ticks one after another: spreading a
        small round over every process keeps one slow sensor from holding
        back the others.
        """
        now = time.monotonic()
        if now - self._slots_read < SLOTS_REFRESH:
            return self._slots
        slots = tick_processes(self.processes.heartbeats(), self.settings.tick_queue)
        # No worker yet (the scheduler started first): look again next round,
        # not in 5 s.  Rounds sized for one process until then, and resized
        # after, cut and regather the groups a merge wait has formed.
        self._slots_read = now if slots else now - SLOTS_REFRESH + NO_WORKER_REFRESH
        self._slots = max(1, slots)
        return self._slots

    def _park(self, unknown: list[ClaimedTick]) -> None:
        """Sensors due in Redis that this code does not define: not ticked, not due."""
        for t in unknown:
            self.ticks.release(t.sensor, t.tick_id)
        self.stats.parked += len(unknown)
        log.warning(
            "not scheduling %d sensors this code location does not define: %s",
            len(unknown),
            ", ".join(t.sensor for t in unknown[:10]),
        )

    def _pause(self, seconds: float) -> None:
        if seconds <= 0 or self._stop.is_set():
            return
        until = time.monotonic() + seconds
        # Only the leader consumes wake-ups: a standby would swallow them.
        # Redis ends a blocked BLPOP only on its timer (every 100 ms at the
        # default hz 10): block for the bulk of a long pause, sleep the rest here.
        # A block must end well within the socket timeout, or it times out.
        block = min(seconds - REDIS_TIMER, self.settings.redis_socket_timeout / 2)
        if self.lock.leading and seconds >= 2 * REDIS_TIMER:
            try:
                if self.schedule.wait_wake(block):
                    self.pace.woken()  # a trigger: claim now
                    return
            except TRANSIENT as exc:
                log.warning("waiting for a wake-up failed: %s", exc)
        rest = until - time.monotonic()
        if rest > 0:
            self._stop.wait(rest)
