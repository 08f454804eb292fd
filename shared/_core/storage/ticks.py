"""The tick lease: every transition of a sensor's tick, and the tick history.

Invariant 8: a sensor's tick is held by one lease (tick id, holder, expiry)
that only the scripts of ``scripts.lease`` change, each called from here:
the leader claims due ticks (``claim_due``) and publishes them
(``publish``), a process begins them (``begin``), renews them while it
evaluates (``renew``) and commits them (``commit``), or gives them back
(``give_back``, ``release``); a dead process's parent abandons them
(``abandon``); the sweep in ``claim_due`` expires a lapsed lease (a FAILURE
once a process began the tick; one never begun goes back without a record).  Every
lease time is Redis's, so the hosts' clocks never decide whether a lease
holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import redis
from redis.commands.core import Script

from lookout._base.codec import (
    decode_raw,
    encode,
    encode_script_args,
    encode_value,
)
from lookout._base.errors import CodecError
from lookout._base.fast_init import fast_init
from lookout._base.wire import RunEvent, TickRecord, TickStatus
from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import as_bytes, score
from lookout._core.storage.assets import index_call
from lookout._core.storage.claimed import ClaimedTicks, ClaimRound, read_round
from lookout._core.storage.history import (
    DEFAULT_HISTORY_AGE,
    DEFAULT_HISTORY_SIZE,
    STATUS_LETTERS,
    decode_entry,
    encode_entry,
    encode_record,
    entry_flags,
    with_flags,
)
from lookout._core.storage.run_keys import RunKeyPolicy, request_opts
from lookout._core.storage.sensors import HELD_FIELDS, SensorState, held_state
from lookout._core.streams import text

# The keys every lease script takes first (``_call``): the leases' expiries
# and the unpublished claims.
LEASE_KEYS = 2

# The six keys of every commit (COMMIT's KEYS[3] to KEYS[8]), which COMMIT_MANY
# names itself: placeholders where a commit's further keys are counted from.
_OWN_KEYS = ("",) * 6

# The arguments every commit has, in the order COMMIT_MANY takes them.
_CORE_ARGS = ("sensor", "tick", "record", "started", "next_due", "status", "reason", "fold")
_SKIPPED = TickStatus.SKIPPED.value
_FAILURE = TickStatus.FAILURE.value

# How long the leader has to publish the ticks it claimed before the sweep
# gives them back (without a record: they never reached a worker).
PUBLISH_WITHIN = 10.0


@fast_init
@dataclass(frozen=True)
class TickCommit:
    """Everything one tick writes, handed to the commit script as one unit."""

    record: TickRecord
    # (run key, encoded LaunchRequest) per request, in the order evaluated
    launches: Sequence[tuple[str | None, bytes]]
    store_cursor: bool
    cursor: bytes | None
    next_due: float | None
    # Asset events the sensor reported (SensorResult(asset_events=...)), in order:
    # appended to the event stream and their assets' streams by the commit.
    asset_events: Sequence[RunEvent] = ()
    holder: str = ""  # the lease's holder: only it may commit
    # ("add" or "del", dynamic partitions definition name, partition keys), in
    # order: applied by the commit script's DYNAMIC PARTITIONS block.
    partition_changes: Sequence[tuple[str, str, Sequence[str]]] = ()
    # The trigger payload the evaluation read (packed), removed once committed.
    payload: bytes | None = None
    # A lookout sensor's run-key lifecycle (rerun after a failed run, a
    # retention); None: Dagster's run keys, used once and kept forever.
    run_keys: RunKeyPolicy | None = None
    # False: the history's head as the evaluation read it cannot take this
    # skip in (history.may_fold), so the commit does not read it.  A hint: a
    # head changed since is at worst not folded into, never folded wrongly.
    fold: bool = True


@dataclass(frozen=True)
class InFlight:
    """A sensor's tick that is queued or running."""

    tick_id: str
    claimed_at: float | None  # None: claimed by a version that did not record it


