"""Reading what Redis gives back: reply text, and the order of stream entry ids.

One copy of each, for the storage and for the event sensors alike, so that
two parts never disagree on which of two entries came first.
"""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str:
    """A Redis reply as ``str`` (replies come as bytes; a few as str or int)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def stream_order(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``ms-seq``) as a sortable pair: ids do not sort as strings."""
    ms, _, seq = entry_id.partition("-")
    return int(ms or 0), int(seq or 0)


# A storage id packs a stream entry id ``ms-seq`` as ``ms * SEQ_SPAN + seq``: an
# integer that ascends with the entries (Dagster's storage ids are integers),
# exact for fewer than a million entries in one millisecond, which one Redis
# cannot append.
SEQ_SPAN = 1_000_000


def storage_id(entry_id: str) -> int:
    """The integer storage id of a stream entry id."""
    ms, seq = stream_order(entry_id)
    return ms * SEQ_SPAN + seq


def entry_id(storage: int) -> str:
    """The stream entry id a storage id stands for (inverse of ``storage_id``)."""
    return f"{storage // SEQ_SPAN}-{storage % SEQ_SPAN}"
