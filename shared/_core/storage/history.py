"""Tick history entries: how a tick is kept in its sensor's history, and how it reads back.

An entry is up to three msgpack values one after the other:

1. the record, as a compact map (``encode_record``): short names, only the
   fields that are set, no sensor name (the history is the sensor's), a
   request's id left out when it is the tick's own numbering; text and
   numbers only, so that Lua's cmsgpack (which reads no binary) can read
   and rewrite it.  A run of like SKIPPED ticks folded into one entry by the
   Lua helper ``write_record`` (``scripts.lease``) has ``k`` (how many), ``f``
   (the first one's start) and ``I`` or ``J`` (its id, as ``i`` or ``j``);
2. only when the tick had a cursor: a map of the cursors (binary) or their
   digests, a cursor the tick did not change kept once;
3. the commit's accepted/dropped flags (``"1"``/``"0"`` per request).

Every byte of an entry is kept ``LOOKOUT_TICK_HISTORY`` times per sensor
(bench/memory.py), so the record spends few: a tick id as the scheduler
makes them (32 lowercase hex digits) is ``j``, its 128 bits as 19 ASCII
characters of 7 bits each (Lua's cmsgpack reads no binary, and 7-bit text
is valid UTF-8); any other id (a tick by hand) is ``i`` as given.  The
start is ``t`` (unix s) and the end ``d``, microseconds after it (rounded
down: an end never reads back later than it was).  Lua reads ``s``, ``r``,
``t``, ``d`` and the run's letters, and writes FAILURE records with ``i``.
The newest entry is the head of the list: the sensor's hash keeps no copy.

Entries written by earlier versions still read, and Lua still folds and
trims after them: the first compact form (``i`` always, ``started_at`` and
``ended_at`` as floats) and the form before it (full field names, with the
sensor).
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from lookout._base.codec import decode_first, decode_from, decode_values, encode_value
from lookout._base.errors import CodecError
from lookout._base.wire import TickRecord, TickStatus

# The default retention (``Settings.tick_history``, ``tick_history_age``): a
# compact entry is ~110-170 bytes (a worker's skip or run request with a small
# cursor; bench/memory.py), so 12 of them stay within ~2 KB of Redis per
# sensor even when no two ticks in a row fold; a quiet sensor's day is one.
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
_STATUSES = {letter: status for status, letter in STATUS_LETTERS.items()}

# Optional text and number fields: record attribute -> compact name.
_PLAIN = (
    ("skip_reason", "r"),
    ("error", "e"),
    ("traceback", "b"),
    ("worker", "w"),
    ("requests_total", "n"),
)


_HEX_ID = re.compile(r"[0-9a-f]{32}")


def _micros(seconds: float) -> int:
    return round(seconds * 1_000_000)


def pack_tick_id(tick_id: str) -> tuple[str, str]:
    """The record's (name, value) for a tick id: ``j`` and 19 characters for a
    scheduler's 32 hex digits, else ``i`` and the id as given."""
    if len(tick_id) != 32 or not _HEX_ID.fullmatch(tick_id):
        return "i", tick_id
    n = int(tick_id, 16)
    return "j", bytes((n >> (7 * k)) & 0x7F for k in range(18, -1, -1)).decode("ascii")


def unpack_tick_id(packed: str) -> str:
    """The tick id ``pack_tick_id`` packed as ``j``."""
    n = 0
    for c in packed.encode("ascii"):
        n = (n << 7) | c
    return f"{n:032x}"


def _tick_id(m: dict[str, Any], text_name: str, packed_name: str) -> str | None:
    if packed_name in m:
        return unpack_tick_id(m[packed_name])
    return str(m[text_name]) if text_name in m else None


def _started(m: dict[str, Any]) -> float:
    return float(m["t"] if "t" in m else m["started_at"])


def _ended(m: dict[str, Any], started: float) -> float | None:
    if "d" in m:
        return started + int(m["d"]) / 1_000_000
    return float(m["ended_at"]) if "ended_at" in m else None


def entry_duration(entry: bytes) -> float | None:
    """How long an entry's tick took, read from its record alone (``None``: unknown).

    The cheap way to it: a worker asks for most ticks of a message.
    """
    try:
        m = decode_first(entry)
        if "d" in m:
            return float(m["d"]) / 1_000_000
        return float(m["ended_at"]) - float(m["started_at"])
    except (CodecError, TypeError, KeyError, ValueError):
        return None


