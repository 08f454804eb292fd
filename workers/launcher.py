"""The launcher: launch stream -> one run per request -> the run queue (invariant 4).

Entries are read with a consumer group, so each is delivered to one launcher
and stays pending until acknowledged; entries a dead launcher left pending are
claimed by another after ``Settings.launch_claim_idle`` (XAUTOCLAIM).  Each
entry is handled in this order, and every step may be repeated safely:

1. create the run with a script that does nothing when it exists (the run id
   is derived from the request id);
2. submit the run id to the run queue unless the run record says it was
   enqueued, then mark it enqueued;
3. acknowledge the entry.

A launcher that dies between 1 and 2 leaves the run QUEUED and not enqueued:
whoever claims the entry enqueues it.  Dying between 2 and its mark enqueues
the run twice; the run task starts a run only from QUEUED, so it still runs
once.  When Redis or the broker is away for a moment, the launcher waits with
backoff (invariant 7) and then finishes the entries it had read, its own
pending ones, before reading new ones.

Runs go to the run queue alone while few are waiting there, so idle
executors take them in parallel; once ``Settings.run_pack_size`` runs are
QUEUED, several go in one message (a Celery message costs more than a short
run), executed one after another by the worker that takes it.

Back-pressure: while ``Settings.run_queue_limit`` runs or more are QUEUED
(handed out, not started) the launcher reads no new entries, and reads no
more than the room left below the bound: requests wait on the launch stream,
nothing is lost, and when that stream is over its own limit the scheduler
defers ticks, so an overload slows the sensors instead of burying the
executors.  The launcher says it is paused in its heartbeat; the monitor shows
the bound against the QUEUED runs (``lookout_launch_paused``).

Failed runs to be retried (``lookout.workers.retries``) are taken off their
list every round, their retries created once per attempt and enqueued the
same way.  Housekeeping rides on the claim timer: both streams are trimmed
(the launch stream every second besides, while entries are launched),
finished runs older than ``Settings.run_retention_seconds`` are deleted (a
bounded batch each time), and a run still QUEUED ``Settings.run_resubmit_after``
after it was handed to the run queue is handed to it again: its message was
lost (a broker that lost data, say).  That cannot run it twice: a run starts
only from QUEUED, once.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import redis

from lookout._author.definitions import Definitions
from lookout._base.codec import decode
from lookout._base.errors import CodecError, LookoutError
from lookout._base.wire import RUN_TASK, DeadLetter, LaunchRequest, RunRecord
from lookout._core.settings import Settings
from lookout._core.storage import (
    DeadLetterStore,
    EventStream,
    LaunchStream,
    RunStore,
    StreamEntry,
)
from lookout._core.transient import TRANSIENT_ERRORS
from lookout.workers.retries import Retrier
from lookout.workers.runs import QUEUED, new_run, status_event

log = logging.getLogger(__name__)


class Submit(Protocol):
    """Hands run ids to the run queue, up to ``pack`` of them per message."""

    def __call__(self, run_ids: Sequence[str], /, pack: int = 1) -> None: ...


# Redis or the broker (kombu raises its own error for a broker it cannot
# reach) briefly away: wait and carry on (invariant 7).
TRANSIENT = TRANSIENT_ERRORS
# Runs deleted, or looked at for re-submission, per status per housekeeping round.
HOUSEKEEPING_BATCH = 500
# While paused by back-pressure, the run queue is looked at this often (s).
PAUSE_POLL = 0.05
# Pausing is logged at most this often (s).
PAUSED_LOG_EVERY = 60.0
# The launch stream is trimmed of launched entries this often (s), between
# housekeeping rounds too: at a thousand runs a second, the claim timer's ten
# seconds would leave ten thousand done entries in Redis.
TRIM_EVERY = 1.0


class MalformedLaunchError(LookoutError):
    """A launch stream entry is not a well-formed ``LaunchRequest``."""


def parse_launch(fields: Mapping[bytes, bytes]) -> LaunchRequest:
    """The ``LaunchRequest`` in a stream entry, checking the fields a run needs."""
    if b"d" not in fields:
        raise MalformedLaunchError(f"entry has no 'd' field (fields: {sorted(fields)!r:.200})")
    try:
        launch = decode(LaunchRequest, fields[b"d"])
    except CodecError as exc:
        raise MalformedLaunchError(str(exc)) from exc
    for name in ("request_id", "sensor", "tick_id", "job_name"):
        value = getattr(launch, name)
        if not isinstance(value, str) or not value:
            raise MalformedLaunchError(
                f"LaunchRequest.{name} must be a non-empty string: {value!r}"
            )
    if not isinstance(launch.run_config, dict):
        raise MalformedLaunchError(f"LaunchRequest.run_config must be a map: {launch.run_config!r}")
    if not isinstance(launch.tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in launch.tags.items()
    ):
        raise MalformedLaunchError(f"LaunchRequest.tags must map str to str: {launch.tags!r:.200}")
    selection = launch.asset_selection
    if selection is not None and (
        not isinstance(selection, list) or not all(isinstance(k, str) for k in selection)
    ):
        raise MalformedLaunchError(
            f"LaunchRequest.asset_selection must be a list of asset keys: {selection!r:.200}"
        )
    return launch


def consumer_name() -> str:
    """A name no other launcher has, now or later (a restarted one must not inherit entries)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Launcher:
    """Turns launch stream entries into runs for one ``Definitions``.

    It reads the launch stream, creates and sweeps runs, trims the event
    stream, and dead-letters entries it cannot read.
    """

    def __init__(
        self,
        definitions: Definitions,
        settings: Settings,
        submit: Submit,
        *,
        launches: LaunchStream,
        runs: RunStore,
        events: EventStream,
        dead_letters: DeadLetterStore,
        consumer: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.definitions = definitions
        self.launches = launches
        self.runs = runs
        self.events = events
        self.dead_letters = dead_letters
        self.settings = settings
        self.submit = submit
        self.consumer = consumer or consumer_name()
        self.clock = clock
        self.launched = 0
        self.resubmitted = 0
        self.deleted = 0
        self._ready = False
        self._own_pending = False  # entries read before an error wait in our name
        self._sweep_from = 0
        self._orphans_from = 0
        self.paused = False  # the run queue is at its bound: no entry is read
        self.pauses = 0
        self._said_paused = -PAUSED_LOG_EVERY
        self._queued = 0  # runs QUEUED when last looked at
        self._untrimmed = 0  # entries handled since the launch stream was last trimmed
        self.retrier = Retrier(definitions, runs, submit, self._batch)

    def run(self, stop: threading.Event, block: float = 1.0) -> None:
        """Launch until ``stop`` is set; Redis and broker errors are waited out with backoff."""
        claim_every = max(0.1, min(self.settings.launch_claim_idle / 2, 10.0))
        next_claim = next_trim = 0.0
        backoff = 0.1
        while not stop.is_set():
            try:
                self._prepare()
                if time.monotonic() >= next_claim:
                    self.housekeeping()
                    next_claim = time.monotonic() + claim_every
                    next_trim = time.monotonic() + TRIM_EVERY
                elif self._untrimmed and time.monotonic() >= next_trim:
                    self._trim_launches()
                    next_trim = time.monotonic() + TRIM_EVERY
                self.retrier.round(self.clock())
                if self.launch_round(block) == 0 and self.paused:
                    stop.wait(PAUSE_POLL)
                backoff = 0.1
            # Transient first: some are ResponseErrors too (a read-only replica
            # mid-failover, a script a restarted Redis forgot).
            except TRANSIENT as exc:
                log.warning(
                    "Redis or the broker unavailable (%s); retrying in %.1f s", exc, backoff
                )
                self._own_pending = True
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            except redis.ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("the launchers' group is gone (Redis lost its data?); recreating it")
                self._ready = False

    @property
    def _batch(self) -> int:
        return max(1, self.settings.launch_batch)

    def launch_round(self, block: float) -> int:
        """Read new entries, as many as the run queue has room for, and launch them.

        Reads nothing while the run queue is at its bound (``paused``), and
        once paused, until there is room for a whole read again (at most
        half the bound): an overload then reads full batches, not one entry
        at a time.  Returns how many entries it handled.
        """
        room = self._room()
        limit = self.settings.run_queue_limit
        wanted = min(self._batch, max(1, limit // 2)) if self.paused else 1
        self._set_paused(room < wanted)
        if self.paused:
            return 0
        count = min(self._batch, room)
        return self.handle(
            self.launches.read(self.settings.launch_group, self.consumer, count, block)
        )

    def _room(self) -> int:
        """How many more runs the run queue takes below its bound (a batch: no bound)."""
        self._queued = self.runs.queued_count()
        limit = self.settings.run_queue_limit
        if limit <= 0:
            return self._batch
        return max(0, limit - self._queued)

    def _set_paused(self, paused: bool) -> None:
        if paused and not self.paused:
            self.pauses += 1
            # Under a sustained overload it pauses many times a minute: said once a minute.
            now = time.monotonic()
            if now - self._said_paused >= PAUSED_LOG_EVERY:
                self._said_paused = now
                log.warning(
                    "%d runs are QUEUED, at the bound LOOKOUT_RUN_QUEUE_LIMIT=%d: launch requests "
                    "wait on the launch stream until executors take some (paused %d times)",
                    self._queued,
                    self.settings.run_queue_limit,
                    self.pauses,
                )
        self.paused = paused

    def _pack(self) -> int:
        """Runs per message: several once enough wait that no executor is left idle by it."""
        size = max(1, self.settings.run_pack_size)
        return size if self._queued >= size else 1

    def _prepare(self) -> None:
        """Join the group, and finish what this launcher read before an error."""
        if not self._ready:
            self.launches.ensure_group(self.settings.launch_group)
            self._ready = True
        while self._own_pending:
            entries = self.launches.own_pending(
                self.settings.launch_group, self.consumer, self._batch
            )
            self.handle(entries)
            self._own_pending = len(entries) >= self._batch

    def housekeeping(self) -> None:
        """Claim dead launchers' entries, trim the streams, delete old runs, re-submit lost ones."""
        self.claim_pending()
        self._trim_launches()
        self.events.trim(self.settings.stream_max_entries)
        now = self.clock()
        deleted = self.runs.delete_finished(
            now - self.settings.run_retention_seconds, HOUSEKEEPING_BATCH
        )
        if deleted:
            log.info("deleted %d finished runs older than the retention", deleted)
            self.deleted += deleted
        self.resubmit_lost(now)

    def _trim_launches(self) -> None:
        self._untrimmed = 0
        self.launches.trim(self.settings.launch_group)

    def resubmit_lost(self, now: float) -> int:
        """Hand again to the run queue the runs whose message was lost; how many.

        Those still QUEUED long after they were handed out, and those left
        STARTED by an executor whose lease lapsed (a delivery ends them as
        FAILURE): each at most once per ``run_resubmit_after``.
        """
        cutoff = now - self.settings.run_resubmit_after
        queued, self._sweep_from = self.runs.stale_queued(
            cutoff, HOUSEKEEPING_BATCH, self._sweep_from
        )
        orphaned, self._orphans_from = self.runs.stale_started(
            cutoff, HOUSEKEEPING_BATCH, self._orphans_from
        )
        lost = queued + orphaned
        if lost:
            log.warning(
                "%d runs still QUEUED and %d left STARTED by a vanished executor %.0f s after "
                "they were handed to the run queue (message lost?): handing them again",
                len(queued),
                len(orphaned),
                self.settings.run_resubmit_after,
            )
            # One per message: a rare path, and each lost run gets its own executor.
            self.submit(lost)
            self.runs.mark_enqueued(lost, now)
            self.resubmitted += len(lost)
        return len(lost)

    def claim_pending(self) -> int:
        """Launch the entries other launchers left pending too long; returns how many."""
        total = 0
        while True:
            entries = self.launches.claim(
                self.settings.launch_group,
                self.consumer,
                self.settings.launch_claim_idle,
                self._batch,
            )
            if entries:
                log.info("claimed %d launch entries left pending by another launcher", len(entries))
            total += self.handle(entries)
            if len(entries) < self._batch:
                return total

    def handle(self, entries: Sequence[StreamEntry]) -> int:
        """Create, enqueue and acknowledge a batch of entries; returns how many it handled.

        One round trip creates every run of the batch, then their messages
        go out (packed, see ``_pack``), then one round trip marks them
        enqueued and one acknowledges the whole batch.
        """
        if not entries:
            return 0
        # With LOOKOUT_REDIS_MIN_REPLICAS: launch only entries (and so run keys)
        # the replicas hold, else raise a transient error: they stay pending.
        self.launches.confirm_replicas(
            self.settings.redis_min_replicas, self.settings.redis_replica_wait
        )
        now = self.clock()
        records: list[RunRecord] = []
        for entry_id, fields in entries:
            try:
                launch = parse_launch(fields)
            except MalformedLaunchError as exc:
                self._bury(entry_id, fields, str(exc))
                continue
            records.append(new_run(launch, self.definitions, now))
        created = self.runs.create([(r, status_event(r, r.status, now, r.error)) for r in records])
        for record in records:
            if record.error:
                log.warning("run %s failed at launch: %s", record.run_id, record.error)
        to_submit = [c.run_id for c in created if c.status == QUEUED and not c.enqueued]
        if to_submit:
            self.submit(to_submit, pack=self._pack())
            self.runs.mark_enqueued(to_submit, now)
            self._queued += len(to_submit)
        self.launches.ack(self.settings.launch_group, [eid for eid, _ in entries])
        self._untrimmed += len(entries)
        self.launched += sum(c.created for c in created)
        return len(entries)

    def _bury(self, entry_id: str, fields: Mapping[bytes, bytes], reason: str) -> None:
        log.error("dead-lettered launch entry %s: %s", entry_id, reason)
        payload = fields.get(b"d", b"") or repr(dict(fields)).encode()
        letter = DeadLetter("stream:launch", reason, payload, self.clock(), entry_id)
        self.dead_letters.add(letter, self.settings.dead_letter_max)


def packs(run_ids: Sequence[str], size: int) -> list[list[str]]:
    """``run_ids`` in order, cut into as few messages of at most ``size`` as can be, evenly."""
    if not run_ids:
        return []
    count = math.ceil(len(run_ids) / max(1, size))
    cuts = [round(i * len(run_ids) / count) for i in range(count + 1)]
    return [list(run_ids[a:b]) for a, b in itertools.pairwise(cuts)]


def run_submitter(app: Any, settings: Settings) -> Submit:
    """Submit run ids to the run queue through ``app``.

    A run alone is the message's one argument and its task id; a pack of
    runs is one argument, the list of their ids, under a task id of its own.
    """

    def submit(run_ids: Sequence[str], /, pack: int = 1) -> None:
        with app.producer_or_acquire() as producer:
            for ids in packs(run_ids, pack):
                one = len(ids) == 1
                app.send_task(
                    RUN_TASK,
                    args=[ids[0] if one else ids],
                    task_id=ids[0] if one else str(uuid.uuid4()),
                    queue=settings.run_queue,
                    producer=producer,
                )

    return submit
