"""Tick history entries: how a tick is kept in its sensor's history, and how it reads back.

An entry is up to three msgpack values one after the other:

1. the record (``encode_record``), an array by position, so that no field
   pays for its name: ``[status letter, tick id, start, duration, lateness,
   worker, skip reason, {the rest}]``, ``false`` where a field is not set,
   the map of the rest (short names, only the fields that are set) left off
   when empty.  No sensor name (the history is the sensor's), a request's id
   left out when it is the tick's own numbering.  Lua's cmsgpack (which
   reads no binary) reads and rewrites it: a run of like SKIPPED ticks folded
   into one entry by the Lua helper ``write_record`` (``scripts.lease``) has
   ``k`` (how many), ``f`` (the first one's start) and ``J`` or ``I`` (its
   id, as the record's own) in the map;
2. only when the tick had a cursor: the cursor (binary) when the tick did
   not change it, ``[before, after]`` when it did, else (a cursor set to
   or from none, or kept as digests) a map of the cursors or their digests;
3. only when the tick asked for runs: the commit's accepted/dropped flags
   (``"1"``/``"0"`` per request).

Every byte of an entry is kept ``LOOKOUT_TICK_HISTORY`` times per sensor
(bench/memory.py, issue 14: <= 2 KB per sensor), hence: a tick id as the
scheduler makes them (32 lowercase hex digits) is its 16 bytes, as a msgpack
string (read back leniently, ``codec.decode_values``); any other id (a tick
by hand) is ``false`` there and ``i`` in the map.  The start is unix s, the
duration and the lateness (start minus due time) whole microseconds; the
duration is rounded down, so an end never reads back later than it was.
The newest entry is the head of the list: the sensor's hash keeps no copy.

Entries written by earlier versions still read, and Lua still folds after
them and trims them: a map with ``i``, ``s``, ``started_at`` and
``ended_at`` (the first compact form, its cursors always a map and its
flags always there), and before it the full record (full field names, with
the sensor).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from lookout._base.codec import (
    decode_first,
    decode_from,
    decode_values,
    encode_text_bytes,
    encode_value,
)
from lookout._base.errors import CodecError
from lookout._base.wire import TickRecord, TickStatus

# The default retention (``Settings.tick_history``, ``tick_history_age``): an
# entry is ~80-120 bytes (a worker's skip or run request with a small cursor;
# bench/memory.py), so 12 of them stay within 2 KB of Redis per sensor even
# when no two ticks in a row fold; a quiet sensor's day is one.
DEFAULT_HISTORY_SIZE = 12
DEFAULT_HISTORY_AGE = 86400.0

ALL_DROPPED = "every run request had a run key this sensor already used"

# Status letters of the compact record; ``K`` (skipped) is what coalesces.
STATUS_LETTERS = {
    TickStatus.STARTED.value: "T",
    TickStatus.SUCCESS.value: "S",
    TickStatus.SKIPPED.value: "K",
    TickStatus.FAILURE.value: "F",
}
STATUSES_BY_LETTER = {letter: status for status, letter in STATUS_LETTERS.items()}

# Optional text and number fields of the map: record attribute -> name.
_PLAIN = (
    ("error", "e"),
    ("traceback", "b"),
    ("requests_total", "n"),
)
# In the first compact form these were in the map too.
_PLAIN_BEFORE = (*_PLAIN, ("skip_reason", "r"), ("worker", "w"))


# The first bytes of a record of the array form (``may_fold``): a 7 or 8
# element array, then its status letter as a one-byte string.
_ARRAYS = (0x97, 0x98)
_ONE_LETTER = 0xA1
_SKIP_LETTER = ord(STATUS_LETTERS[TickStatus.SKIPPED.value])


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def _packed_id(tick_id: str) -> bytes | None:
    # A scheduler's tick id (32 lowercase hex digits) as its 16 bytes; None:
    # kept as text.  Its bytes written back as hex must give it back (no
    # capitals, no spaces): half a regular expression's cost, per tick.
    if len(tick_id) != 32:
        return None
    try:
        packed = bytes.fromhex(tick_id)
    except ValueError:
        return None
    return packed if packed.hex() == tick_id else None


def _unpacked_id(raw: str) -> str:
    # The id ``_packed_id`` packed, as a lenient read gives it back.
    return raw.encode("utf-8", "surrogateescape").hex()


def encode_record(record: TickRecord) -> bytes:
    """A tick record as its history entry holds it: the record, then its cursors if any."""
    return encode_entry(record)[0]


def encode_entry(record: TickRecord) -> tuple[bytes, int]:
    """``encode_record``'s entry, and how many of its first bytes are the record
    (the rest its cursors): where a commit's skip folding into the history's
    run splices the run in (``write_record`` in ``scripts.lease``).
    """
    rest: dict[str, Any] = {}
    packed = _packed_id(record.tick_id)
    if packed is None:
        rest["i"] = record.tick_id
    # The same table the decoder reads (_PLAIN), so a field added there is written too.
    for attribute, name in _PLAIN:
        value = getattr(record, attribute)
        if value is not None:
            rest[name] = value
    if record.requests:
        rest["q"] = [_request(record.tick_id, i, r) for i, r in enumerate(record.requests)]
    if record.logs:
        rest["g"] = record.logs
    fields: list[Any] = [
        STATUS_LETTERS[record.status],
        packed if packed is not None else False,
        float(record.started_at),
        # Rounded down and never negative: the end reads back no later than it was.
        False
        if record.ended_at is None
        else max(0, math.floor((record.ended_at - record.started_at) * 1_000_000)),
        False if record.due_at is None else _micros(record.started_at - record.due_at),
        False if record.worker is None else record.worker,
        False if record.skip_reason is None else record.skip_reason,
    ]
    if rest:
        fields.append(rest)
    body = encode_text_bytes(fields)
    return body + _cursors(record), len(body)


def _cursors(record: TickRecord) -> bytes:
    before, after = record.cursor_before, record.cursor_after
    if record.cursor_before_digest is None and record.cursor_after_digest is None:
        if after is None and before is None:
            return b""
        if after is not None and before == after:  # unchanged: the cursor alone
            return encode_value(after)
        if after is not None and before is not None:  # changed: [before, after]
            return encode_value([before, after])
    cursors: dict[str, Any] = {}
    _put_pair(cursors, ("c", "C"), before, after)
    _put_pair(cursors, ("h", "H"), record.cursor_before_digest, record.cursor_after_digest)
    return encode_value(cursors)


def _request(tick_id: str, index: int, request: dict[str, Any]) -> list[Any]:
    # [run key, job], and the request's id only when it is not the tick's numbering.
    kept = [request["run_key"], request["job_name"]]
    if request["request_id"] != f"{tick_id}-{index}":
        kept.append(request["request_id"])
    return kept


def _put_pair(m: dict[str, Any], names: tuple[str, str], before: Any, after: Any) -> None:
    # A cursor the tick did not change is kept once: "before" only when it differs.
    if after is not None:
        m[names[1]] = after
    if before != after:
        m[names[0]] = before


def _pair(m: dict[str, Any], names: tuple[str, str]) -> tuple[Any, Any]:
    after = m.get(names[1])
    return m.get(names[0], after), after


def _set(value: Any) -> Any:
    # A positional field: ``false`` is not set.
    return None if value is False else value


def _first_id(m: dict[str, Any]) -> str | None:
    if "J" in m:
        return _unpacked_id(m["J"])
    return str(m["I"]) if "I" in m else None


def _from_array(fields: list[Any], cursors: Any, sensor: str) -> TickRecord:
    rest: dict[str, Any] = fields[7] if len(fields) > 7 else {}
    packed = _set(fields[1])
    tick_id = _unpacked_id(packed) if packed is not None else str(rest["i"])
    started = float(fields[2])
    took, late = _set(fields[3]), _set(fields[4])
    return _record(
        rest,
        cursors,
        sensor,
        tick_id=tick_id,
        status=STATUSES_BY_LETTER[fields[0]],
        started_at=started,
        ended_at=None if took is None else started + int(took) / 1_000_000,
        due_at=None if late is None else _due(started, late),
        worker=_set(fields[5]),
        skip_reason=_set(fields[6]),
        **{attribute: rest.get(name) for attribute, name in _PLAIN},
    )


def _from_map(m: dict[str, Any], cursors: Any, sensor: str) -> TickRecord:
    # The first compact form: a map, times as floats.
    started = float(m["started_at"])
    return _record(
        m,
        cursors,
        sensor,
        tick_id=str(m["i"]),
        status=STATUSES_BY_LETTER[m["s"]],
        started_at=started,
        ended_at=float(m["ended_at"]) if "ended_at" in m else None,
        due_at=_due(started, m["l"]) if "l" in m else None,
        **{attribute: m.get(name) for attribute, name in _PLAIN_BEFORE},
    )


def _due(started: float, late_micros: int) -> float:
    # Rounded to the microsecond the lateness is kept in: a schedule's due
    # time on a whole minute reads back as that minute exactly.
    return round(started - late_micros / 1_000_000, 6)


def _record(rest: dict[str, Any], cursors: Any, sensor: str, **fields: Any) -> TickRecord:
    # The fields both compact forms keep alike: requests, logs, cursors, the run's.
    tick_id = fields["tick_id"]
    if isinstance(cursors, list):  # [before, after]: the tick changed it
        cursors = {"c": cursors[0], "C": cursors[1]}
    elif not isinstance(cursors, dict):  # the cursor alone: the tick did not change it
        cursors = {} if cursors is None else {"C": cursors}
    cursor_before, cursor_after = _pair(cursors, ("c", "C"))
    digest_before, digest_after = _pair(cursors, ("h", "H"))
    return TickRecord(
        sensor=sensor,
        requests=[
            {
                "request_id": r[2] if len(r) > 2 else f"{tick_id}-{i}",
                "run_key": r[0],
                "job_name": r[1],
            }
            for i, r in enumerate(rest.get("q", ()))
        ],
        logs=list(rest.get("g", ())),
        cursor_before=cursor_before,
        cursor_after=cursor_after,
        cursor_before_digest=digest_before,
        cursor_after_digest=digest_after,
        count=int(rest.get("k", 1)),
        first_started_at=float(rest["f"]) if "f" in rest else None,
        first_tick_id=_first_id(rest),
        **fields,
    )


def _split(entry: bytes) -> tuple[Any, Any, str]:
    # (record, cursors or None, flags) of an entry of any form.
    values = decode_values(entry, lenient=True)
    if not values or not isinstance(values[0], (list, dict)):
        raise CodecError("empty or malformed tick history entry")
    cursors = values[1] if len(values) > 1 and not isinstance(values[1], str) else None
    flags = next((v for v in values[1:] if isinstance(v, str)), "")
    return values[0], cursors, flags


def entry_flags(entry: bytes) -> str:
    """The accepted/dropped flags of an entry ("" when its tick asked for no runs)."""
    return _split(entry)[2]


def may_fold(head: bytes | None, reason: str | None) -> bool:
    """Whether a skip with ``reason`` may fold into the history's head ``head``
    (``write_record`` in ``scripts.lease``): False only when it surely cannot
    (no head, a head of the array form and another status, a reason whose
    text is nowhere in the head), so that its commit need not read the head.
    """
    if not head:
        return False
    if head[0] in _ARRAYS and head[1] == _ONE_LETTER and head[2] != _SKIP_LETTER:
        return False
    if reason is None:
        return True
    try:
        return reason.encode() in head
    except UnicodeError:  # not UTF-8 text: the script compares it
        return True


# The array form's values before its duration, by their first byte: how
# many bytes each takes.  The tick id is a string as ``encode_text_bytes`` or
# Lua's cmsgpack write one (a fixstr), or ``false``; the start a float64, or
# what cmsgpack may rewrite it as (a float32, an unsigned integer).
_FALSE = 0xC2
_ID_SIZES = {_FALSE: 1, **{0xA0 + n: 1 + n for n in range(32)}}
_UINT_SIZES = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
_START_SIZES = {
    0xCB: 9,
    0xCA: 5,
    **{marker: 1 + size for marker, size in _UINT_SIZES.items()},
    **{n: 1 for n in range(0x80)},  # a positive fixint
}


def _took(entry: bytes) -> int | None:
    """The duration (us) of a record of the array form, read from its bytes: -1
    when it has none; ``None`` when the entry is not of a form read here.
    """
    if len(entry) < 8 or entry[0] not in _ARRAYS or entry[1] != _ONE_LETTER:
        return None
    try:
        at = 3 + _ID_SIZES[entry[3]]
        at += _START_SIZES[entry[at]]
        marker = entry[at]
        if marker < 0x80:  # a positive fixint
            return marker
        if marker == _FALSE:
            return -1
        size = _UINT_SIZES[marker]
    except (KeyError, IndexError):  # another form, or cut short: decoded
        return None
    if at + 1 + size > len(entry):
        return None
    return int.from_bytes(entry[at + 1 : at + 1 + size], "big")


def entry_duration(entry: bytes) -> float | None:
    """How long an entry's tick took, read from its record alone (``None``: unknown).

    The cheap way to it: a worker asks for most ticks of a message.  A record
    of the array form is read by hand up to its duration (``_took``), the rest
    of the entry left unread; any other form or encoding is decoded.
    """
    took = _took(entry)
    if took is not None:
        return None if took < 0 else took / 1_000_000
    try:
        first = decode_first(entry, lenient=True)
        if isinstance(first, list):
            took = _set(first[3])
            return None if took is None else int(took) / 1_000_000
        return float(first["ended_at"]) - float(first["started_at"])
    except (CodecError, TypeError, KeyError, ValueError, IndexError):
        return None


def decode_entry(entry: bytes, sensor: str = "") -> TickRecord:
    """Read a history entry of the sensor ``sensor``: the record as committed.

    A tick that asked for runs but had every one dropped as a duplicate reads
    as SKIPPED, as Dagster reports it.  A run of like skips reads as one
    record with its ``count`` and the first tick's start and id.
    """
    record_value, cursors, flags = _split(entry)
    try:
        if isinstance(record_value, list):
            record = _from_array(record_value, cursors, sensor)
        elif "s" in record_value:
            record = _from_map(record_value, cursors, sensor)
        else:  # an entry from before the compact form
            record = decode_from(TickRecord, record_value)
            if sensor and record.sensor != sensor:
                record = replace(record, sensor=sensor)
    except (KeyError, TypeError, ValueError, IndexError, UnicodeError) as exc:
        raise CodecError(f"malformed tick history entry: {exc!r}") from exc
    return with_flags(record, flags)


def with_flags(record: TickRecord, accepted: str) -> TickRecord:
    """The record as committed: which requests launched, and SKIPPED if none did."""
    if record.accepted != accepted:  # replace() is costly: most ticks ask for no runs
        record = replace(record, accepted=accepted)
    if record.status == TickStatus.SUCCESS.value and record.requests and "1" not in accepted:
        record = replace(record, status=TickStatus.SKIPPED.value, skip_reason=ALL_DROPPED)
    return record
