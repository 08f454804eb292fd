"""Tick history entries: how a committed tick reads back, in the history and as a sensor's last."""

from __future__ import annotations

from dataclasses import replace

from lookout._base.codec import decode_from, decode_values
from lookout._base.errors import CodecError
from lookout._base.wire import TickRecord, TickStatus

ALL_DROPPED = "every run request had a run key this sensor already used"


def decode_entry(entry: bytes) -> TickRecord:
    """Read a history entry: the record, then the commit's accepted/dropped flags.

    A tick that asked for runs but had every one dropped as a duplicate reads
    as SKIPPED, as Dagster reports it.
    """
    values = decode_values(entry)
    if not values:
        raise CodecError("empty tick history entry")
    flags = values[1] if len(values) > 1 else ""
    return with_flags(decode_from(TickRecord, values[0]), flags if isinstance(flags, str) else "")


def with_flags(record: TickRecord, accepted: str) -> TickRecord:
    """The record as committed: which requests launched, and SKIPPED if none did."""
    if record.accepted != accepted:  # replace() is costly: most ticks ask for no runs
        record = replace(record, accepted=accepted)
    if record.status == TickStatus.SUCCESS.value and record.requests and "1" not in accepted:
        record = replace(record, status=TickStatus.SKIPPED.value, skip_reason=ALL_DROPPED)
    return record
