"""One tick message, top to bottom: parse, begin, evaluate, commit, give back.

A message carries many ticks; a worker process takes their leases and reads
their sensors' state in one round trip (``take_up``: a tick another process
already holds, a second delivery, is left to it) and evaluates them one
after another while its ``LeaseKeeper`` renews the leases.  Before each
evaluation it checks that the lease surely outlasts it (timeout and hard
exit): a process cut off from Redis stops there.  Commits are gathered:
what is pending is sent, in one script call that commits each tick on its
own (``commit_many``), once the oldest is ``flush_every`` old, and before
an evaluation that may be slow (the sensor's last tick took ``flush_every``
or more), so a slow sensor does not hold back the commits of the fast ones
before it.  A tick claimed ahead of its due time (``LOOKOUT_SCHEDULER_CLAIM_AHEAD``)
is held until then, on this host's clock, in due order, but never longer
than that lead: a clock behind the scheduler's cannot hold a tick longer.
Whatever it held and did not commit, because it stopped or
failed, it gives back (owes, when Redis is away) so that the sensors are
ticked again without a FAILURE: they did not fail.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lookout._author.definitions import Definitions
from lookout._base.wire import TickMessage, TickRecord, TickStatus
from lookout._core.storage import SensorState, TickCommit
from lookout._core.storage.history import entry_duration
from lookout._core.storage.ticks import TickRef
from lookout._core.transient import TRANSIENT_ERRORS
from lookout._process.tick import TickRunner
from lookout.workers.keeper import LeaseKeeper
from lookout.workers.replicas import confirm_commits
from lookout.workers.ticks import (
    BatchOutcome,
    DeadLetterSink,
    MalformedTickError,
    parse_batch,
    parse_tick,
    payload_bytes,
)

log = logging.getLogger(__name__)

# An evaluation that starts more than this long after its message's begin
# moves its lease's ``began`` to now, so that a death is timed from its start.
RESTART_AFTER = 1.0
# The host's name in a lease holder's name (``holder_name``).
HOLDER_HOST_CHARS = 32
_FAILURE = TickStatus.FAILURE.value  # read once: ``.value`` is a descriptor call


def defined_names(definitions: Definitions) -> frozenset[str]:
    """The sensors and schedules a code location defines: the ticks a worker takes up."""
    return frozenset(
        [s.name for s in definitions.sensors] + [s.name for s in definitions.schedules]
    )


def holder_name(host: str, pid: int, job: str) -> str:
    """The lease holder of a pool process's job: its parent can name it after its death.

    ``{host}:{pid}:{job}``, within 64 bytes: it is a value of the sensor's
    hash while the tick is held, and a value longer than Redis's default
    hash-max-listpack-value (64) turns the hash into a hash table (~1 KB
    instead of ~260 bytes) for good.  So a host's name over 32 characters
    keeps its head and a digest of the whole (pods of one deployment differ
    only in their tails, and their pool processes' pids repeat: a name cut
    short would let two pods hold one lease), and the job (a Celery task id,
    of any form) is 12 hex digits of its digest: 48 bits tell one process's
    jobs apart.
    """
    if len(host) > HOLDER_HOST_CHARS:
        whole = hashlib.blake2s(host.encode(), digest_size=4).hexdigest()
        host = f"{host[: HOLDER_HOST_CHARS - len(whole) - 1]}~{whole}"
    digest = hashlib.blake2s(job.encode(), digest_size=6).hexdigest()
    return f"{host}:{pid}:{digest}"


def hold_until_due(
    due_at: float,
    lead: float,
    clock: Callable[[], float],
    monotonic: Callable[[], float],
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Wait until ``due_at`` on this host's wall ``clock`` (a tick claimed ahead must not
    start early: invariant 1), but at most ``lead`` s by ``monotonic``, which a
    wall clock set back cannot stretch.
    """
    # The wall clock read first: a pause between the two reads (another thread
    # took the GIL, the OS ran something else) then lengthens the hold.  Read
    # second, the pause came off it, and a tick started that much before its
    # due time (0.26 ms in a CI run: a 1 s sensor ticked 0.9997 s apart).
    left = min(lead, due_at - clock())
    until = monotonic() + left
    # A sleep may end a little short of the wall clock (its own clock):
    # looked at again until the tick is due or the lead is spent.
    while (wait := min(until - monotonic(), due_at - clock())) > 0:
        sleep(wait)


def last_duration(entry: bytes | None) -> float | None:
    """How long a sensor's last tick took, read from its history entry (``None``: unknown).

    Reads the record's two times without building a ``TickRecord``: this
    runs for most ticks of a message.
    """
    return entry_duration(entry) if entry else None


@dataclass
class _Pending:
    """Commits evaluated and not yet sent, and their ticks."""

    commits: list[TickCommit] = field(default_factory=list)
    refs: list[TickRef] = field(default_factory=list)
    since: float = 0.0  # when the oldest was evaluated (monotonic)


