"""Dead letters: messages no consumer could read, kept with the reason instead of dropped."""

from __future__ import annotations

from lookout._base.codec import decode, encode
from lookout._base.wire import DeadLetter
from lookout._core.storage._base import StoreBase


class DeadLetterStore(StoreBase):
    """The dead-letter stream, capped so that a flood of garbage cannot fill Redis."""

    def dead_letter(self, letter: DeadLetter, maxlen: int = 10_000) -> str:
        eid = self.client.xadd(
            self.keys.dead_letters, {"d": encode(letter)}, maxlen=maxlen, approximate=True
        )
        return eid.decode() if isinstance(eid, bytes) else str(eid)

    def dead_letters(self, count: int = 100) -> list[tuple[str, DeadLetter]]:
        """The newest dead letters first."""
        entries = self.client.xrevrange(self.keys.dead_letters, count=count)
        return [(eid.decode(), decode(DeadLetter, fields[b"d"])) for eid, fields in entries]
