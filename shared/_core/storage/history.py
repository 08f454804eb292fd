"""Tick history entries: how a tick is kept in its sensor's history, and how it reads back.

An entry is up to four msgpack values one after the other:

1. only for a run of SKIPPED ticks coalesced into one entry: the array
   ``[count, first start, first tick id]``, put in front by the Lua helper
   ``write_record`` (``scripts.lease``) when a skip with the same reason
   follows one;
2. the record, as a compact map (``encode_record``): one-letter names, only
   the fields that are set, no sensor name (the history is the sensor's),
   times as the start plus whole microseconds; text only, so that Lua's
   cmsgpack (which reads no binary) can read it;
3. only when the tick had a cursor: a map of the cursors (binary) or their
   digests, a cursor the tick did not change kept once;
4. the commit's accepted/dropped flags (``"1"``/``"0"`` per request).

The Lua helpers read the names ``i``, ``s``, ``r``, ``t`` and ``d`` and write
FAILURE records in this form too: the letters below are shared with them.
Entries written before the compact form (full field names, with the sensor)
still read.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from lookout._base.codec import decode_from, decode_values, encode_value
from lookout._base.errors import CodecError
from lookout._base.wire import TickRecord, TickStatus

# The default retention (``Settings.tick_history``, ``tick_history_age``):
# a compact record is 60-110 bytes, so 16 of them stay within ~2 KB of Redis
# per sensor even when no two ticks in a row coalesce.
DEFAULT_HISTORY_SIZE = 16
DEFAULT_HISTORY_AGE = 86400.0

ALL_DROPPED = "every run request had a run key this sensor already used"

# Status letters of the compact record; ``K`` (skipped) is what coalesces.
STATUS_LETTERS = {
    TickStatus.STARTED.value: "T",
    TickStatus.SUCCESS.value: "S",
    TickStatus.SKIPPED.value: "K",
    TickStatus.FAILURE.value: "F",
}
_STATUSES = {letter: status for status, letter in STATUS_LETTERS.items()}

# Optional text and list fields: record attribute -> compact name.
_PLAIN = (
    ("skip_reason", "r"),
    ("error", "e"),
    ("traceback", "b"),
    ("worker", "w"),
    ("requests_total", "n"),
)


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def encode_record(record: TickRecord) -> bytes:
    """A tick record as its history entry holds it: the compact map, then its cursors if any."""
    m: dict[str, Any] = {
        "i": record.tick_id,
        "s": STATUS_LETTERS[record.status],
        "t": float(record.started_at),
    }
    if record.ended_at is not None:
        m["d"] = _micros(record.ended_at - record.started_at)
    if record.due_at is not None:
        m["l"] = _micros(record.started_at - record.due_at)
    for attribute, name in _PLAIN:
        value = getattr(record, attribute)
        if value is not None:
            m[name] = value
    if record.requests:
        m["q"] = [[r["request_id"], r["run_key"], r["job_name"]] for r in record.requests]
    if record.logs:
        m["g"] = record.logs
    cursors: dict[str, Any] = {}
    _put_pair(cursors, ("c", "C"), record.cursor_before, record.cursor_after)
    _put_pair(cursors, ("h", "H"), record.cursor_before_digest, record.cursor_after_digest)
    return encode_value(m) + (encode_value(cursors) if cursors else b"")


def _put_pair(m: dict[str, Any], names: tuple[str, str], before: Any, after: Any) -> None:
    # A cursor the tick did not change is kept once: "before" only when it differs.
    if after is not None:
        m[names[1]] = after
    if before != after:
        m[names[0]] = before


def _pair(m: dict[str, Any], names: tuple[str, str]) -> tuple[Any, Any]:
    after = m.get(names[1])
    return m.get(names[0], after), after


def _from_compact(m: dict[str, Any], cursors: dict[str, Any], sensor: str) -> TickRecord:
    started = float(m["t"])
    cursor_before, cursor_after = _pair(cursors, ("c", "C"))
    digest_before, digest_after = _pair(cursors, ("h", "H"))
    plain: dict[str, Any] = {attribute: m.get(name) for attribute, name in _PLAIN}
    return TickRecord(
        tick_id=m["i"],
        sensor=sensor,
        status=_STATUSES[m["s"]],
        started_at=started,
        ended_at=started + m["d"] / 1_000_000 if "d" in m else None,
        due_at=started - m["l"] / 1_000_000 if "l" in m else None,
        requests=[{"request_id": r[0], "run_key": r[1], "job_name": r[2]} for r in m.get("q", ())],
        logs=list(m.get("g", ())),
        cursor_before=cursor_before,
        cursor_after=cursor_after,
        cursor_before_digest=digest_before,
        cursor_after_digest=digest_after,
        **plain,
    )


def decode_entry(entry: bytes, sensor: str = "") -> TickRecord:
    """Read a history entry of the sensor ``sensor``: the record as committed.

    A tick that asked for runs but had every one dropped as a duplicate reads
    as SKIPPED, as Dagster reports it.  A coalesced entry reads as one record
    with its ``count`` and the first tick's start and id.
    """
    values = decode_values(entry)
    run = values.pop(0) if values and isinstance(values[0], list) else None
    maps = [v for v in values if isinstance(v, dict)]
    flags = next((v for v in values if isinstance(v, str)), "")
    if not maps:
        raise CodecError("empty or malformed tick history entry")
    try:
        if "i" in maps[0]:
            record = _from_compact(maps[0], maps[1] if len(maps) > 1 else {}, sensor)
        else:  # an entry from before the compact form
            record = decode_from(TickRecord, maps[0])
            if sensor and record.sensor != sensor:
                record = replace(record, sensor=sensor)
        if run is not None:
            count, first_started, first_tick = run
            record = replace(
                record,
                count=int(count),
                first_started_at=float(first_started),
                first_tick_id=str(first_tick),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise CodecError(f"malformed tick history entry: {exc!r}") from exc
    return with_flags(record, flags)


def with_flags(record: TickRecord, accepted: str) -> TickRecord:
    """The record as committed: which requests launched, and SKIPPED if none did."""
    if record.accepted != accepted:  # replace() is costly: most ticks ask for no runs
        record = replace(record, accepted=accepted)
    if record.status == TickStatus.SUCCESS.value and record.requests and "1" not in accepted:
        record = replace(record, status=TickStatus.SKIPPED.value, skip_reason=ALL_DROPPED)
    return record
