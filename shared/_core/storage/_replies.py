"""Reading Redis's replies as the types the repositories hand out.

The client never decodes responses, so a reply is bytes; redis-py's types
still allow str (a client that decodes), and these helpers narrow them once,
here, instead of at every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lookout._base.errors import StorageError
from lookout._core.streams import text

# A stream entry as Redis gives it: (entry id, fields).
StreamEntry = tuple[str, dict[bytes, bytes]]


def as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise StorageError(f"unexpected reply from Redis: {value!r}")


def maybe_bytes(value: object) -> bytes | None:
    return None if value is None else as_bytes(value)


def fields_of(raw: Mapping[Any, Any] | None) -> dict[bytes, bytes]:
    """A hash or stream entry's fields as bytes."""
    return {as_bytes(k): as_bytes(v) for k, v in (raw or {}).items()}


def entries_of(entries: Iterable[Any] | None) -> list[StreamEntry]:
    """An XRANGE-style reply; entries deleted meanwhile (no fields) are left out."""
    return [(text(eid), fields_of(fields)) for eid, fields in entries or () if fields]


def read_reply(reply: Any) -> list[StreamEntry]:
    """An XREAD or XREADGROUP reply (one stream read): its entries, in order."""
    return [e for _, entries in reply or () for e in entries_of(entries)]


def score(value: float | None) -> float | None:
    return None if value is None else float(value)
