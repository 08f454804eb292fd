"""A tick message's argument: the columns the scheduler sends, and the maps sent before."""

from __future__ import annotations

import msgpack
import pytest

from lookout._core.storage import ClaimedTick
from lookout.testing import TickMessage
from lookout.workers.ticks import (
    ID_PREFIX,
    MalformedTickError,
    pack_ticks,
    parse_batch,
    parse_tick,
    tick_refs,
)


def _read(argument: object) -> list[TickMessage]:
    """What a worker makes of a message's argument, after the msgpack round trip."""
    args = msgpack.unpackb(msgpack.packb([argument]), raw=False)
    return [parse_tick(item) for item in parse_batch(args, {})]


def test_a_round_s_ticks_go_in_columns_with_their_ids_shared_prefix_written_once() -> None:
    ticks = [ClaimedTick(f"s{i}", f"{'ab' * 12}{i:08x}", 1.7e9 + i / 3) for i in range(300)]
    packed = pack_ticks(ticks)
    # The round's 24 characters, and the leading zeros of its counters (under 0x1000).
    assert packed[ID_PREFIX] == "ab" * 12 + "00000"
    assert packed["tick_id"][:2] == ["000", "001"]
    assert _read(packed) == [TickMessage(t.sensor, t.tick_id, t.due_at) for t in ticks]
    # ~21 bytes a tick, against ~74 as a list of maps.
    maps = [TickMessage(t.sensor, t.tick_id, t.due_at).to_wire() for t in ticks]
    assert len(msgpack.packb(packed)) * 3 < len(msgpack.packb(maps))


@pytest.mark.parametrize(
    "ids",
    [
        ["only-one"],  # the whole id is the prefix: its column holds ""
        ["x1", "y2", "x3"],  # nothing shared
        ["t-1", "t-10", "t-1"],  # one id is a prefix of another
    ],
)
def test_any_tick_ids_come_back_whole(ids: list[str]) -> None:
    ticks = [ClaimedTick(f"s{i}", tick_id, 5.0) for i, tick_id in enumerate(ids)]
    assert [t.tick_id for t in _read(pack_ticks(ticks))] == ids
    assert tick_refs([pack_ticks(ticks)]) == [(t.sensor, t.tick_id) for t in ticks]


def test_a_list_of_tick_maps_is_still_read() -> None:
    ticks = [TickMessage("a", "t-1", 1.5), TickMessage("b", "t-2", 2)]
    assert _read([t.to_wire() for t in ticks]) == ticks
    assert tick_refs([[t.to_wire() for t in ticks]]) == [("a", "t-1"), ("b", "t-2")]
    assert _read([]) == [] and _read(pack_ticks([])) == []


@pytest.mark.parametrize(
    ("argument", "reason"),
    [
        ({"sensor": ["a"], "tick_id": ["t"], "due": [1.0]}, "columns must be"),
        ({"sensor": ["a"], "tick_id": ["t"], "due_at": [1.0], ID_PREFIX: 7}, "not a string"),
        ({"sensor": ["a", "b"], "tick_id": ["t"], "due_at": [1.0], ID_PREFIX: ""}, "one length"),
        ({"sensor": "a", "tick_id": "t", "due_at": 1.0, ID_PREFIX: ""}, "one length"),
        ("not a list", "one positional argument"),
    ],
)
def test_a_batch_of_neither_form_is_malformed_as_a_whole(argument: object, reason: str) -> None:
    with pytest.raises(MalformedTickError, match=reason):
        parse_batch([argument], {})
    assert tick_refs([argument]) == []


def test_a_bad_tick_in_columns_is_malformed_alone() -> None:
    argument = {
        "sensor": ["a", "", "c", "d"],
        "tick_id": ["1", "2", 3, "4"],
        "due_at": [1.0, 2.0, 3.0, True],
        ID_PREFIX: "t-",
    }
    items = parse_batch([argument], {})
    assert parse_tick(items[0]) == TickMessage("a", "t-1", 1.0)
    for item, reason in zip(
        items[1:], ["no sensor name", "has no tick id", "no numeric due_at"], strict=True
    ):
        with pytest.raises(MalformedTickError, match=reason):
            parse_tick(item)
    # A dead process's parent names the ticks whose sensor and id it can read.
    assert tick_refs([argument]) == [("a", "t-1"), ("", "t-2"), ("d", "t-4")]
