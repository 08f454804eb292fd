"""Runs: their records and indexes, status moves with their events, and the executor's lease."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import redis

from lookout._base.codec import decode, decode_value, encode, encode_value
from lookout._base.wire import RunEvent, RunRecord
from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import fields_of
from lookout._core.storage.assets import index_call, is_asset_event
from lookout._core.streams import text as _text

RUN_STATUSES = ("QUEUED", "STARTED", "SUCCESS", "FAILURE", "CANCELED")
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


@dataclass(frozen=True)
class Created:
    """What creating a run found: made now, or already there (and whether it was enqueued)."""

    run_id: str
    created: bool
    status: str
    enqueued: bool


def _enqueued_at(value: bytes | None) -> float | None:
    # "1" was written before the time was: it reads as long ago.
    return float(value) if value else None


def _float(value: bytes | None) -> float | None:
    return float(value) if value else None


def _names(value: bytes | None) -> list[str] | None:
    if not value:
        return None
    names = decode_value(value)
    return [str(n) for n in names] if isinstance(names, list) else None


class RunStore(Repository):
    """Run records and their indexes; each status move appends its run event atomically."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        super().__init__(client, keys)
        self._create = self._script("run_create")
        self._start = self._script("run_start")
        self._finish = self._script("run_finish")
        self._retry = self._script("run_retry")
        self._emit = self._script("run_emit")
        self._renew = self._script("run_renew")
        self._delete = self._script("run_delete")

    # -- creating ------------------------------------------------------------

    def create(self, runs: Sequence[tuple[RunRecord, RunEvent]]) -> list[Created]:
        """Create each run unless it exists (one atomic script each, one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        for record, event in runs:
            keys = [
                self.keys.run(record.run_id),
                self.keys.runs,
                self.keys.runs_by_status(record.status),
                self.keys.runs_by_sensor(record.sensor or ""),
                self.keys.events,
                self.keys.counters,
            ]
            args: list[Any] = [
                record.run_id,
                repr(record.created_at),
                record.status,
                encode(record),
                encode(event),
                "1" if record.sensor else "0",
                record.error or "",
            ]
            self._create(keys=keys, args=args, client=pipe)
        replies = pipe.execute()
        return [
            Created(record.run_id, bool(made), _text(status), bool(enqueued))
            for (record, _), (made, status, enqueued) in zip(runs, replies, strict=True)
        ]

    def mark_enqueued(self, run_ids: Sequence[str], now: float) -> None:
        """Remember when these runs were handed to the run queue (saves a second enqueue)."""
        pipe = self.client.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hset(self.keys.run(run_id), "enqueued", repr(now))
        pipe.execute()

    def queued_count(self) -> int:
        """Runs QUEUED now: handed (or about to be handed) to the run queue, not started."""
        return int(self.client.zcard(self.keys.runs_by_status("QUEUED")))

    def stale_queued(self, cutoff: float, count: int, offset: int = 0) -> tuple[list[str], int]:
        """QUEUED runs last handed to the run queue at or before ``cutoff``.

        Reads at most ``count`` QUEUED runs created by then, from ``offset``;
        returns those found stale and the offset to go on from (0: start over).
        """
        ids = [
            _text(i)
            for i in self.client.zrangebyscore(
                self.keys.runs_by_status("QUEUED"), "-inf", repr(cutoff), start=offset, num=count
            )
        ]
        if not ids:
            return [], 0
        pipe = self.client.pipeline(transaction=False)
        for run_id in ids:
            pipe.hmget(self.keys.run(run_id), ["status", "enqueued"])
        stale = []
        for run_id, (status, enqueued) in zip(ids, pipe.execute(), strict=True):
            at = _enqueued_at(enqueued)
            if status == b"QUEUED" and at is not None and at <= cutoff:
                stale.append(run_id)
        return stale, (offset + len(ids) if len(ids) == count else 0)

    def stale_started(self, cutoff: float, count: int, offset: int = 0) -> tuple[list[str], int]:
        """STARTED runs whose executor's lease lapsed, last handed out at or before ``cutoff``.

        Their executor died and their message is gone (a redelivery would have
        settled them): handed out again, a delivery ends them.  Reads at most
        ``count`` STARTED runs created by then, from ``offset``; returns those
        found orphaned and the offset to go on from (0: start over).
        """
        ids = [
            _text(i)
            for i in self.client.zrangebyscore(
                self.keys.runs_by_status("STARTED"), "-inf", repr(cutoff), start=offset, num=count
            )
        ]
        if not ids:
            return [], 0
        pipe = self.client.pipeline(transaction=False)
        for run_id in ids:
            pipe.hmget(self.keys.run(run_id), ["status", "enqueued"])
            pipe.exists(self.keys.run_lease(run_id))
        replies = pipe.execute()
        orphaned = []
        for run_id, (status, enqueued), leased in zip(
            ids, replies[::2], replies[1::2], strict=True
        ):
            at = _enqueued_at(enqueued)
            if status == b"STARTED" and not leased and at is not None and at <= cutoff:
                orphaned.append(run_id)
        return orphaned, (offset + len(ids) if len(ids) == count else 0)

    def delete_finished(self, cutoff: float, count: int) -> int:
        """Delete up to ``count`` runs of each finished status created at or before ``cutoff``.

        Each goes with its indexes in one script; returns how many went.
        """
        found: list[tuple[str, str]] = []
        for status in FINISHED:
            index = self.keys.runs_by_status(status)
            ids = self.client.zrangebyscore(index, "-inf", repr(cutoff), start=0, num=count)
            found += [(status, _text(i)) for i in ids]
        if not found:
            return 0
        pipe = self.client.pipeline(transaction=False)
        for _, run_id in found:
            pipe.hget(self.keys.run(run_id), "d")
        sensors = [decode(RunRecord, d).sensor if d else None for d in pipe.execute()]
        pipe = self.client.pipeline(transaction=False)
        for (status, run_id), sensor in zip(found, sensors, strict=True):
            keys = [
                self.keys.run(run_id),
                self.keys.run_lease(run_id),
                self.keys.runs,
                self.keys.runs_by_status(status),
                self.keys.runs_by_sensor(sensor or ""),
                self.keys.run_logs(run_id),
            ]
            self._delete(keys=keys, args=[run_id, status, repr(cutoff)], client=pipe)
        return sum(int(n) for n in pipe.execute())

    # -- reading -------------------------------------------------------------

    def get(self, run_id: str) -> RunRecord | None:
        """One run, with its log lines (which listings leave out: they can be long)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(self.keys.run(run_id))
        pipe.get(self.keys.run_logs(run_id))
        fields, logs = pipe.execute()
        record = self._record(fields_of(fields))
        if record is None or not logs:
            return record
        return replace(record, logs=[str(line) for line in decode_value(logs)])

    def get_many(self, run_ids: Sequence[str]) -> list[RunRecord]:
        pipe = self.client.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hgetall(self.keys.run(run_id))
        return [r for r in (self._record(fields_of(f)) for f in pipe.execute()) if r is not None]

    def _record(self, fields: Mapping[bytes, bytes]) -> RunRecord | None:
        if not fields or b"d" not in fields:
            return None
        record = decode(RunRecord, fields[b"d"])
        error = fields.get(b"error")
        worker = fields.get(b"worker")
        will_retry = fields.get(b"will_retry")
        retry_run_id = fields.get(b"retry_run_id")
        succeeded = fields.get(b"succeeded")
        return replace(
            record,
            status=_text(fields.get(b"status", record.status.encode())),
            started_at=_float(fields.get(b"started_at")),
            ended_at=_float(fields.get(b"ended_at")),
            error=error.decode() if error else record.error,
            worker=worker.decode() if worker else None,
            will_retry=None if will_retry is None else will_retry == b"1",
            retry_run_id=retry_run_id.decode() if retry_run_id else None,
            succeeded_steps=_names(succeeded),
        )

    def recent(
        self, *, status: str | None = None, sensor: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        """Runs newest first, from the status or sensor index (both: the sensor's, filtered)."""
        if sensor is not None:
            index = self.keys.runs_by_sensor(sensor)
        elif status is not None:
            index = self.keys.runs_by_status(status)
        else:
            index = self.keys.runs
        found: list[RunRecord] = []
        for chunk in self._newest_first(index, max(limit, 100)):
            found += [r for r in self.get_many(chunk) if status is None or r.status == status]
            if len(found) >= limit:
                break
        return found[:limit]

    def run_ids_starting(self, prefix: str, limit: int = 2) -> list[str]:
        """Up to ``limit`` run ids that start with ``prefix``, for ids typed in short.

        A scan of the run index (Redis matches the pattern server-side): a
        person's command, not a hot path.
        """
        pattern = "".join("\\" + c if c in "*?[]\\" else c for c in prefix) + "*"
        found: list[str] = []
        for member, _ in self.client.zscan_iter(self.keys.runs, match=pattern, count=1000):
            found.append(_text(member))
            if len(found) >= limit:
                break
        return found

    def _newest_first(self, index: str, size: int) -> Iterator[list[str]]:
        start = 0
        while True:
            ids = self.client.zrevrange(index, start, start + size - 1)
            if not ids:
                return
            yield [_text(i) for i in ids]
            start += size

    # -- status moves --------------------------------------------------------

    def start(self, run_id: str, owner: str, now: float, lease: float, event: RunEvent) -> str:
        """QUEUED -> STARTED with a lease for ``owner``; returns the status found."""
        keys = [
            self.keys.run(run_id),
            self.keys.run_lease(run_id),
            self.keys.runs_by_status("QUEUED"),
            self.keys.runs_by_status("STARTED"),
            self.keys.events,
            self.keys.counters,
        ]
        args: list[Any] = [run_id, repr(now), owner, str(int(lease * 1000)), encode(event)]
        return _text(self._start(keys=keys, args=args))

    def finish(
        self,
        run_id: str,
        moves: tuple[str, str],
        now: float,
        event: RunEvent,
        *,
        error: str | None = None,
        only_if_lapsed: bool = False,
        will_retry: bool | None = None,
        succeeded_steps: Sequence[str] | None = None,
        logs: Sequence[str] | None = None,
    ) -> str:
        """Move a run ``(from, to)`` with its event; returns the status found.

        ``will_retry`` (for a move to FAILURE) is recorded with the move, and
        a run that will be retried joins the retry list (``to_retry``) with it,
        and keeps ``succeeded_steps`` for its retry.  ``logs``, the run's log
        lines, are kept with the move.
        """
        before, after = moves
        keys = [
            self.keys.run(run_id),
            self.keys.run_lease(run_id),
            self.keys.runs_by_status(before),
            self.keys.runs_by_status(after),
            self.keys.events,
            self.keys.runs_to_retry,
            self.keys.run_logs(run_id),
            self.keys.counters,
        ]
        args: list[Any] = [
            run_id,
            before,
            after,
            repr(now),
            error or "",
            encode(event),
            "1" if only_if_lapsed else "0",
            "" if will_retry is None else "1" if will_retry else "0",
            b"" if succeeded_steps is None else encode_value(list(succeeded_steps)),
            b"" if not logs else encode_value(list(logs)),
        ]
        return _text(self._finish(keys=keys, args=args))

    # -- retries -------------------------------------------------------------

    def to_retry(self, count: int) -> list[str]:
        """Up to ``count`` failed runs, oldest failure first, whose retry is not enqueued yet."""
        return [_text(i) for i in self.client.zrange(self.keys.runs_to_retry, 0, count - 1)]

    def retry(self, retries: Sequence[tuple[str, RunRecord, RunEvent]]) -> list[Created | None]:
        """Create the retry ``record`` of each failed run, once (one atomic script each).

        ``None`` for a failed run that gets no retry (gone, not FAILURE, not to
        be retried, or retried already and that retry deleted since).
        """
        pipe = self.client.pipeline(transaction=False)
        for failed_id, record, event in retries:
            keys = [
                self.keys.run(failed_id),
                self.keys.run(record.run_id),
                self.keys.runs,
                self.keys.runs_by_status(record.status),
                self.keys.runs_by_sensor(record.sensor or ""),
                self.keys.events,
                self.keys.runs_to_retry,
                self.keys.counters,
            ]
            args: list[Any] = [
                failed_id,
                record.run_id,
                repr(record.created_at),
                encode(record),
                encode(event),
                "1" if record.sensor else "0",
            ]
            self._retry(keys=keys, args=args, client=pipe)
        return [
            None if int(made) < 0 else Created(record.run_id, bool(made), _text(st), bool(enq))
            for (_, record, _), (made, st, enq) in zip(retries, pipe.execute(), strict=True)
        ]

    def retried(self, failed_ids: Sequence[str]) -> None:
        """Take failed runs off the retry list: their retries are created and enqueued."""
        if failed_ids:
            self.client.zrem(self.keys.runs_to_retry, *failed_ids)

    def emit_event(self, run_id: str, owner: str, event: RunEvent, number: int) -> bool:
        """Append ``event``, the executor's ``number``-th (from 1), while ``owner`` runs the run.

        False when it no longer does; an event whose number was appended
        already is not appended again.
        """
        keys = [self.keys.run(run_id), self.keys.events]
        args: list[Any] = [owner, encode(event), str(number)]
        if is_asset_event(event):  # indexed under its asset too (run_emit)
            streams, partition = index_call(self.keys, event)
            keys += streams
            args.append(partition)
        return bool(self._emit(keys=keys, args=args))

    def renew_lease(
        self, run_id: str, owner: str, lease: float, logs: Sequence[str] | None = None
    ) -> bool:
        """Extend ``owner``'s lease of the STARTED run, keeping ``logs`` (its lines so far)."""
        keys = [self.keys.run(run_id), self.keys.run_lease(run_id), self.keys.run_logs(run_id)]
        lines = b"" if not logs else encode_value(list(logs))
        return bool(self._renew(keys=keys, args=[owner, str(int(lease * 1000)), lines]))

    def lease_alive(self, run_id: str) -> bool:
        return bool(self.client.exists(self.keys.run_lease(run_id)))

    # -- queries (the runtime's instance) ----------------------------------------

    def ids_by_created(
        self,
        *,
        status: str | None = None,
        sensor: str | None = None,
        after: float | None = None,
        before: float | None = None,
        offset: int = 0,
        count: int = 100,
        newest_first: bool = True,
    ) -> list[str]:
        """Run ids of one index (a sensor's, else a status's, else all) by creation time.

        Only runs created strictly between ``after`` and ``before``; a page of
        ``count`` from ``offset``.
        """
        if sensor is not None:
            index = self.keys.runs_by_sensor(sensor)
        elif status is not None:
            index = self.keys.runs_by_status(status)
        else:
            index = self.keys.runs
        low = "-inf" if after is None else f"({after!r}"
        high = "+inf" if before is None else f"({before!r}"
        if newest_first:
            ids = self.client.zrevrangebyscore(index, high, low, start=offset, num=count)
        else:
            ids = self.client.zrangebyscore(index, low, high, start=offset, num=count)
        return [_text(i) for i in ids]
