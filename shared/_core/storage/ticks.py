"""The tick ledger: in-flight marks, taking a tick up, giving it back, committing it, history.

Invariant 8's lease over a tick: claimed (``claim``), taken up by its
evaluator (``begin_evaluations``), given back (``give_back``, ``release``)
and committed (``commit``), each one Lua script of ``scripts.ticks``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from lookout._base.codec import encode
from lookout._base.wire import TickRecord
from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import as_bytes, score
from lookout._core.storage.history import decode_entry, with_flags
from lookout._core.storage.sensors import STATE_FIELDS, SensorState, read_state
from lookout._core.streams import text


@dataclass(frozen=True)
class TickCommit:
    """Everything one tick writes, handed to the commit script as one unit."""

    record: TickRecord
    # (run key, encoded LaunchRequest) per request, in the order evaluated
    launches: Sequence[tuple[str | None, bytes]]
    store_cursor: bool
    cursor: bytes | None
    next_due: float | None
    # The trigger payload the evaluation read (packed), removed once committed.
    payload: bytes | None = None


@dataclass(frozen=True)
class InFlight:
    """A sensor's tick that is queued or running."""

    tick_id: str
    claimed_at: float | None  # None: claimed by a version that did not record it


def _committed(commit: TickCommit, reply: Sequence[Any]) -> TickRecord | None:
    done, flags = reply
    if not done:
        return None
    return with_flags(commit.record, text(flags))


class TickLedger(Repository):
    """In-flight marks and deadlines, the commit of a tick, and each sensor's tick history."""

    def __init__(self, client: redis.Redis, keys: Keys, history_size: int = 1000) -> None:
        super().__init__(client, keys)
        self.history_size = history_size
        self._claim = self._script("claim")
        self._release = self._script("release")
        self._give_back = self._script("give_back")
        self._begin_eval = self._script("begin_eval")
        self._commit = self._script("commit")
        self._clear_payload = self._script("clear_payload")

    # -- the in-flight mark ----------------------------------------------------

    def claim(self, name: str, tick_id: str, now: float, deadline: float) -> str:
        """Mark ``tick_id`` in flight; returns the tick id that holds the mark."""
        keys = [self.keys.sensor(name), self.keys.inflight, self.keys.due]
        return text(self._claim(keys=keys, args=[name, tick_id, repr(now), repr(deadline)]))

    def release(self, name: str, tick_id: str) -> bool:
        """Drop the in-flight mark if ``tick_id`` holds it."""
        keys = [self.keys.sensor(name), self.keys.inflight]
        return bool(self._release(keys=keys, args=[name, tick_id]))

    def give_back(self, name: str, tick_id: str, now: float, *, wait: bool = False) -> bool:
        """Drop the mark of a tick not evaluated, writing no record; the sensor is due again.

        Due as soon as its interval allows, or (``wait``) a whole interval
        from now.  ``False`` when ``tick_id`` no longer held the mark.
        """
        keys = [self.keys.sensor(name), self.keys.inflight, self.keys.due]
        args = [name, tick_id, repr(now), "1" if wait else "0"]
        return bool(self._give_back(keys=keys, args=args) != 0)

    def begin_evaluations(
        self, ticks: Sequence[tuple[str, str]], me: str, dead: Mapping[str, str] | None = None
    ) -> list[str]:
        """Take up ticks ``(sensor, tick id)`` for evaluation by ``me``, in one round trip.

        Per tick: ``""`` when ``me`` may evaluate it, ``"-"`` when it no longer
        holds its mark, else the evaluator that already holds it.  ``dead``
        maps a sensor to a holder known to be dead, which ``me`` takes over.
        """
        if not ticks:
            return []
        dead = dead or {}
        pipe = self.client.pipeline(transaction=False)
        for name, tick_id in ticks:
            args = [tick_id, me, dead.get(name, "")]
            self._begin_eval(keys=[self.keys.sensor(name)], args=args, client=pipe)
        return [text(r) for r in pipe.execute()]

    def inflight_deadlines(self, names: Sequence[str]) -> list[float | None]:
        """Each sensor's in-flight deadline (unix s), ``None`` where it has no mark."""
        if not names:
            return []
        return [score(s) for s in self.client.zmscore(self.keys.inflight, list(names))]

    def states_and_deadlines(
        self, names: Sequence[str]
    ) -> tuple[list[SensorState], list[float | None]]:
        """Each sensor's state and in-flight deadline (``None``: no mark), in one round
        trip: what a worker reads before it evaluates a message's ticks.
        """
        if not names:
            return [], []
        pipe = self.client.pipeline(transaction=False)
        for name in names:
            pipe.hmget(self.keys.sensor(name), STATE_FIELDS)
        pipe.zmscore(self.keys.inflight, list(names))
        *fields, scores = pipe.execute()
        return [read_state(f) for f in fields], [score(s) for s in scores]

    def inflight_tick(self, name: str) -> InFlight | None:
        """The tick of ``name`` queued or running, with its claim time; ``None``: none."""
        tick_id, claimed_at = self.client.hmget(self.keys.sensor(name), ("inflight", "claimed_at"))
        if tick_id is None:
            return None
        return InFlight(text(tick_id), float(claimed_at) if claimed_at else None)

    # -- committing --------------------------------------------------------------

    def commit(self, commit: TickCommit) -> TickRecord | None:
        """Commit a tick atomically; ``None`` when it was already committed or superseded."""
        keys, args = self._commit_call(commit)
        record = _committed(commit, self._commit(keys=keys, args=args))
        self._clear_payloads([commit], [record])
        return record

    def commit_many(self, commits: Sequence[TickCommit]) -> list[TickRecord | None]:
        """Commit several ticks in one round trip; each is still atomic on its own."""
        if not commits:
            return []
        # EVALSHA straight into the pipeline: a script called through the
        # pipeline makes redis-py ask SCRIPT EXISTS first, one more round trip
        # per flush.  A server that lost the script (a restart) answers NOSCRIPT
        # and ran nothing for that commit: it is loaded and those commits retried.
        script = self._commit
        pipe = self.client.pipeline(transaction=False)
        for commit in commits:
            keys, args = self._commit_call(commit)
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        replies = pipe.execute(raise_on_error=False)
        for i, reply in enumerate(replies):
            if isinstance(reply, redis.exceptions.NoScriptError):
                keys, args = self._commit_call(commits[i])
                replies[i] = script(keys=keys, args=args)
        for reply in replies:
            if isinstance(reply, Exception):
                raise reply
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

    def _commit_call(self, commit: TickCommit) -> tuple[list[str], list[Any]]:
        record = commit.record
        name = record.sensor
        keys = [
            self.keys.sensor(name),
            self.keys.ticks(name),
            self.keys.launch,
            self.keys.inflight,
            self.keys.due,
            self.keys.run_keys(name),
        ]
        args: list[Any] = [
            record.tick_id,
            "1" if commit.store_cursor else "0",
            commit.cursor if commit.cursor is not None else b"",
            encode(record),
            str(self.history_size),
            "" if commit.next_due is None else repr(commit.next_due),
            name,
            str(len(commit.launches)),
        ]
        for run_key, payload in commit.launches:
            args += ["0", "", payload] if run_key is None else ["1", run_key, payload]
        args.append(repr(record.started_at))  # last: the request triples keep their places
        return keys, args

    # -- history -----------------------------------------------------------------

    def history(self, name: str, limit: int = 20) -> list[TickRecord]:
        """A sensor's tick history, newest first."""
        entries = self.client.lrange(self.keys.ticks(name), 0, limit - 1)
        return [decode_entry(as_bytes(e)) for e in entries]
