"""A running deployment upgraded to the positional history entries loses nothing.

What the version before wrote stays in Redis: tick history entries as
compact maps (``i``, ``s``, ``started_at``...) each followed by its flags,
the newest one copied in the sensor hash's ``last``, ``last_commit`` as
"tick holder", a counters field per (sensor, status).  Written here as
that version wrote them (``first_compact_entry`` is its encoder), they
must read as before, and the new commit scripts must fold, trim, answer a
resend and count after them.  The compact form's own properties (a sensor
hash that stays a listpack, ids and times that read back) are here too.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import replace
from typing import Any

import msgpack
import pytest

from lookout._base.codec import encode_value
from lookout._core.storage.history import (
    STATUS_LETTERS,
    decode_entry,
    encode_record,
    entry_duration,
)
from lookout._core.storage.ticks import Death, Quarantine, TickCommit
from lookout.testing import Repositories, TickRecord
from lookout.workers.batch import holder_name

NAME = "upgraded"


def now_ms() -> float:
    # Times on a whole millisecond: the lateness is kept in microseconds, and
    # a due time on one reads back exactly (as it did before the upgrade).
    return round(time.time(), 3)


def first_compact_entry(record: TickRecord, flags: str = "") -> bytes:
    """An entry as the version before wrote it: a map, its cursors' map, its flags."""
    m: dict[str, Any] = {
        "i": record.tick_id,
        "s": STATUS_LETTERS[record.status],
        "started_at": float(record.started_at),
    }
    if record.ended_at is not None:
        m["ended_at"] = float(record.ended_at)
    if record.due_at is not None:
        m["l"] = round((record.started_at - record.due_at) * 1_000_000)
    for attribute, name in (("skip_reason", "r"), ("worker", "w")):
        if getattr(record, attribute) is not None:
            m[name] = getattr(record, attribute)
    if record.requests:
        m["q"] = [[r["run_key"], r["job_name"]] for r in record.requests]
    if record.count > 1:
        m.update(k=record.count, f=record.first_started_at, I=record.first_tick_id)
    cursors: dict[str, Any] = {"C": record.cursor_after}
    if record.cursor_before != record.cursor_after:
        cursors["c"] = record.cursor_before
    return encode_value(m) + encode_value(cursors) + encode_value(flags)


def tick(
    tick_id: str,
    started: float,
    *,
    status: str = "SKIPPED",
    reason: str | None = "quiet",
    run_key: str | None = None,
    count: int = 1,
) -> TickRecord:
    success = status == "SUCCESS"
    return TickRecord(
        tick_id=tick_id,
        sensor=NAME,
        status=status,
        started_at=started,
        ended_at=started + 0.25,
        due_at=round(started - 0.002, 6),  # the microsecond the lateness is kept in
        skip_reason=None if success else reason,
        requests=(
            [{"request_id": f"{tick_id}-0", "run_key": run_key, "job_name": "job"}]
            if success
            else []
        ),
        cursor_before=msgpack.packb("c1"),
        cursor_after=msgpack.packb("c2" if success else "c1"),
        worker="host:1",
        count=count,
        first_started_at=started - 10.0 if count > 1 else None,
        first_tick_id="old-first" if count > 1 else None,
    )


def commit(storage: Repositories, record: TickRecord, holder: str = "tester") -> TickRecord | None:
    """``record`` claimed, begun and committed by the scripts, as a worker commits it."""
    ledger = storage.ticks
    ledger.claim(NAME, record.tick_id, ttl=30.0)
    assert ledger.begin([(NAME, record.tick_id)], holder, ttl=30.0) == [""]
    launches: list[tuple[str | None, bytes]] = [
        (r["run_key"], msgpack.packb(r["request_id"])) for r in record.requests
    ]
    return ledger.commit(
        TickCommit(record, launches, True, record.cursor_after, None, holder=holder)
    )


def write_as_before(storage: Repositories, *entries: bytes) -> None:
    """History entries, oldest first, and the hash's copy of the newest, as before."""
    for entry in entries:
        storage.client.lpush(storage.keys.ticks(NAME), entry)
    storage.client.hset(storage.keys.sensor(NAME), "last", entries[-1])


def comparable(record: TickRecord) -> tuple[Any, ...]:
    return (
        record.tick_id,
        record.status,
        record.started_at,
        record.ended_at,
        record.due_at,
        record.skip_reason,
        record.worker,
        [(r["run_key"], r["job_name"]) for r in record.requests],
        record.cursor_before,
        record.cursor_after,
        record.accepted,
        record.count,
        record.first_started_at,
        record.first_tick_id,
    )


