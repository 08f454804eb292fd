"""The shape of a tick message: each tick checked, what a message came to.

A message's one positional argument is its batch of ticks, in one of two forms:

- **columns** (what the scheduler sends, ``pack_ticks``): one map with a list
  per ``TickMessage`` field, ``{"sensor": [...], "tick_id": [...], "due_at":
  [...], "tick_id_prefix": "..."}``, each tick id written after the prefix its
  batch's ids share.  A tick is ~26 bytes of msgpack instead of ~74 as a map
  (the ids of one round share 24 of their 32 characters), and every byte of a
  message is paid for several times in the worker's main process (kombu
  decodes the base64 body twice, JSON-encodes the whole message into its
  unacked index, Celery unpacks the body to look for a protocol-1 key, then
  pickles it to a pool process) and in Redis (pushed, popped, indexed, deleted).
- **maps**, a list of ``TickMessage`` maps: the form before, still read, so
  that messages queued by an older scheduler are evaluated after an upgrade.

A batch of neither form, or a tick that is not well formed, is written to the
dead-letter stream with the reason; the other ticks of the batch go on
(``lookout.workers.batch`` does it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lookout._base.codec import encode_value
from lookout._base.errors import CodecError, LookoutError
from lookout._base.wire import TickMessage

# Where a dead letter goes: (reason, raw payload, reference such as the task id).
DeadLetterSink = Callable[[str, bytes, str | None], None]

# The columns form's keys: one list per ``TickMessage`` field, and the prefix
# every tick id of the batch starts with (written once, not in each id).
COLUMNS = ("sensor", "tick_id", "due_at")
ID_PREFIX = "tick_id_prefix"
_COLUMN_KEYS = frozenset([*COLUMNS, ID_PREFIX])


class MalformedTickError(LookoutError):
    """A tick message (or one tick in it) does not have the shape of a ``TickMessage``."""


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one message's ticks."""

    committed: int = 0
    failed: int = 0  # of the committed, FAILURE ticks: the sensor raised (Flower shows it)
    already_done: int = 0  # committed before, or superseded: a redelivery
    dead_lettered: int = 0
    given_back: int = 0  # held and not evaluated (the process stopped): due again
    unknown: int = 0  # sensors this code does not define: given back
    owed: int = 0  # not committed when Redis went away: given back once it answers

    def to_log(self) -> dict[str, int]:
        return {
            "committed": self.committed,
            "failed": self.failed,
            "already_done": self.already_done,
            "dead_lettered": self.dead_lettered,
            "given_back": self.given_back,
            "unknown": self.unknown,
            "owed": self.owed,
        }


def payload_bytes(value: Any) -> bytes:
    """The msgpack bytes of what a message held, for the dead letter (repr if not encodable)."""
    try:
        return encode_value(value)
    except CodecError:
        return repr(value).encode()


class Tick(Protocol):
    """What ``pack_ticks`` reads of a tick: a ``ClaimedTick``'s, or a ``TickMessage``'s, fields."""

    @property
    def sensor(self) -> str: ...
    @property
    def tick_id(self) -> str: ...
    @property
    def due_at(self) -> float: ...


def pack_ticks(ticks: Sequence[Tick]) -> dict[str, Any]:
    """A batch of ticks as a message's argument, in the columns form."""
    return pack_columns(
        [t.sensor for t in ticks], "", [t.tick_id for t in ticks], [t.due_at for t in ticks]
    )


def pack_columns(
    sensors: Sequence[str], id_prefix: str, ids: Sequence[str], due_at: Sequence[float]
) -> dict[str, Any]:
    """A batch of ticks given in columns (the i-th tick's id: ``id_prefix + ids[i]``) as a
    message's argument, in the columns form: what ``pack_ticks`` makes of the same ticks.
    """
    cut = _shared_length(ids)
    return {
        "sensor": list(sensors),
        ID_PREFIX: id_prefix + ids[0][:cut] if cut else id_prefix,
        "tick_id": [i[cut:] for i in ids] if cut else list(ids),
        "due_at": list(due_at),
    }


