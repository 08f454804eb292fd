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

Failed runs to be retried (``lookout.workers.retries``) are taken off their
list every round, their retries created once per attempt and enqueued the
same way.  Housekeeping rides on the claim timer: both streams are trimmed, finished
runs older than ``Settings.run_retention_seconds`` are deleted (a bounded
batch each time), and a run still QUEUED ``Settings.run_resubmit_after``
after it was handed to the run queue is handed to it again: its message was
lost (a broker that lost data, say).  That cannot run it twice: a run starts
only from QUEUED, once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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

# Hands run ids to the run queue.
Submit = Callable[[Sequence[str]], None]

# Redis or the broker (kombu raises its own error for a broker it cannot
# reach) briefly away: wait and carry on (invariant 7).
TRANSIENT = TRANSIENT_ERRORS
# Runs deleted, or looked at for re-submission, per status per housekeeping round.
HOUSEKEEPING_BATCH = 500


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
        self.retrier = Retrier(definitions, runs, submit, self._batch)

    def run(self, stop: threading.Event, block: float = 1.0) -> None:
        """Launch until ``stop`` is set; Redis and broker errors are waited out with backoff."""
        claim_every = max(0.1, min(self.settings.launch_claim_idle / 2, 10.0))
        next_claim = 0.0
        backoff = 0.1
        while not stop.is_set():
            try:
                self._prepare()
                if time.monotonic() >= next_claim:
                    self.housekeeping()
                    next_claim = time.monotonic() + claim_every
                self.retrier.round(self.clock())
                self.handle(
                    self.launches.read(
                        self.settings.launch_group, self.consumer, self._batch, block
                    )
                )
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
        self.launches.trim(self.settings.launch_group)
        self.events.trim(self.settings.stream_max_entries)
        now = self.clock()
        deleted = self.runs.delete_finished(
            now - self.settings.run_retention_seconds, HOUSEKEEPING_BATCH
        )
        if deleted:
            log.info("deleted %d finished runs older than the retention", deleted)
            self.deleted += deleted
        self.resubmit_lost(now)

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
        """Create, enqueue and acknowledge a batch of entries; returns how many it handled."""
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
            self.submit(to_submit)
            self.runs.mark_enqueued(to_submit, now)
        self.launches.ack(self.settings.launch_group, [eid for eid, _ in entries])
        self.launched += sum(c.created for c in created)
        return len(entries)

    def _bury(self, entry_id: str, fields: Mapping[bytes, bytes], reason: str) -> None:
        log.error("dead-lettered launch entry %s: %s", entry_id, reason)
        payload = fields.get(b"d", b"") or repr(dict(fields)).encode()
        letter = DeadLetter("stream:launch", reason, payload, self.clock(), entry_id)
        self.dead_letters.add(letter, self.settings.dead_letter_max)


def run_submitter(app: Any, settings: Settings) -> Submit:
    """Submit run ids to the run queue through ``app`` (the task id is the run id)."""

    def submit(run_ids: Sequence[str]) -> None:
        with app.producer_or_acquire() as producer:
            for run_id in run_ids:
                app.send_task(
                    RUN_TASK,
                    args=[run_id],
                    task_id=run_id,
                    queue=settings.run_queue,
                    producer=producer,
                )

    return submit
