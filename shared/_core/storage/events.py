"""The event stream: run status changes and asset materializations, read by cursor.

Run status moves append their event inside the run's own script
(``RunStore``); event sensors and ``lookout dev`` read the stream here.
"""

from __future__ import annotations

from collections.abc import Callable

from lookout._base.codec import decode, encode
from lookout._base.wire import RunEvent
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import StreamEntry, entries_of, read_reply
from lookout._core.streams import text


def _events(entries: list[StreamEntry]) -> list[tuple[str, RunEvent]]:
    return [(eid, decode(RunEvent, fields[b"d"])) for eid, fields in entries]


class EventStream(Repository):
    """Appending to, reading from and trimming the event stream."""

    def append(self, event: RunEvent) -> str:
        """Add a run event to the event stream; returns its id."""
        return text(self.client.xadd(self.keys.events, {"d": encode(event)}))

    def read(self, after: str, count: int) -> list[tuple[str, RunEvent]]:
        """Up to ``count`` events strictly after id ``after`` ("0-0": from the start)."""
        return _events(
            entries_of(self.client.xrange(self.keys.events, min=f"({after}", count=count))
        )

    def read_back(self, before: str | None, count: int) -> list[tuple[str, RunEvent]]:
        """Up to ``count`` events strictly before id ``before`` (None: the newest), newest first."""
        high = f"({before}" if before else "+"
        return _events(entries_of(self.client.xrevrange(self.keys.events, max=high, count=count)))

    def wait(self, after: str, block: float, count: int) -> list[tuple[str, RunEvent]]:
        """Events after id ``after``, waiting up to ``block`` seconds for the first one."""
        reply = self.client.xread({self.keys.events: after}, block=int(block * 1000), count=count)
        return _events(read_reply(reply))

    def latest_id(self) -> str:
        """The newest event's id, or "0-0" when there is none."""
        entries = self.client.xrevrange(self.keys.events, count=1)
        return text(entries[0][0]) if entries else "0-0"

    def latest_matching(
        self, match: Callable[[RunEvent], bool], scan: int = 10_000
    ) -> tuple[str, RunEvent] | None:
        """The newest of the last ``scan`` events that ``match`` accepts."""
        entries = entries_of(self.client.xrevrange(self.keys.events, count=scan))
        for eid, fields in entries:
            event = decode(RunEvent, fields[b"d"])
            if match(event):
                return eid, event
        return None

    def trim(self, max_events: int) -> int:
        """Keep about ``max_events`` events, dropping the oldest; returns how many went."""
        return int(self.client.xtrim(self.keys.events, maxlen=max_events, approximate=False))