@dataclass
class _Tally:
    committed: int = 0
    failed: int = 0
    already_done: int = 0
    dead_lettered: int = 0
    given_back: int = 0
    unknown: int = 0
    owed: int = 0

    def outcome(self) -> BatchOutcome:
        return BatchOutcome(
            self.committed,
            self.failed,
            self.already_done,
            self.dead_lettered,
            self.given_back,
            self.unknown,
            self.owed,
        )


class TickBatch:
    """Evaluates and commits the ticks of one message, holding their leases.

    ``job`` names the message's delivery (the Celery task id): the lease
    holder is ``{host}:{pid}:{job}``, so the worker's parent can tell which
    ticks a dead pool process held.
    """

    def __init__(
        self,
        runner: TickRunner,
        keeper: LeaseKeeper,
        dead_letter: DeadLetterSink,
        job: str,
        *,
        known: frozenset[str] | None = None,
        flush_every: float = 0.1,
    ) -> None:
        self.runner = runner
        self.ledger = runner.ticks
        self.settings = runner.settings
        self.keeper = keeper
        self.dead_letter = dead_letter
        self.job = job
        self.holder = holder_name(socket.gethostname(), os.getpid(), job)
        self.flush_every = flush_every
        # The sensors and schedules this code defines (once per process, for all its messages).
        self.known = known if known is not None else defined_names(runner.definitions)
        self.tally = _Tally()
        self.results: dict[TickRef, TickRecord | None] = {}

    def handle(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> BatchOutcome:
        """The whole message: its well-formed ticks evaluated and committed, the rest
        dead-lettered or given back (owed, when Redis went away: the error is raised
        after).
        """
        ticks, unknown = self.parse(args, kwargs)
        held: list[tuple[TickMessage, SensorState]] = []
        redis_lost = False
        try:
            self.give_back_unknown(unknown)
            held = self.begin(ticks)
            self.evaluate(held)
        except TRANSIENT_ERRORS:
            redis_lost = True
            self._owe_unsettled([*ticks, *unknown])
            raise
        finally:
            if not redis_lost:
                self._let_go(held)
        return self.tally.outcome()

    def _let_go(self, held: Sequence[tuple[TickMessage, SensorState]]) -> None:
        # A flush let go of the ticks it committed (each has a result, and
        # only held ticks have one): the rest are let go here.
        if len(self.results) < len(held):
            left = [t for t, _ in held if (t.sensor, t.tick_id) not in self.results]
            self.keeper.drop([(t.sensor, t.tick_id) for t in left])
            self.give_back(left)

    # -- parse -------------------------------------------------------------------

    def parse(
        self, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[list[TickMessage], list[TickMessage]]:
        """The message's ticks of known sensors and of unknown ones; the malformed
        are dead-lettered, repeats dropped.
        """
        try:
            items = parse_batch(args, kwargs)
        except MalformedTickError as exc:
            self._bury(str(exc), {"args": list(args), "kwargs": dict(kwargs)}, self.job)
            return [], []
        known = self.known
        ticks: list[TickMessage] = []
        unknown: list[TickMessage] = []
        seen: set[TickRef] = set()
        for i, item in enumerate(items):
            try:
                tick = parse_tick(item)
            except MalformedTickError as exc:
                self._bury(str(exc), item, f"{self.job}#{i}")
                continue
            ref = (tick.sensor, tick.tick_id)
            if ref not in seen:
                seen.add(ref)
                (ticks if tick.sensor in known else unknown).append(tick)
        return ticks, unknown

    def give_back_unknown(self, ticks: Sequence[TickMessage]) -> None:
        """Ticks of sensors this code does not define (a rolling deploy): back in a
        whole interval, for a worker that knows them.
        """
        if not ticks:
            return
        refs = [(t.sensor, t.tick_id, None) for t in ticks]
        self.tally.unknown = self.ledger.give_back(refs, time.time(), wait=True)
        if self.tally.unknown:
            log.warning(
                "message %s: %d ticks of sensors this code location does not define "
                "(a rolling deploy?) were given back, to be ticked again later: %s",
                self.job,
                self.tally.unknown,
                ", ".join(sorted({t.sensor for t in ticks})[:10]),
            )

    def _bury(self, reason: str, item: Any, ref: str | None) -> None:
        log.error("dead-lettered a tick (%s): %s", ref, reason)
        self.dead_letter(reason, payload_bytes(item), ref)
        self.tally.dead_lettered += 1

    # -- begin -------------------------------------------------------------------

    def begin(self, ticks: Sequence[TickMessage]) -> list[tuple[TickMessage, SensorState]]:
        """Take the leases of ``ticks`` and read their sensors' state, in one round trip;
        returns the ticks this process holds, each with its sensor's state.
        """
        refs = [(t.sensor, t.tick_id) for t in ticks]
        sent = self.keeper.monotonic()
        ttl = self.settings.inflight_ttl
        taken = self.ledger.take_up(refs, self.holder, ttl, fresh=self.settings.lease_kept)
        # One pass over the answers: "" held, "-" done already, else another holder's.
        held: list[tuple[TickMessage, SensorState]] = []
        held_refs: list[TickRef] = []
        busy: list[str] = []
        done = 0
        for tick, ref, (answer, state) in zip(ticks, refs, taken.answers, strict=True):
            if answer == "":
                if state is not None:
                    held.append((tick, state))
                    held_refs.append(ref)
            elif answer == "-":
                done += 1
            else:
                busy.append(tick.sensor)
        # Leases kept as published hold as long as ones armed this much before the send.
        self.keeper.hold(held_refs, self.holder, sent - (ttl - taken.lease_left))
        self.tally.already_done = done + len(busy)
        if busy:
            log.info(
                "ticks of %s are held by another process: a duplicate delivery, left alone",
                ", ".join(busy[:10]),
            )
        return held

    # -- evaluate and commit -----------------------------------------------------

    def evaluate(self, held: Sequence[tuple[TickMessage, SensorState]]) -> None:
        """Evaluate ``held`` in turn, committing as it goes; stops early when a lease
        could lapse mid-evaluation (Redis unreachable).
        """
        if not held:
            return
        with self.runner.evaluating():
            self._evaluate_all(held)

    def _evaluate_all(self, held: Sequence[tuple[TickMessage, SensorState]]) -> None:
        pending = _Pending()
        # Read once for the message: the loop below runs for every tick.
        keeper, runner, monotonic = self.keeper, self.runner, self.keeper.monotonic
        began = monotonic()
        needed = self.settings.tick_timeout + self.settings.hard_exit_after
        lead = self.settings.scheduler_claim_ahead
        if lead > 0:
            # Claimed ahead, each waits for its due time: the earliest first.
            held = sorted(held, key=lambda pair: pair[0].due_at)
        for tick, state in held:
            ref = (tick.sensor, tick.tick_id)
            if lead > 0 and tick.due_at > runner.clock():
                hold_until_due(tick.due_at, lead, runner.clock, monotonic)
            if keeper.surely_held(ref) < needed:
                log.warning(
                    "stopped evaluating message %s: the lease of %s could lapse before "
                    "its evaluation ends (Redis unreachable?); the rest is given back",
                    self.job,
                    tick.sensor,
                )
                break
            if pending.commits and self._may_be_slow(state):
                self._flush(pending)
            if monotonic() - began > RESTART_AFTER:
                self.ledger.renew([ref], self.holder, self.settings.inflight_ttl, restart=True)
            commit = runner.evaluate(
                runner.instigator(tick.sensor),
                state,
                tick_id=tick.tick_id,
                due_at=tick.due_at,
                holder=self.holder,
            )
            now = monotonic()
            if not pending.commits:
                pending.since = now
            pending.commits.append(commit)
            pending.refs.append(ref)
            if now - pending.since >= self.flush_every:
                self._flush(pending)
        self._flush(pending)

    def _may_be_slow(self, state: SensorState) -> bool:
        took = last_duration(state.last_entry)
        return took is not None and took >= self.flush_every

    def _flush(self, pending: _Pending) -> None:
        if not pending.commits:
            return
        records = self.ledger.commit_many(pending.commits)
        refs = pending.refs
        # Committed, or committed before (None): no lease of theirs is held any more.
        self.keeper.drop(refs)
        results, tally = self.results, self.tally
        for ref, record in zip(refs, records, strict=True):
            results[ref] = record
            if record is None:
                tally.already_done += 1
            else:
                tally.committed += 1
                # FAILURE ticks counted in the task's result, so Flower shows them.
                tally.failed += record.status == _FAILURE
        if self.settings.redis_min_replicas > 0:
            # A commit the replicas lack is a FAILURE.
            tally.failed += confirm_commits(self.ledger, self.settings, records)
        pending.commits = []
        pending.refs = []

    # -- give back ---------------------------------------------------------------

    def _owe_unsettled(self, ticks: Sequence[TickMessage]) -> None:
        """Redis went away mid-message: each of ``ticks`` not committed is owed, given
        back (due again at once, no record) by the keeper once Redis answers.

        Not given back now: that would wait out another timeout.  The message was
        acknowledged when this process took it, so nothing else brings these
        ticks back before their leases lapse.  Only a tick unheld or held by
        this message is given back: one another delivery holds, or that is done,
        is left alone.
        """
        refs = ((t.sensor, t.tick_id) for t in ticks)
        left = [ref for ref in refs if ref not in self.results]
        self.keeper.owe(left, self.holder)
        self.tally.owed += len(left)

    def give_back(self, ticks: Sequence[TickMessage]) -> None:
        """Ticks held and not committed: due again with no record, or owed when
        Redis cannot be reached now.
        """
        if not ticks:
            return
        refs = [(t.sensor, t.tick_id) for t in ticks]
        try:
            given = self.ledger.give_back(
                [(*r, None) for r in refs], time.time(), holder=self.holder
            )
        except Exception:
            self.keeper.owe(refs, self.holder)
            self.tally.owed += len(refs)
            raise
        self.tally.given_back += given
