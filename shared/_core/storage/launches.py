"""The launch stream: committed RunRequests, consumed by the launchers as one group.

Ticks append to it inside their commit (``TickLedger.commit``); this is the
reading side: at-least-once delivery to the launchers (invariant 4), and
trimming what every launcher is done with.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from lookout._base.codec import decode
from lookout._base.wire import LaunchRequest
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import StreamEntry, entries_of, read_reply
from lookout._core.streams import stream_order, text


class LaunchStream(Repository):
    """The launchers' consumer group on the launch stream."""

    def ensure_group(self, group: str) -> None:
        """Create the launchers' group (from the stream's start) unless it exists."""
        try:
            self.client.xgroup_create(self.keys.launch, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, group: str, consumer: str, count: int, block: float) -> list[StreamEntry]:
        """New entries for this consumer; they stay pending until acknowledged."""
        reply = self.client.xreadgroup(
            group, consumer, {self.keys.launch: ">"}, count=count, block=int(block * 1000)
        )
        return read_reply(reply)

    def own_pending(self, group: str, consumer: str, count: int) -> list[StreamEntry]:
        """Entries this consumer read and has not acknowledged, oldest first (up to ``count``).

        Entries deleted from the stream meanwhile come back without fields: left out.
        """
        return read_reply(
            self.client.xreadgroup(group, consumer, {self.keys.launch: "0"}, count=count)
        )

    def claim(self, group: str, consumer: str, min_idle: float, count: int) -> list[StreamEntry]:
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
            start = text(reply[0])
            # Entries deleted from the stream come back as None: nothing to launch.
            claimed += entries_of(reply[1])
            if start == "0-0":
                break
        return claimed

    def ack(self, group: str, entry_ids: Sequence[str]) -> None:
        if entry_ids:
            self.client.xack(self.keys.launch, group, *entry_ids)

    def pending(self, group: str) -> int:
        """How many launch entries were read but not yet acknowledged."""
        try:
            summary = self.client.xpending(self.keys.launch, group)
        except redis.ResponseError:
            return 0
        return int(summary["pending"])

    def requests(self, count: int = 1000) -> list[tuple[str, LaunchRequest]]:
        """The launch stream from its start (for operators and tests)."""
        entries = entries_of(self.client.xrange(self.keys.launch, count=count))
        return [(eid, decode(LaunchRequest, fields[b"d"])) for eid, fields in entries]

    def trim(self, group: str) -> int:
        """Drop the entries every launcher is done with; returns how many went.

        An entry may go once it was delivered to the group and acknowledged:
        below both the oldest pending entry and the group's last delivered id.
        Reading those and trimming are two steps, and that is safe: both bounds
        only move forward meanwhile (a claim moves a pending entry to another
        consumer without changing its id).
        """
        bound = self._trim_bound(group)
        if not bound:
            return 0
        return int(self.client.xtrim(self.keys.launch, minid=bound, approximate=False))

    def _trim_bound(self, group: str) -> str | None:
        try:
            groups = self.client.xinfo_groups(self.keys.launch)
            summary = self.client.xpending(self.keys.launch, group)
        except redis.ResponseError:
            return None  # no stream or no group yet: nothing was launched
        delivered = next(
            (text(g["last-delivered-id"]) for g in groups if text(g["name"]) == group), None
        )
        if delivered is None or delivered == "0-0":
            return None
        if int(summary["pending"]):
            oldest = text(summary["min"])
            return min(oldest, delivered, key=stream_order)
        ms, _, seq = delivered.partition("-")
        return f"{ms}-{int(seq) + 1}"  # everything up to the last delivered was acknowledged
