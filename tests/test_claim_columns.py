"""A claiming round hands back its ticks in columns, and they reach the message whole.

``CLAIM_DUE`` answers with the round's names joined in one string, its due
times as the due index holds them and the tick ids left to the caller (the
round's prefix and a counter); the scheduler carries these columns to the
tick message without an object per tick.  Each tick must still come out as
claimed: its sensor's name, whatever characters it has, the id its lease
holds, and its due time to the last bit.
"""

from __future__ import annotations

import uuid

import msgpack

from lookout._core.storage import ClaimedTick, ClaimedTicks, Repositories
from lookout.testing import TickMessage
from lookout.workers.ticks import pack_columns, pack_ticks, parse_batch, parse_tick

# Names a byte-joined reply could get wrong: spaces, a newline, non-ASCII
# letters (U+00FF is two bytes in UTF-8, neither of them 0xff), an emoji.
NAMES = ["plain", "with space", "new\nline", "ÿ-umlaut", "日本語", "emoji-🛰", "tab\tend"]
# Due times with 17 significant digits: the round must not round them.
DUE = {name: 1_764_000_000.123_456_7 + i / 3 for i, name in enumerate(NAMES)}


def _claim(storage: Repositories, prefix: str) -> ClaimedTicks:
    token = uuid.uuid4().hex
    assert storage.leader.acquire(token, 30.0)
    for name in NAMES:
        storage.client.hset(storage.keys.sensor(name), mapping={"default": "RUNNING"})
    storage.client.zadd(storage.keys.due, DUE)
    claim = storage.ticks.claim_due(token, max(DUE.values()), limit=100, ttl=30, tick_prefix=prefix)
    assert claim is not None
    return claim.claimed


def test_a_round_s_columns_hold_each_name_the_id_its_lease_holds_and_the_exact_due_time(
    storage: Repositories,
) -> None:
    prefix = uuid.uuid4().hex[:24]
    claimed = _claim(storage, prefix)
    # In due order, as the index gives them.
    assert list(claimed.sensors) == sorted(NAMES, key=DUE.__getitem__)
    assert list(claimed.due_at) == sorted(DUE.values())
    assert [t.tick_id for t in claimed] == [f"{prefix}{n:08x}" for n in range(1, len(NAMES) + 1)]
    for tick in claimed:
        assert storage.sensors.state(tick.sensor).inflight == tick.tick_id
    # The message the columns make is the one a tick at a time made.
    packed = pack_columns(claimed.sensors, claimed.id_prefix, claimed.ids, claimed.due_at)
    assert packed == pack_ticks(list(claimed))
    assert packed["tick_id_prefix"] == prefix + "0000000" and packed["tick_id"][0] == "1"


def test_a_round_with_nothing_due_hands_back_no_columns(storage: Repositories) -> None:
    token = uuid.uuid4().hex
    assert storage.leader.acquire(token, 30.0)
    claim = storage.ticks.claim_due(token, 1.0, limit=10, ttl=30, tick_prefix="empty")
    assert claim is not None and len(claim.claimed) == 0 and claim.ticks == []


def test_columns_make_the_message_a_tick_at_a_time_made() -> None:
    ticks = [ClaimedTick(f"s{i}", f"{'cd' * 12}{i + 1:08x}", 1.7e9 + i / 7) for i in range(40)]
    columns = ClaimedTicks(
        [t.sensor for t in ticks],
        "cd" * 12,
        [t.tick_id[24:] for t in ticks],
        [t.due_at for t in ticks],
    )
    assert list(columns) == ticks
    for part in (columns, columns.part(3, 17), columns.where(lambda s: s.endswith("1"))):
        whole = list(part)
        packed = pack_columns(part.sensors, part.id_prefix, part.ids, part.due_at)
        assert packed == pack_ticks(whole)
        args = msgpack.unpackb(msgpack.packb([packed]), raw=False)
        read = [parse_tick(item) for item in parse_batch(args, {})]
        assert read == [TickMessage(t.sensor, t.tick_id, t.due_at) for t in whole]
