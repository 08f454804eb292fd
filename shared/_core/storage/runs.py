"""Runs: records, status moves with their events, and the launchers' side of the launch stream."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

import redis

from lookout._base.codec import decode, encode
from lookout._base.wire import RunEvent, RunRecord
from lookout._core.storage._base import StoreBase
from lookout._core.streams import stream_order
from lookout._core.streams import text as _text

RUN_STATUSES = ("QUEUED", "STARTED", "SUCCESS", "FAILURE", "CANCELED")
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")

# Raw launch stream entries as Redis gives them: (entry id, fields).
StreamEntry = tuple[str, dict[bytes, bytes]]


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


class RunStore(StoreBase):
    """Run records and their indexes, run events, and consuming the launch stream."""

    # -- creating ------------------------------------------------------------

    def create_runs(self, runs: Sequence[tuple[RunRecord, RunEvent]]) -> list[Created]:
        """Create each run unless it exists (one atomic script each, one round trip)."""
        pipe = self.client.pipeline(transaction=False)
        for record, event in runs:
            keys = [
                self.keys.run(record.run_id),
                self.keys.runs,
                self.keys.runs_by_status(record.status),
                self.keys.runs_by_sensor(record.sensor or ""),
                self.keys.events,
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
            self.scripts["run_create"](keys=keys, args=args, client=pipe)
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

    def stale_queued_runs(
        self, cutoff: float, count: int, offset: int = 0
    ) -> tuple[list[str], int]:
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

    def delete_finished_runs(self, cutoff: float, count: int) -> int:
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
            ]
            self.scripts["run_delete"](keys=keys, args=[run_id, status, repr(cutoff)], client=pipe)
        return sum(int(n) for n in pipe.execute())

    # -- reading -------------------------------------------------------------

    def get_run(self, run_id: str) -> RunRecord | None:
        return self._record(self.client.hgetall(self.keys.run(run_id)))

    def get_runs(self, run_ids: Sequence[str]) -> list[RunRecord]:
        pipe = self.client.pipeline(transaction=False)
        for run_id in run_ids:
            pipe.hgetall(self.keys.run(run_id))
        return [r for r in map(self._record, pipe.execute()) if r is not None]

    def _record(self, fields: dict[bytes, bytes]) -> RunRecord | None:
        if not fields or b"d" not in fields:
            return None
        record = decode(RunRecord, fields[b"d"])
        error = fields.get(b"error")
        worker = fields.get(b"worker")
        return replace(
            record,
            status=_text(fields.get(b"status", record.status.encode())),
            started_at=_float(fields.get(b"started_at")),
            ended_at=_float(fields.get(b"ended_at")),
            error=error.decode() if error else record.error,
            worker=worker.decode() if worker else None,
        )

    def list_runs(
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
            found += [r for r in self.get_runs(chunk) if status is None or r.status == status]
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

    def run_counts(self) -> dict[str, int]:
        """How many runs are in each status."""
        pipe = self.client.pipeline(transaction=False)
        for status in RUN_STATUSES:
            pipe.zcard(self.keys.runs_by_status(status))
        return dict(zip(RUN_STATUSES, pipe.execute(), strict=True))

    # -- status moves --------------------------------------------------------

    def start_run(self, run_id: str, owner: str, now: float, lease: float, event: RunEvent) -> str:
        """QUEUED -> STARTED with a lease for ``owner``; returns the status found."""
        keys = [
            self.keys.run(run_id),
            self.keys.run_lease(run_id),
            self.keys.runs_by_status("QUEUED"),
            self.keys.runs_by_status("STARTED"),
            self.keys.events,
        ]
        args: list[Any] = [run_id, repr(now), owner, str(int(lease * 1000)), encode(event)]
        return _text(self.scripts["run_start"](keys=keys, args=args))

    def finish_run(
        self,
        run_id: str,
        moves: tuple[str, str],
        now: float,
        event: RunEvent,
        *,
        error: str | None = None,
        only_if_lapsed: bool = False,
    ) -> str:
        """Move a run ``(from, to)`` with its event; returns the status found."""
        before, after = moves
        keys = [
            self.keys.run(run_id),
            self.keys.run_lease(run_id),
            self.keys.runs_by_status(before),
            self.keys.runs_by_status(after),
            self.keys.events,
        ]
        args: list[Any] = [
            run_id,
            before,
            after,
            repr(now),
            error or "",
            encode(event),
            "1" if only_if_lapsed else "0",
        ]
        return _text(self.scripts["run_finish"](keys=keys, args=args))

    def emit_run_event(self, run_id: str, owner: str, event: RunEvent, number: int) -> bool:
        """Append ``event``, the executor's ``number``-th (from 1), while ``owner`` runs the run.

        False when it no longer does; an event whose number was appended
        already is not appended again.
        """
        keys = [self.keys.run(run_id), self.keys.events]
        args: list[Any] = [owner, encode(event), str(number)]
        return bool(self.scripts["run_emit"](keys=keys, args=args))

    def renew_run_lease(self, run_id: str, owner: str, lease: float) -> bool:
        keys = [self.keys.run(run_id), self.keys.run_lease(run_id)]
        return bool(self.scripts["run_renew"](keys=keys, args=[owner, str(int(lease * 1000))]))

    def run_lease_alive(self, run_id: str) -> bool:
        return bool(self.client.exists(self.keys.run_lease(run_id)))

    # -- the launch stream, as a consumer group ------------------------------

    def ensure_launch_group(self, group: str) -> None:
        """Create the launchers' group (from the stream's start) unless it exists."""
        try:
            self.client.xgroup_create(self.keys.launch, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read_launches(
        self, group: str, consumer: str, count: int, block: float
    ) -> list[StreamEntry]:
        """New entries for this consumer; they stay pending until acknowledged."""
        reply = self.client.xreadgroup(
            group, consumer, {self.keys.launch: ">"}, count=count, block=int(block * 1000)
        )
        return [(_text(eid), fields) for _, entries in reply or [] for eid, fields in entries]

    def own_pending_launches(self, group: str, consumer: str, count: int) -> list[StreamEntry]:
        """Entries this consumer read and has not acknowledged, oldest first (up to ``count``)."""
        reply = self.client.xreadgroup(group, consumer, {self.keys.launch: "0"}, count=count)
        # Entries deleted from the stream meanwhile come back without fields.
        return [
            (_text(eid), fields) for _, entries in reply or [] for eid, fields in entries if fields
        ]

    def claim_launches(
        self, group: str, consumer: str, min_idle: float, count: int
    ) -> list[StreamEntry]:
        """Take over entries another consumer left pending for ``min_idle`` seconds."""
        claimed: list[StreamEntry] = []
        start = "0-0"
        while len(claimed) < count:
            reply = self.client.xautoclaim(
                self.keys.launch,
                group,
                consumer,
                int(min_idle * 1000),
                start_id=start,
                count=count - len(claimed),
            )
            start = _text(reply[0])
            # Entries deleted from the stream come back as None: nothing to launch.
            claimed += [(_text(eid), fields) for eid, fields in reply[1] if fields is not None]
            if start == "0-0":
                break
        return claimed

    def ack_launches(self, group: str, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            self.client.xack(self.keys.launch, group, *entry_ids)

    def trim_streams(self, group: str, max_events: int) -> tuple[int, int]:
        """Drop launch entries every launcher is done with, and the oldest events.

        A launch entry may go once it was delivered to the group and
        acknowledged: below both the oldest pending entry and the group's last
        delivered id.  Reading those and trimming are two steps, and that is
        safe: both bounds only move forward meanwhile (a claim moves a pending
        entry to another consumer without changing its id).  The event stream
        keeps about ``max_events`` entries.  Returns (launch, events) trimmed.
        """
        bound = self._launch_trim_bound(group)
        launch = (
            int(self.client.xtrim(self.keys.launch, minid=bound, approximate=False)) if bound else 0
        )
        events = int(self.client.xtrim(self.keys.events, maxlen=max_events, approximate=False))
        return launch, events

    def _launch_trim_bound(self, group: str) -> str | None:
        try:
            groups = self.client.xinfo_groups(self.keys.launch)
            summary = self.client.xpending(self.keys.launch, group)
        except redis.ResponseError:
            return None  # no stream or no group yet: nothing was launched
        delivered = next(
            (_text(g["last-delivered-id"]) for g in groups if _text(g["name"]) == group), None
        )
        if delivered is None or delivered == "0-0":
            return None
        if int(summary["pending"]):
            oldest = _text(summary["min"])
            return min(oldest, delivered, key=stream_order)
        ms, _, seq = delivered.partition("-")
        return f"{ms}-{int(seq) + 1}"  # everything up to the last delivered was acknowledged

    def pending_launches(self, group: str) -> int:
        """How many launch entries were read but not yet acknowledged."""
        try:
            summary = self.client.xpending(self.keys.launch, group)
        except redis.ResponseError:
            return 0
        return int(summary["pending"])