@dataclass(frozen=True)
class Quarantine:
    """How a sensor whose evaluations kill their process is held back."""

    after: int = 3  # deaths in a row before the backoff starts
    backoff_cap: float = 3600.0  # the longest wait between its ticks, s


@dataclass(frozen=True)
class Death:
    """How a process holding ticks ended, as its parent saw it."""

    cause: str  # what the tick record says
    by_chance: bool  # killed from outside: the tick is evaluated once more
    redelivery_ttl: float  # how long the message's next delivery has to begin its ticks


@dataclass(frozen=True)
class Abandoned:
    """What a death did: the sensor being evaluated, and "failed", "retry" or ""."""

    sensor: str
    outcome: str


# (sensor, tick id): a tick as the lease scripts name it.
TickRef = tuple[str, str]


@dataclass(frozen=True)
class TakeUp:
    """What a take-up found: per tick its answer (``begin``'s) and, when held, its
    sensor's state; and the least lease the held ticks had left as it ran (s, on
    Redis's clock; the whole lease when it armed them all or held none).
    """

    answers: list[tuple[str, SensorState | None]]
    lease_left: float


def _committed(commit: TickCommit, reply: int | bytes) -> TickRecord | None:
    # 0: refused; 1: committed without requests; else the requests' flags.
    if reply == 0:
        return None
    return with_flags(commit.record, "" if reply == 1 else text(reply))