def _shared_length(texts: Sequence[str]) -> int:
    """How many leading characters all of ``texts`` share (those of its least and greatest)."""
    if not texts:
        return 0
    low, high = min(texts), max(texts)
    for n, (a, b) in enumerate(zip(low, high, strict=False)):
        if a != b:
            return n
    return len(low)  # the least is a prefix of the greatest


def parse_tick(item: Any) -> TickMessage:
    """A ``TickMessage`` from one item of ``parse_batch``: a wire map, or the
    ``(sensor, tick_id, due_at)`` of a tick of the columns form; each field's type checked.
    """
    # A tuple only ever comes from the columns form (msgpack makes lists).
    if type(item) is tuple:
        sensor, tick_id, due_at = item
    # A dict first, a tuple of types: the Mapping ABC and a union cost more, per tick.
    elif type(item) is dict or isinstance(item, Mapping):
        sensor, tick_id, due_at = item.get("sensor"), item.get("tick_id"), item.get("due_at")
    else:
        raise MalformedTickError(f"a tick must be a map, got {type(item).__name__}: {item!r:.200}")
    if not isinstance(sensor, str) or not sensor:
        raise MalformedTickError(f"tick has no sensor name: {item!r:.200}")
    if not isinstance(tick_id, str) or not tick_id:
        raise MalformedTickError(f"tick of sensor '{sensor}' has no tick id: {item!r:.200}")
    if isinstance(due_at, bool) or not isinstance(due_at, (int, float)):
        raise MalformedTickError(f"tick of sensor '{sensor}' has no numeric due_at: {due_at!r}")
    return TickMessage(sensor, tick_id, float(due_at))  # by position: cheaper, per tick


def parse_batch(args: Sequence[Any], kwargs: Mapping[str, Any]) -> list[Any]:
    """The ticks a message carries (its one positional argument), each for ``parse_tick``:
    the maps of the maps form, a ``(sensor, tick_id, due_at)`` per tick of the columns form.
    """
    batch = args[0] if len(args) == 1 and not kwargs else None
    if isinstance(batch, list | tuple):
        return list(batch)
    if isinstance(batch, dict):
        return _columns(batch)
    raise MalformedTickError(
        "a tick message takes one positional argument, its ticks in columns or a list of "
        f"TickMessage maps; got args={list(args)!r:.200} kwargs={dict(kwargs)!r:.200}"
    )


def _columns(batch: dict[Any, Any]) -> list[Any]:
    if batch.keys() != _COLUMN_KEYS:
        raise MalformedTickError(
            f"a tick message's columns must be {sorted(_COLUMN_KEYS)}, got "
            f"{sorted(map(repr, batch))!r:.200}"
        )
    prefix, columns = batch[ID_PREFIX], [batch[name] for name in COLUMNS]
    if not isinstance(prefix, str):
        raise MalformedTickError(f"a tick message's {ID_PREFIX} is not a string: {prefix!r:.200}")
    if not all(isinstance(c, list) for c in columns) or len({len(c) for c in columns}) != 1:
        raise MalformedTickError(
            "a tick message's columns must be lists of one length, got "
            + ", ".join(f"{n}: {c!r:.60}" for n, c in zip(COLUMNS, columns, strict=True))
        )
    sensors, ids, due = columns
    try:
        return list(zip(sensors, [prefix + i for i in ids] if prefix else ids, due, strict=True))
    except TypeError:
        # An id that is not a string: ``parse_tick`` dead-letters that tick, the others go on.
        whole = [prefix + i if isinstance(i, str) else i for i in ids]
        return list(zip(sensors, whole, due, strict=True))


def tick_refs(args: Sequence[Any]) -> list[tuple[str, str]]:
    """The ``(sensor, tick_id)`` of each tick a message names, read leniently (for a dead
    pool process's parent: whatever ``parse_tick`` would say of its other fields).
    """
    try:
        items = parse_batch(args, {})
    except MalformedTickError:
        return []
    refs = []
    for item in items:
        if type(item) is tuple:
            sensor, tick_id = item[0], item[1]
        elif isinstance(item, Mapping):
            sensor, tick_id = item.get("sensor"), item.get("tick_id")
        else:
            continue
        if isinstance(sensor, str) and isinstance(tick_id, str):
            refs.append((sensor, tick_id))
    return refs
