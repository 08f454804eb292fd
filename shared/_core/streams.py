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
