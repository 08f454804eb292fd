"""Dead letters: messages no consumer could read, kept with the reason instead of dropped."""

from __future__ import annotations

from lookout._base.codec import decode, encode
from lookout._base.wire import DeadLetter
from lookout._core.storage._base import Repository
from lookout._core.storage._replies import entries_of
from lookout._core.streams import text


class DeadLetterStore(Repository):
    """The dead-letter stream, capped so that a flood of garbage cannot fill Redis."""

    def add(self, letter: DeadLetter, maxlen: int = 10_000) -> str:
        eid = self.client.xadd(
            self.keys.dead_letters, {"d": encode(letter)}, maxlen=maxlen, approximate=True
        )
        return text(eid)

    def newest(self, count: int = 100) -> list[tuple[str, DeadLetter]]:
        """The newest dead letters first."""
        entries = entries_of(self.client.xrevrange(self.keys.dead_letters, count=count))
        return [(eid, decode(DeadLetter, fields[b"d"])) for eid, fields in entries]