def encode_record(record: TickRecord) -> bytes:
    """A tick record as its history entry holds it: the compact map, then its cursors if any."""
    id_name, packed = pack_tick_id(record.tick_id)
    m: dict[str, Any] = {
        id_name: packed,
        "s": STATUS_LETTERS[record.status],
        "t": float(record.started_at),
    }
    if record.ended_at is not None:
        # Rounded down and never negative: the end reads back no later than it was.
        m["d"] = max(0, math.floor((record.ended_at - record.started_at) * 1_000_000))
    if record.due_at is not None:
        m["l"] = _micros(record.started_at - record.due_at)
    for attribute, name in _PLAIN:
        value = getattr(record, attribute)
        if value is not None:
            m[name] = value
    if record.requests:
        m["q"] = [_request(record.tick_id, i, r) for i, r in enumerate(record.requests)]
    if record.logs:
        m["g"] = record.logs
    cursors: dict[str, Any] = {}
    _put_pair(cursors, ("c", "C"), record.cursor_before, record.cursor_after)
    _put_pair(cursors, ("h", "H"), record.cursor_before_digest, record.cursor_after_digest)
    return encode_value(m) + (encode_value(cursors) if cursors else b"")


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


def _from_compact(m: dict[str, Any], cursors: dict[str, Any], sensor: str) -> TickRecord:
    started = _started(m)
    tick_id = _tick_id(m, "i", "j")
    if tick_id is None:
        raise KeyError("i")
    cursor_before, cursor_after = _pair(cursors, ("c", "C"))
    digest_before, digest_after = _pair(cursors, ("h", "H"))
    plain: dict[str, Any] = {attribute: m.get(name) for attribute, name in _PLAIN}
    return TickRecord(
        tick_id=tick_id,
        sensor=sensor,
        status=_STATUSES[m["s"]],
        started_at=started,
        ended_at=_ended(m, started),
        # Rounded to the microsecond the lateness is kept in: a schedule's
        # due time on a whole minute reads back as that minute exactly.
        due_at=round(started - m["l"] / 1_000_000, 6) if "l" in m else None,
        requests=[
            {
                "request_id": r[2] if len(r) > 2 else f"{tick_id}-{i}",
                "run_key": r[0],
                "job_name": r[1],
            }
            for i, r in enumerate(m.get("q", ()))
        ],
        logs=list(m.get("g", ())),
        cursor_before=cursor_before,
        cursor_after=cursor_after,
        cursor_before_digest=digest_before,
        cursor_after_digest=digest_after,
        count=int(m.get("k", 1)),
        first_started_at=float(m["f"]) if "f" in m else None,
        first_tick_id=_tick_id(m, "I", "J"),
        **plain,
    )


def decode_entry(entry: bytes, sensor: str = "") -> TickRecord:
    """Read a history entry of the sensor ``sensor``: the record as committed.

    A tick that asked for runs but had every one dropped as a duplicate reads
    as SKIPPED, as Dagster reports it.  A run of like skips reads as one
    record with its ``count`` and the first tick's start and id.
    """
    values = decode_values(entry)
    maps = [v for v in values if isinstance(v, dict)]
    flags = next((v for v in values if isinstance(v, str)), "")
    if not maps:
        raise CodecError("empty or malformed tick history entry")
    try:
        if "s" in maps[0]:
            record = _from_compact(maps[0], maps[1] if len(maps) > 1 else {}, sensor)
        else:  # an entry from before the compact form
            record = decode_from(TickRecord, maps[0])
            if sensor and record.sensor != sensor:
                record = replace(record, sensor=sensor)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise CodecError(f"malformed tick history entry: {exc!r}") from exc
    return with_flags(record, flags)


def with_flags(record: TickRecord, accepted: str) -> TickRecord:
    """The record as committed: which requests launched, and SKIPPED if none did."""
    if record.accepted != accepted:  # replace() is costly: most ticks ask for no runs
        record = replace(record, accepted=accepted)
    if record.status == TickStatus.SUCCESS.value and record.requests and "1" not in accepted:
        record = replace(record, status=TickStatus.SKIPPED.value, skip_reason=ALL_DROPPED)
    return record