def test_entries_the_version_before_wrote_read_as_they_did(storage: Repositories) -> None:
    now = now_ms()
    success = tick("old-1", now - 3, status="SUCCESS")
    run = tick("old-2", now - 2, count=4)
    write_as_before(storage, first_compact_entry(success, "1"), first_compact_entry(run))
    newest, oldest = storage.ticks.history(NAME, 10)
    assert comparable(oldest) == comparable(replace(success, accepted="1"))
    assert comparable(newest) == comparable(run)
    # A worker's view of the sensor, and the monitor's: the newest entry.
    assert storage.sensors.state(NAME).last == newest
    (raw,) = storage.metrics.last_tick_entries([NAME])
    assert raw is not None and decode_entry(raw, NAME) == newest
    assert raw is not None and entry_duration(raw) == pytest.approx(0.25)


def test_a_skip_after_an_entry_of_the_version_before_folds_into_its_run(
    storage: Repositories,
) -> None:
    now = now_ms()
    write_as_before(storage, first_compact_entry(tick("old-2", now - 2, count=4)))
    new = tick(uuid.uuid4().hex, now)
    assert commit(storage, new) is not None
    (folded,) = storage.ticks.history(NAME, 10)
    assert (folded.tick_id, folded.count) == (new.tick_id, 5)
    assert (folded.first_tick_id, folded.first_started_at) == ("old-first", now - 12)
    # ... and after a single skip of before, its id starts the run.
    storage.client.delete(storage.keys.ticks(NAME))
    write_as_before(storage, first_compact_entry(tick("old-3", now - 1)))
    assert commit(storage, tick(uuid.uuid4().hex, now + 1)) is not None
    (folded,) = storage.ticks.history(NAME, 10)
    assert (folded.count, folded.first_tick_id, folded.first_started_at) == (2, "old-3", now - 1)


def test_an_entry_of_the_version_before_older_than_the_age_bound_goes_on_the_next_write(
    storage: Repositories,
) -> None:
    now = now_ms()
    write_as_before(
        storage,
        first_compact_entry(tick("two-days-ago", now - 2 * 86400)),
        first_compact_entry(tick("an-hour-ago", now - 3600, reason="other")),
    )
    assert commit(storage, tick(uuid.uuid4().hex, now, status="SUCCESS")) is not None
    kept = [t.tick_id for t in storage.ticks.history(NAME, 10)]
    assert kept[1:] == ["an-hour-ago"]


def test_a_commit_sent_again_finds_the_last_commit_the_version_before_wrote(
    storage: Repositories,
) -> None:
    # The commit went through before the upgrade, its reply was lost: the
    # worker's retry meets the new script.
    record = tick("t-before", now_ms(), status="SUCCESS")
    hash_key = storage.keys.sensor(NAME)
    storage.client.hset(hash_key, mapping={"last_commit": "t-before w:1:job", "last_flags": "1"})
    again = storage.ticks.commit(
        TickCommit(record, [(None, b"request")], True, record.cursor_after, None, holder="w:1:job")
    )
    assert again is not None and again.accepted == "1"
    refused = storage.ticks.commit(
        TickCommit(record, [(None, b"request")], True, record.cursor_after, None, holder="w:2:job")
    )
    assert refused is None
    assert storage.client.llen(storage.keys.ticks(NAME)) == 0  # nothing committed twice


def test_a_commit_sent_again_finds_the_digest_of_tick_and_holder_the_version_before_wrote(
    storage: Repositories,
) -> None:
    # That version named every commit by the SHA-1 of "tick holder"; this
    # one names a scheduler's tick by its holder's and the history's head.
    record = tick(uuid.uuid4().hex, now_ms(), status="SUCCESS")
    digest = hashlib.sha1(f"{record.tick_id} w:1:job".encode()).hexdigest()[:16]
    hash_key = storage.keys.sensor(NAME)
    storage.client.hset(hash_key, mapping={"last_commit": digest, "last_flags": "1"})
    again = storage.ticks.commit(
        TickCommit(record, [(None, b"request")], True, record.cursor_after, None, holder="w:1:job")
    )
    assert again is not None and again.accepted == "1"
    refused = storage.ticks.commit(
        TickCommit(record, [(None, b"request")], True, record.cursor_after, None, holder="w:2:job")
    )
    assert refused is None
    assert storage.client.llen(storage.keys.ticks(NAME)) == 0  # nothing committed twice


def test_the_copy_of_the_newest_entry_goes_with_the_next_commit(storage: Repositories) -> None:
    write_as_before(storage, first_compact_entry(tick("old-1", now_ms() - 1, reason="x")))
    assert commit(storage, tick(uuid.uuid4().hex, now_ms())) is not None
    assert storage.client.hget(storage.keys.sensor(NAME), "last") is None