class TickLedger(Repository):
    """The tick lease's transitions, the commit of a tick, and each sensor's tick history."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        history_size: int = DEFAULT_HISTORY_SIZE,
        history_age: float = DEFAULT_HISTORY_AGE,
    ) -> None:
        super().__init__(client, keys)
        # Retention of each sensor's history: entries, and seconds (0: no bound).
        self.history_size = history_size
        self.history_age = history_age
        self._claim = self._script("lease_claim")
        self._claim_due = self._script("lease_claim_due")
        self._publish = self._script("lease_publish")
        self._begin = self._script("lease_begin")
        self._take_up = self._script("lease_take_up")
        self._renew = self._script("lease_renew")
        self._commit = self._script("lease_commit")
        self._commit_many = self._script("lease_commit_many")
        self._give_back = self._script("lease_give_back")
        self._release = self._script("lease_release")
        self._abandon = self._script("lease_abandon")
        self._clear_payload = self._script("clear_payload")
        self._unconfirmed = self._script("tick_unconfirmed")

    def _call(self, script: Script, keys: list[str], args: dict[str, Any]) -> Any:
        # Every lease script's first LEASE_KEYS keys: the leases' expiries, the unpublished.
        leases = [self.keys.inflight, self.keys.claimed]
        return script(keys=leases + keys, args=[encode_script_args(args)])

    # -- claiming ----------------------------------------------------------------

    def claim(self, name: str, tick_id: str, ttl: float, now: float = 0.0) -> str:
        """Take ``name``'s lease for ``tick_id`` (a tick by hand), held for ``ttl`` s.

        Returns the tick id that holds the lease: another one when busy.
        ``now`` (the due clock) is where a lapsed lease it expires puts the sensor.
        """
        keys = [self.keys.sensor(name), self.keys.due, self.keys.ticks(name), self.keys.events]
        args = {
            "sensor": name,
            "tick": tick_id,
            "ttl": float(ttl),
            "size": self.history_size,
            "max_age": float(self.history_age),
            "now": float(now),
        }
        return text(self._call(self._claim, keys, args))

    def claim_due(
        self,
        token: str,
        now: float,
        *,
        limit: int,
        ttl: float,
        tick_prefix: str,
        publish_within: float = PUBLISH_WITHIN,
        launch_limit: int = 0,
        launch_group: str = "",
        defer: float = 1.0,
        queue: str = "",
        queue_limit: int = 0,
        ahead: float = 0.0,
    ) -> ClaimRound | None:
        """Sweep lapsed leases, then claim up to ``limit`` due sensors, fenced by the lock.

        ``None`` when ``token`` does not hold the leader lock: nothing was
        changed.  ``tick_prefix`` names the round: the same round asked again
        (a lost reply) answers what it claimed the first time and claims
        nothing more.  The claimed ticks must be published within
        ``publish_within`` s; ``ttl`` bounds how long the round's reply is kept.
        With ``queue_limit`` messages or more in the Celery list of the tick
        queue ``queue`` nothing is claimed and the due sensors stay due
        (back-pressure: the workers are behind).
        With ``ahead`` > 0 the sensors due up to that long after ``now`` are
        claimed too (their ticks carry their due times: a worker holds each
        until then).
        With ``launch_limit`` run requests or more waiting on the launch
        stream, unread or unacknowledged by ``launch_group``, nothing is
        claimed: the due sensors wait ``defer`` s (back-pressure).  Requests
        already launched, left until the launchers trim the stream, do not
        count (without ``launch_group``, every entry does).
        """
        keys = [
            self.keys.leader,
            self.keys.due,
            self.keys.triggered,
            self.keys.claim_round(token),
            self.keys.launch,
            self.keys.deferred,
            self.keys.events,
            self.keys.celery_queue(queue),
            self.keys.lapsed,
        ]
        args = {
            "token": token,
            "now": float(now),
            "limit": int(limit),
            "round": tick_prefix,
            "hash_prefix": self.keys.sensor(""),
            "ticks_prefix": self.keys.ticks(""),
            "size": self.history_size,
            "max_age": float(self.history_age),
            "publish_within": float(publish_within),
            "round_ttl": float(ttl),
            "launch_limit": int(launch_limit),
            "launch_group": launch_group,
            "defer": float(defer),
            "queue_limit": int(queue_limit) if queue else 0,
            "ahead": float(ahead),
        }
        packed = self._call(self._claim_due, keys, args)
        return None if packed is None else read_round(packed)

    def publish(self, ticks: ClaimedTicks, ttl: float) -> int:
        """Mark ``ticks`` (of one claiming round) published: a worker has ``ttl`` s to begin
        each.  Returns how many of their leases were still there to mark.
        """
        if not ticks:
            return 0
        args = {"ttl": float(ttl), "round": ticks.round, "names": list(ticks.sensors)}
        return int(self._call(self._publish, [self.keys.published], args))

    # -- holding -----------------------------------------------------------------

    def begin(self, ticks: Sequence[TickRef], holder: str, ttl: float) -> list[str]:
        """Take up ticks for evaluation by ``holder``, each lease held ``ttl`` s from now.

        Per tick: ``""`` when ``holder`` holds it, ``"-"`` when the tick no
        longer holds the lease, else the holder that does.
        """
        if not ticks:
            return []
        args = {
            "hash_prefix": self.keys.sensor(""),
            "holder": holder,
            "ttl": float(ttl),
            "ticks": [list(t) for t in ticks],
        }
        return [text(r) for r in self._call(self._begin, [], args)]

    def take_up(
        self, ticks: Sequence[TickRef], holder: str, ttl: float, *, fresh: float | None = None
    ) -> TakeUp:
        """Begin ``ticks`` as ``begin`` does and read the state of each sensor now held,
        all in one round trip.

        ``fresh``: the ticks of a round published so lately that its leases
        have at least this long left keep them as they are, not armed again
        (``TAKE_UP``); ``None``: every held lease runs ``ttl`` s from now.
        """
        if not ticks:
            return TakeUp([], float(ttl))
        args = {
            "hash_prefix": self.keys.sensor(""),
            "ticks_prefix": self.keys.ticks(""),
            "holder": holder,
            "ttl": float(ttl),
            "ticks": [part for t in ticks for part in t],
            "fields": list(HELD_FIELDS),
        }
        if fresh is not None:
            args["fresh"] = float(fresh)
        left, rows = decode_raw(self._call(self._take_up, [self.keys.published], args))
        answers = [
            (row[0].decode(), held_state(row[2:], name, tick) if len(row) > 1 else None)
            for row, (name, tick) in zip(rows, ticks, strict=True)
        ]
        return TakeUp(answers, float(left))

    def renew(
        self, ticks: Sequence[TickRef], holder: str, ttl: float, *, restart: bool = False
    ) -> list[bool]:
        """Extend ``holder``'s leases to ``ttl`` s from now; per tick, whether it still holds.

        ``restart``: an evaluation of the tick starts now (its death would be
        counted from here).
        """
        if not ticks:
            return []
        args = {
            "hash_prefix": self.keys.sensor(""),
            "holder": holder,
            "ttl": float(ttl),
            "restart": restart,
            "ticks": [list(t) for t in ticks],
        }
        return [bool(r) for r in self._call(self._renew, [], args)]

    # -- ending ------------------------------------------------------------------

    def give_back(
        self,
        ticks: Sequence[tuple[str, str, float | None]],
        now: float,
        *,
        holder: str = "",
        wait: bool = False,
    ) -> int:
        """Give back ticks ``(sensor, tick id, due at or None)`` not evaluated, with no record.

        Only a lease unheld or held by ``holder``.  A RUNNING sensor is due
        again at ``due at``, else as soon as its interval allows from ``now``,
        or (``wait``) a whole interval from now.  Returns how many went back.
        """
        if not ticks:
            return 0
        args = {
            "hash_prefix": self.keys.sensor(""),
            "holder": holder,
            "now": float(now),
            "wait": wait,
            "ticks": [[n, t, "" if d is None else repr(d)] for n, t, d in ticks],
        }
        return int(self._call(self._give_back, [self.keys.due], args))

    def release(self, name: str, tick_id: str, holder: str = "") -> bool:
        """Drop the lease if ``tick_id`` holds it (unheld or ``holder``'s); nothing is due."""
        keys = [self.keys.sensor(name)]
        args = {"sensor": name, "tick": tick_id, "holder": holder}
        return bool(self._call(self._release, keys, args))

    def abandon(
        self,
        ticks: Sequence[TickRef],
        holder: str,
        death: Death,
        now: float,
        quarantine: Quarantine = Quarantine(),
    ) -> Abandoned:
        """The process ``holder`` died holding some of ``ticks``.

        They go back to published, for the message's next delivery; the one
        it was evaluating fails naming ``death`` (or, for a death by chance
        the first time, is evaluated again).
        """
        if not ticks:
            return Abandoned("", "")
        args = {
            "hash_prefix": self.keys.sensor(""),
            "ticks_prefix": self.keys.ticks(""),
            "size": self.history_size,
            "max_age": float(self.history_age),
            "holder": holder,
            "cause": death.cause,
            "retry": death.by_chance,
            "ttl": float(death.redelivery_ttl),
            "now": float(now),
            "quarantine_after": quarantine.after,
            "backoff_cap": float(quarantine.backoff_cap),
            "ticks": [list(t) for t in ticks],
        }
        sensor, outcome = self._call(self._abandon, [self.keys.due, self.keys.events], args)
        return Abandoned(text(sensor), text(outcome))

    # -- committing --------------------------------------------------------------

    def commit(self, commit: TickCommit) -> TickRecord | None:
        """Commit a tick atomically; ``None`` when another tick holds the lease."""
        keys, args = self._commit_call(commit)
        record = _committed(commit, self._call(self._commit, keys, args))
        self._clear_payloads([commit], [record])
        return record

    def commit_many(self, commits: Sequence[TickCommit]) -> list[TickRecord | None]:
        """Commit several ticks in one script call; each is still atomic and at most
        once on its own (one whose lease was lost is refused, the others commit).
        """
        if not commits:
            return []
        # KEYS: the shared keys, then every other key the ticks name, once; a
        # tick's own three keys the script names from the prefixes.  Each
        # tick's ``k`` lists where its further COMMIT keys (KEYS[9] on) are.
        shared = [self.keys.launch, self.keys.due, self.keys.counters]
        index = {k: LEASE_KEYS + i + 1 for i, k in enumerate(shared)}
        holder = commits[0].holder
        # Flat: nine values a tick (the eight of every commit, then the rest or
        # False), one table for the script to decode rather than one per tick.
        calls: list[Any] = []
        for commit in commits:
            keys = list(_OWN_KEYS)
            core, more = self._commit_args(commit, keys, lean=True)
            if len(keys) > len(_OWN_KEYS):
                more["k"] = [
                    index.setdefault(k, LEASE_KEYS + len(index) + 1) for k in keys[len(_OWN_KEYS) :]
                ]
            if commit.holder != holder:
                more["holder"] = commit.holder
            calls.extend(core)
            calls.append(more or False)
        args = {
            "hash_prefix": self.keys.sensor(""),
            "ticks_prefix": self.keys.ticks(""),
            "run_keys_prefix": self.keys.run_keys(""),
            "holder": holder,
            "size": self.history_size,
            "max_age": float(self.history_age),
            # The flush's earliest and latest start: whether a history's tail
            # can be too old is told from these, without a start per tick.
            "first": min(float(c.record.started_at) for c in commits),
            "last": max(float(c.record.started_at) for c in commits),
            "commits": calls,
        }
        replies = self._call(self._commit_many, list(index), args)
        records = [_committed(c, reply) for c, reply in zip(commits, replies, strict=True)]
        self._clear_payloads(commits, records)
        return records

    def _clear_payloads(
        self, commits: Sequence[TickCommit], records: Sequence[TickRecord | None]
    ) -> None:
        """Remove the trigger payloads committed ticks read (a round trip only if any did).

        After the commit, not in it: a process that dies in between leaves the
        payload for the next tick, read at least once rather than lost.
        """
        read = [
            (c.record.sensor, c.payload)
            for c, r in zip(commits, records, strict=True)
            if r is not None and c.payload is not None
        ]
        if not read:
            return
        pipe = self.client.pipeline(transaction=False)
        for name, payload in read:
            self._clear_payload(keys=[self.keys.sensor(name)], args=[payload], client=pipe)
        pipe.execute()

    def _commit_call(self, commit: TickCommit) -> tuple[list[str], dict[str, Any]]:
        name = commit.record.sensor
        keys = [
            self.keys.sensor(name),
            self.keys.ticks(name),
            self.keys.launch,
            self.keys.due,
            self.keys.run_keys(name),
            self.keys.counters,  # KEYS[8], for the script's [counters] block
        ]
        core, args = self._commit_args(commit, keys, lean=False)
        args.update(
            zip(_CORE_ARGS, core, strict=True),
            holder=commit.holder,
            size=self.history_size,
            max_age=float(self.history_age),
        )
        return keys, args

    def _commit_args(
        self, commit: TickCommit, keys: list[str], *, lean: bool
    ) -> tuple[list[Any], dict[str, Any]]:
        """COMMIT's arguments but holder, size and max_age: those of every
        commit by position (``_CORE_ARGS``), the others by name.  ``keys`` (the
        six of every commit) gains the keys this tick adds.  ``lean``
        (COMMIT_MANY) leaves out what the script fills in: no requests, no
        cursor to store.
        """
        record = commit.record
        name = record.sensor
        status = record.status
        entry, size = encode_entry(record)
        core: list[Any] = [
            name,
            record.tick_id,
            entry,
            repr(record.started_at),
            "" if commit.next_due is None else repr(commit.next_due),
            STATUS_LETTERS[status],  # counted by the [counters] block
            # What a skip's fold compares, so that the script need not unpack the
            # record; not sent when it cannot fold (nothing compares it).
            False
            if record.skip_reason is None or status != _SKIPPED or not commit.fold
            else record.skip_reason,
            # A skip that may fold: the length of its record (the entry's first
            # bytes), which lets write_record splice the run in rather than
            # unpack the record and pack it again.
            size if commit.fold and status == _SKIPPED else commit.fold,
        ]
        args: dict[str, Any] = {}
        if commit.store_cursor or not lean:
            args["store_cursor"] = commit.store_cursor
            args["cursor"] = commit.cursor if commit.cursor is not None else b""
        if commit.launches or not lean:
            args["requests"] = request_opts(commit.run_keys, commit.launches)
        if commit.asset_events or not lean:
            args["events"] = self._asset_event_call(commit.asset_events, keys)
        if commit.partition_changes or not lean:
            args["partitions"] = self._partition_call(commit.partition_changes, keys)
        if commit.run_keys is not None:
            args["run_keys"] = commit.run_keys.script_opts(self.keys, name)
        if status == _FAILURE:
            # The [failure event] block: a failed tick reports no asset events,
            # so the events stream is KEYS[9] here too.
            if self.keys.events not in keys:
                keys.append(self.keys.events)
            args["failure"] = record.error or ""
        return core, args

    def _partition_call(
        self, changes: Sequence[tuple[str, str, Sequence[str]]], keys: list[str]
    ) -> list[list[Any]]:
        # The commit script's [dynamic partitions] block: KEYS gains each zset
        # the tick changes, A.partitions an op, that zset's index in KEYS and
        # the partition keys per change, in order.
        values: list[list[Any]] = []
        for op, definition, partition_keys in changes:
            zset = self.keys.partitions(definition)
            if zset not in keys:
                keys.append(zset)
            # KEYS in Lua count from 1, after the lease keys _call puts first.
            values.append([op, LEASE_KEYS + keys.index(zset) + 1, list(partition_keys)])
        return values

    def _asset_event_call(self, events: Sequence[RunEvent], keys: list[str]) -> list[list[Any]]:
        # The commit script's [asset events] block: KEYS gains the events
        # stream and two keys per event, A.events a payload and partition each.
        if events:
            keys.append(self.keys.events)
        values: list[list[Any]] = []
        for event in events:
            streams, partition = index_call(self.keys, event)
            keys += streams
            values.append([encode(event), partition])
        return values

    def mark_unconfirmed(self, records: Sequence[TickRecord], cause: str, depth: int = 50) -> int:
        """Report committed ticks whose commit the replicas did not confirm as FAILURE.

        Each one's history entry (among its sensor's newest ``depth``) gets
        status FAILURE and ``cause`` as its error; the commit's effects stay.
        Returns how many were found and marked.
        """
        marked = 0
        for record in records:
            entries = self.client.lrange(self.keys.ticks(record.sensor), 0, depth - 1)
            for raw in entries:
                old = as_bytes(raw)
                try:
                    stored = decode_entry(old, record.sensor)
                except CodecError:
                    continue
                if stored.tick_id != record.tick_id:
                    continue
                # The entry is the record, then its accepted flags if it asked for runs.
                flags = entry_flags(old)
                failed = replace(stored, status=TickStatus.FAILURE.value, error=cause)
                new = encode_record(failed) + (encode_value(flags) if flags else b"")
                keys = [self.keys.ticks(record.sensor)]
                args = {"old": old, "new": new, "depth": depth}
                marked += int(self._unconfirmed(keys=keys, args=[encode_script_args(args)]))
                break
        return marked

    # -- reading -----------------------------------------------------------------

    def inflight_deadlines(self, names: Sequence[str]) -> list[float | None]:
        """Each sensor's lease expiry (Redis time, unix s), ``None`` where it has none."""
        if not names:
            return []
        return [score(s) for s in self.client.zmscore(self.keys.inflight, list(names))]

    def inflight_tick(self, name: str) -> InFlight | None:
        """The tick of ``name`` queued or running, with its claim time; ``None``: none."""
        tick_id, claimed_at = self.client.hmget(self.keys.sensor(name), ("inflight", "claimed_at"))
        if tick_id is None:
            return None
        return InFlight(text(tick_id), float(claimed_at) if claimed_at else None)

    def holder(self, name: str) -> str | None:
        """The process holding ``name``'s lease (``None``: none, or not begun)."""
        raw = self.client.hget(self.keys.sensor(name), "holder")
        return None if raw is None else text(raw)

    def history(self, name: str, limit: int = 20) -> list[TickRecord]:
        """A sensor's tick history, newest first (a run of like skips as one record)."""
        entries = self.client.lrange(self.keys.ticks(name), 0, limit - 1)
        return [decode_entry(as_bytes(e), name) for e in entries]
