"""The event stream: run status changes and asset materializations, read by cursor.

Run status moves append their event inside the run's own script
(``RunStore``); event sensors and ``lookout dev`` read the stream here.

An entry that is not an event (written by hand, or by another program) is
moved to the dead-letter stream by the first reader that meets it and left
out of what it reads: before, one such entry made every run-status and asset
sensor fail on every tick, its cursor never passing it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from lookout._base.codec import decode, encode
from lookout._base.errors import CodecError
from lookout._base.wire import DeadLetter, RunEvent
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import StreamEntry, entries_of, read_reply
from lookout._core.storage.dead_letters import DeadLetterStore
from lookout._core.streams import text

log = logging.getLogger(__name__)


class EventStream(Repository):
    """Appending to, reading from and trimming the event stream."""

    def _events(self, entries: list[StreamEntry]) -> list[tuple[str, RunEvent]]:
        found = []
        for eid, fields in entries:
            try:
                found.append((eid, decode(RunEvent, fields[b"d"])))
            except (CodecError, KeyError) as exc:
                self._bury(eid, fields, f"not a run event: {exc!r}")
        return found

    def _bury(self, eid: str, fields: dict[bytes, bytes], reason: str) -> None:
        # Removed first: of the readers that meet the entry at once, only the
        # one whose XDEL took it out keeps it, so it is dead-lettered once.
        if self.client.xdel(self.keys.events, eid) != 1:
            return
        payload = fields.get(b"d", b" ".join(k + b"=" + v for k, v in fields.items()))
        letter = DeadLetter(
            source="stream:events", reason=reason, payload=payload, at=time.time(), ref=eid
        )
        DeadLetterStore(self.client, self.keys).add(letter)
        log.warning("event stream entry %s dead-lettered: %s", eid, reason)

    def append(self, event: RunEvent) -> str:
        """Add a run event to the event stream; returns its id."""
        return text(self.client.xadd(self.keys.events, {"d": encode(event)}))

    def read(self, after: str, count: int) -> list[tuple[str, RunEvent]]:
        """Up to ``count`` events strictly after id ``after`` ("0-0": from the start)."""
        return self._events(
            entries_of(self.client.xrange(self.keys.events, min=f"({after}", count=count))
        )

    def read_back(self, before: str | None, count: int) -> list[tuple[str, RunEvent]]:
        """Up to ``count`` events strictly before id ``before`` (None: the newest), newest first."""
        high = f"({before}" if before else "+"
        return self._events(
            entries_of(self.client.xrevrange(self.keys.events, max=high, count=count))
        )

    def wait(self, after: str, block: float, count: int) -> list[tuple[str, RunEvent]]:
        """Events after id ``after``, waiting up to ``block`` seconds for the first one."""
        reply = self.client.xread({self.keys.events: after}, block=int(block * 1000), count=count)
        return self._events(read_reply(reply))

    def latest_id(self) -> str:
        """The newest event's id, or "0-0" when there is none."""
        entries = self.client.xrevrange(self.keys.events, count=1)
        return text(entries[0][0]) if entries else "0-0"

    def latest_matching(
        self, match: Callable[[RunEvent], bool], scan: int = 10_000
    ) -> tuple[str, RunEvent] | None:
        """The newest of the last ``scan`` events that ``match`` accepts."""
        entries = entries_of(self.client.xrevrange(self.keys.events, count=scan))
        for eid, event in self._events(entries):
            if match(event):
                return eid, event
        return None

    def trim(self, max_events: int) -> int:
        """Keep about ``max_events`` events, dropping the oldest; returns how many went."""
        return int(self.client.xtrim(self.keys.events, maxlen=max_events, approximate=False))