def test_the_counters_of_the_version_before_add_to_the_new_ones(storage: Repositories) -> None:
    storage.client.hset(
        storage.keys.counters,
        mapping={f"ticks:{NAME}:SKIPPED": 5, f"requests:{NAME}": 2, f"dropped:{NAME}": 1},
    )
    now = now_ms()
    commit(storage, tick(uuid.uuid4().hex, now))
    commit(storage, tick(uuid.uuid4().hex, now + 1, status="SUCCESS", run_key="k"))
    commit(storage, tick(uuid.uuid4().hex, now + 2, status="SUCCESS", run_key="k"))  # dropped
    counters = storage.metrics.counters()
    assert counters.ticks == {(NAME, "SKIPPED"): 6, (NAME, "SUCCESS"): 2}
    assert (counters.requests, counters.dropped) == ({NAME: 4}, {NAME: 2})


def test_a_sensor_alternating_skips_and_runs_keeps_its_hash_a_listpack(
    storage: Repositories,
) -> None:
    # Redis's default hash-max-listpack-value (64): a longer value would turn
    # the hash into a hash table (~1 KB) for good.  The default retention.
    storage.client.config_set("hash-max-listpack-value", 64)
    defaults = Repositories.on(storage.client, storage.keys)
    now = now_ms()
    for k in range(30):
        record = tick(uuid.uuid4().hex, now + k, status="SUCCESS" if k % 2 else "SKIPPED")
        # As a pool process names itself, on a host with a long name (a pod's).
        holder = holder_name("lookout-worker-" + "x" * 60, 4_194_303, str(uuid.uuid4()))
        assert commit(defaults, record, holder) is not None
    assert storage.client.object("encoding", storage.keys.sensor(NAME)) == b"listpack"
    # Between two ticks it keeps what outlives a tick, nothing of the lease.
    fields = set(storage.client.hkeys(storage.keys.sensor(NAME)))
    assert fields == {b"last_started", b"cursor", b"last_commit", b"last_flags", b"ends_from"}
    assert storage.client.llen(storage.keys.ticks(NAME)) == defaults.ticks.history_size


def test_a_commit_between_two_deaths_counts_them_from_none_again_and_keeps_no_count(
    storage: Repositories,
) -> None:
    # The count of deaths in a row (``kills``) is no field once a commit reset it.
    def die(tick_id: str) -> str:
        storage.ticks.claim(NAME, tick_id, ttl=30.0)
        assert storage.ticks.begin([(NAME, tick_id)], "h", ttl=30.0) == [""]
        death = Death("killed", by_chance=False, redelivery_ttl=5.0)
        assert storage.ticks.abandon([(NAME, tick_id)], "h", death, now_ms(), Quarantine(after=2))
        error = storage.ticks.history(NAME, 1)[0].error
        assert error is not None
        return error

    assert "quarantined" not in die("d1")
    assert storage.client.hget(storage.keys.sensor(NAME), "kills") == b"1"
    assert commit(storage, tick(uuid.uuid4().hex, now_ms())) is not None
    assert storage.client.hget(storage.keys.sensor(NAME), "kills") is None
    assert "quarantined" not in die("d2")
    assert "quarantined" in die("d3")  # two in a row


def test_a_lease_holders_name_tells_jobs_apart_within_a_listpack_value() -> None:
    host = "lookout-worker-" + "x" * 60
    job = str(uuid.uuid4())
    name = holder_name(host, 4_194_303, job)
    assert len(name.encode()) <= 64 and name.startswith(host[:23] + "~")
    # The parent names a dead process's job as the process named itself.
    assert holder_name(host, 4_194_303, job) == name
    assert len({holder_name(host, 1, str(uuid.uuid4())) for _ in range(1000)}) == 1000


def test_pods_whose_host_names_differ_only_in_the_tail_hold_leases_as_two() -> None:
    # Two pods of one deployment: the same long head, the same pool pid, and a
    # message redelivered from one to the other keeps its task id.
    job = str(uuid.uuid4())
    pod_a = holder_name("acme-lookout-sensor-worker-7d9f8c6b5-x2k4q", 7, job)
    pod_b = holder_name("acme-lookout-sensor-worker-7d9f8c6b5-p9m3z", 7, job)
    assert pod_a != pod_b
    assert len(pod_a.encode()) <= 64 and len(pod_b.encode()) <= 64
    # A short host name is kept whole.
    assert holder_name("worker-1", 7, job).startswith("worker-1:7:")


# Fixed ids: parameters must be the same in every pytest-xdist process.
@pytest.mark.parametrize(
    "tick_id",
    [
        "5f0c2a9e8d4b4e1f9a7c3b6d2e8f1a04",
        "t1",
        "5F0C2A9E8D4B4E1F9A7C3B6D2E8F1A04",
        "g" * 32,
        "0" * 32,
    ],
)
def test_a_tick_id_of_any_form_reads_back_as_it_was(tick_id: str) -> None:
    record = tick(tick_id, 1_795_992_780.123456)
    back = decode_entry(encode_record(record), NAME)
    assert back.tick_id == tick_id
    assert back.ended_at is not None and record.ended_at is not None
    assert record.ended_at - 1e-6 < back.ended_at <= record.ended_at
    assert comparable(back)[4:] == comparable(record)[4:] and back.due_at == record.due_at
