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

import redis

from lookout._base.codec import decode, encode, encode_value
from lookout._base.errors import CodecError
from lookout._base.wire import DeadLetter, RunEvent
from lookout._core.keys import Keys
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import StreamEntry, entries_of, read_reply
from lookout._core.storage.assets import index_call
from lookout._core.streams import text

log = logging.getLogger(__name__)


class EventStream(Repository):
    """Appending to, reading from and trimming the event stream.

    An entry that does not decode as a ``RunEvent`` is moved to the
    dead-letter stream by the first reader that meets it and skipped by
    every reader, so one bad entry cannot wedge the event sensors.
    """

    def __init__(self, client: redis.Redis, keys: Keys, dead_letter_max: int = 10_000) -> None:
        super().__init__(client, keys)
        self.dead_letter_max = dead_letter_max
        self._bury_event = self._script("bury_event")
        self._append_asset = self._script("append_asset")

    def _events(self, entries: list[StreamEntry]) -> list[tuple[str, RunEvent]]:
        events = []
        for eid, fields in entries:
            try:
                events.append((eid, decode(RunEvent, fields[b"d"])))
            except (CodecError, KeyError, TypeError, ValueError) as exc:
                self._bury(eid, fields, exc)
        return events

    def _bury(self, eid: str, fields: dict[bytes, bytes], exc: Exception) -> None:
        letter = DeadLetter(
            source="stream:events",
            reason=f"cannot decode event {eid}: {type(exc).__name__}: {exc}",
            payload=fields.get(
                b"d", encode_value({k.decode(errors="replace"): v for k, v in fields.items()})
            ),
            at=time.time(),
            ref=eid,
        )
        keys = [self.keys.events, self.keys.dead_letters]
        if self._bury_event(keys=keys, args=[eid, encode(letter), self.dead_letter_max]):
            log.error("dead-lettered event %s: %s", eid, letter.reason)

    def append(self, event: RunEvent) -> str:
        """Add an event to the event stream; returns its id.

        An asset event also goes to its asset's own stream under the same id
        (``append_asset``), as a tick's and a run's do, so per-asset readers
        (multi-asset sensors, instance queries) see it too.
        """
        if event.asset_key is None:
            return text(self.client.xadd(self.keys.events, {"d": encode(event)}))
        streams, partition = index_call(self.keys, event)
        keys = [self.keys.events, *streams]
        return text(self._append_asset(keys=keys, args=[encode(event), partition]))

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
