"""The tick history: compact records, runs of like skips kept as one, retention by count and age.

Every tick is evaluated by the workers' ``TickRunner`` and committed by the
real commit script on a real redis-server; the readers (``lookout.testing``,
the CLI as a process, the web UI over HTTP) read what the script wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable

import msgpack
import pytest
from starlette.testclient import TestClient

from lookout import Settings
from lookout._base.codec import encode
from lookout._core.settings import SettingsError
from lookout._core.storage.history import decode_entry, encode_record, entry_duration, may_fold
from lookout._core.storage.ticks import TickCommit, TickLedger
from lookout._tools.cli._json import dumps, tick_json
from lookout._tools.monitor import create_app
from lookout._tools.monitor.ticks import TickTracker
from lookout._tools.operator import sync_definitions
from lookout.testing import (
    Repositories,
    TickRecord,
    TickRunner,
    TickStatus,
    load_definitions,
    tick_runner,
)
from tests.conftest import ROOT, process_env

LOCATION = "tests.locations.history_sensors"
Steer = Callable[[str], None]


@pytest.fixture
def steer(monkeypatch: pytest.MonkeyPatch) -> Steer:
    """``steer(do)``: what the ``steered`` sensor does on its next ticks (``HISTORY_DO``)."""

    def set_to(do: str) -> None:
        monkeypatch.setenv("HISTORY_DO", do)

    return set_to


def runner_on(
    storage: Repositories, settings: Settings, *, size: int = 16, age: float = 86400.0
) -> TickRunner:
    repos = Repositories.on(storage.client, storage.keys, history_size=size, history_age=age)
    return tick_runner(load_definitions(module=LOCATION), repos, settings)


def ticks(runner: TickRunner, n: int) -> list[TickRecord]:
    done = [runner.tick("steered") for _ in range(n)]
    assert all(t is not None for t in done)
    return [t for t in done if t is not None]


def shape(history: list[TickRecord]) -> list[tuple[str, str | None, int]]:
    return [(t.status, t.skip_reason, t.count) for t in history]


def committed_skips(
    storage: Repositories, n: int, reason: str, ago: float = 0.0, age: float = 86400.0
) -> list[TickRecord]:
    """``n`` SKIPPED ticks of ``steered``, each claimed, begun and committed by the scripts.

    ``ago``: their records say they started that long ago; ``age``: the retention's.
    """
    ledger = Repositories.on(storage.client, storage.keys, history_age=age).ticks
    done = []
    for _ in range(n):
        tick_id = uuid.uuid4().hex
        ledger.claim("steered", tick_id, ttl=30.0)
        assert ledger.begin([("steered", tick_id)], "tester", ttl=30.0) == [""]
        started = time.time() - ago
        record = TickRecord(
            tick_id=tick_id,
            sensor="steered",
            status="SKIPPED",
            started_at=started,
            ended_at=started + 0.000_25,
            due_at=started - 0.002,
            skip_reason=reason,
            cursor_before=b"\x92\xc4\x02\x00\xff",
            cursor_after=b"\x92\xc4\x02\x00\xff",
            worker="tester",
        )
        assert ledger.commit(
            TickCommit(record, [], True, record.cursor_after, None, holder="tester")
        )
        done.append(record)
    return done


def test_a_thousand_like_skips_are_one_record_with_their_count_and_time_range(
    storage: Repositories,
) -> None:
    done = committed_skips(storage, 1000, "nothing new")
    (kept,) = storage.ticks.history("steered", 100)
    assert (kept.status, kept.skip_reason, kept.count) == ("SKIPPED", "nothing new", 1000)
    assert kept.first_tick_id == done[0].tick_id and kept.tick_id == done[-1].tick_id
    assert kept.range_started_at == done[0].started_at
    assert kept.ended_at == pytest.approx(done[-1].ended_at, abs=2e-6)
    assert kept.due_at == pytest.approx(done[-1].due_at, abs=2e-6)
    assert kept.cursor_before == kept.cursor_after == done[-1].cursor_after
    # The counters by status stay exact: one per tick, not per record.
    assert storage.metrics.counters().ticks == {("steered", "SKIPPED"): 1000}
    # The sensor's last tick is the run too.
    last = storage.sensors.state("steered").last
    assert last is not None and last.count == 1000 and last.sensor == "steered"


def test_a_skip_with_another_reason_or_none_or_after_another_status_starts_a_new_record(
    storage: Repositories, settings: Settings, steer: Steer
) -> None:
    runner = runner_on(storage, settings)
    for do, n in [("skip:a", 3), ("skip:b", 2), ("skip", 2), ("run", 1), ("skip", 2)]:
        steer(do)
        ticks(runner, n)
    assert shape(storage.ticks.history("steered", 100)) == [
        ("SKIPPED", None, 2),
        ("SUCCESS", None, 1),
        ("SKIPPED", None, 2),
        ("SKIPPED", "b", 2),
        ("SKIPPED", "a", 3),
    ]


def test_may_fold_says_no_only_when_the_head_surely_cannot_take_the_skip_in() -> None:
    def head(status: str, reason: str | None) -> bytes:
        return encode_record(
            TickRecord(uuid.uuid4().hex, "steered", status, 1.0, 1.5, None, reason)
        )

    assert may_fold(head("SKIPPED", "nothing new"), "nothing new")
    assert may_fold(head("SKIPPED", None), None)
    assert may_fold(head("SKIPPED", "x"), "x\u00e9") is False
    assert may_fold(head("SKIPPED", "nothing new (1)"), "nothing new (2)") is False
    assert may_fold(head("SUCCESS", None), None) is False
    assert may_fold(head("FAILURE", None), "x") is False
    assert may_fold(None, "x") is False
    # An entry of the first compact form (a map): the script compares it.
    assert may_fold(msgpack.packb({"i": "t", "s": "K", "r": "x"}), "x")


def test_a_skip_committed_as_one_that_cannot_fold_keeps_a_record_of_its_own(
    storage: Repositories,
) -> None:
    # The hint is the evaluation's view of the head: one that is wrong (the
    # head changed since) costs a fold, never a wrong one.
    committed_skips(storage, 2, "quiet")
    tick_id = uuid.uuid4().hex
    storage.ticks.claim("steered", tick_id, ttl=30.0)
    assert storage.ticks.begin([("steered", tick_id)], "tester", ttl=30.0) == [""]
    now = time.time()
    record = TickRecord(tick_id, "steered", "SKIPPED", now, now + 0.001, skip_reason="quiet")
    commit = TickCommit(record, [], False, None, None, holder="tester", fold=False)
    assert storage.ticks.commit_many([commit]) == [record]
    assert shape(storage.ticks.history("steered", 100)) == [
        ("SKIPPED", "quiet", 1),
        ("SKIPPED", "quiet", 2),
    ]


def test_history_keeps_the_newest_count_of_records_when_statuses_alternate(
    storage: Repositories, settings: Settings, steer: Steer
) -> None:
    runner = runner_on(storage, settings, size=4)
    last: list[TickRecord] = []
    for _ in range(5):
        for do in ("skip:quiet", "run"):
            steer(do)
            last = ticks(runner, 1)
    history = storage.ticks.history("steered", 100)
    assert shape(history) == [("SUCCESS", None, 1), ("SKIPPED", "quiet", 1)] * 2
    assert history[0].tick_id == last[0].tick_id
    assert storage.client.llen(storage.keys.ticks("steered")) == 4


def test_records_that_ended_longer_ago_than_the_age_bound_go_on_the_next_write(
    storage: Repositories, settings: Settings, steer: Steer
) -> None:
    runner = runner_on(storage, settings, age=1.0)
    steer("fail")
    ticks(runner, 1)
    steer("skip:old")
    ticks(runner, 1)
    time.sleep(1.3)
    steer("skip:new")
    ticks(runner, 1)
    assert shape(storage.ticks.history("steered", 100)) == [("SKIPPED", "new", 1)]
    # A run that keeps growing is as young as its latest tick: it stays.
    for _ in range(2):
        time.sleep(0.6)
        ticks(runner, 1)
    assert shape(storage.ticks.history("steered", 100)) == [("SKIPPED", "new", 3)]


def test_a_record_keeps_an_unchanged_cursor_once_and_no_sensor_name(
    storage: Repositories, settings: Settings, steer: Steer
) -> None:
    runner = runner_on(storage, settings)
    steer("skip:a")
    ticks(runner, 1)  # the cursor changes: before (none) and after
    steer("skip:b")
    ticks(runner, 2)  # the second: the same after as before (the sensor sets it again)
    entry = storage.client.lindex(storage.keys.ticks("steered"), 0)
    assert isinstance(entry, bytes)
    assert entry.count(b"\x00\xff") == 1 and b"steered" not in entry
    assert len(entry) < 200  # the record with its run of two, and the cursor once
    (newest, oldest) = storage.ticks.history("steered", 100)
    assert newest.cursor_before == newest.cursor_after
    assert oldest.cursor_before is None and oldest.cursor_after is not None


def test_an_entry_from_before_the_compact_form_reads_and_the_next_skip_commits_after_it(
    storage: Repositories, settings: Settings, steer: Steer
) -> None:
    old = TickRecord(
        tick_id="old-1",
        sensor="steered",
        status="SKIPPED",
        started_at=1000.0,
        ended_at=1000.5,
        skip_reason="same",
        cursor_before=b"\x92\xc4\x02\x00\xff",  # binary: Lua's cmsgpack cannot read it
        cursor_after=b"\x92\xc4\x02\x00\xff",
    )
    storage.client.lpush(storage.keys.ticks("steered"), encode(old) + msgpack.packb(""))
    steer("skip:same")
    ticks(runner_on(storage, settings), 2)
    history = storage.ticks.history("steered", 100)
    assert shape(history) == [("SKIPPED", "same", 2), ("SKIPPED", "same", 1)]
    assert history[1].tick_id == "old-1" and history[1].cursor_before == old.cursor_before


def lookout_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout", *args, "-m", LOCATION],
        env=process_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_shows_a_run_of_skips_with_its_count_and_time_range(
    storage: Repositories, settings: Settings, steer: Steer
) -> None:
    steer("skip:nothing new")
    done = ticks(runner_on(storage, settings), 3)
    out = lookout_cli(settings, "sensor", "ticks", "steered")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if done[-1].tick_id in x)
    first = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(done[0].started_at))
    assert "SKIPPED x3 (" + first in line and "nothing new" in line
    # --json (the same reading, in process: each CLI start costs seconds).
    as_json = json.loads(dumps(tick_json(storage.ticks.history("steered", 1)[0])))
    assert as_json["count"] == 3 and as_json["first_tick_id"] == done[0].tick_id
    assert as_json["range_started_at"] == done[0].started_at


def test_the_sensor_and_tick_pages_show_a_run_of_skips_with_its_count_and_range(
    storage: Repositories, settings: Settings, steer: Steer
) -> None:
    defs = load_definitions(module=LOCATION)
    sync_definitions(defs, storage.sensors)
    steer("skip:nothing new")
    done = ticks(runner_on(storage, settings), 4)
    client = TestClient(create_app(defs, storage, settings))
    page = client.get("/sensors/steered")
    assert page.status_code == 200
    assert "&times;4 ticks" in page.text
    # The run is found by its first tick's id as by its latest's.
    for tick_id in (done[0].tick_id, done[-1].tick_id):
        tick = client.get(f"/sensors/steered/ticks/{tick_id}")
        assert tick.status_code == 200
        assert "4 SKIPPED ticks in a row" in tick.text and done[0].tick_id in tick.text


def test_the_monitor_counts_each_tick_a_run_of_skips_gains_once(storage: Repositories) -> None:
    tracker = TickTracker()
    committed_skips(storage, 3, "quiet")
    assert tracker.update(storage.metrics, ["steered"]) == 3
    assert tracker.update(storage.metrics, ["steered"]) == 0
    committed_skips(storage, 2, "quiet")
    assert tracker.update(storage.metrics, ["steered"]) == 2
    assert tracker.lateness.count == 5 and tracker.durations["steered"].count == 5


def test_the_retention_settings_are_checked_and_age_zero_means_no_bound() -> None:
    assert Settings.from_env({"LOOKOUT_TICK_HISTORY_AGE": "0"}).tick_history_age == 0
    with pytest.raises(SettingsError, match="LOOKOUT_TICK_HISTORY_AGE=-1 must be 0 or more"):
        Settings.from_env({"LOOKOUT_TICK_HISTORY_AGE": "-1"})
    with pytest.raises(SettingsError, match="LOOKOUT_TICK_HISTORY=0 must be 1 or more"):
        Settings.from_env({"LOOKOUT_TICK_HISTORY": "0"})


def test_with_no_age_bound_a_record_of_any_age_stays(storage: Repositories) -> None:
    committed_skips(storage, 1, "ten days ago", ago=10 * 86400.0)
    committed_skips(storage, 1, "now", age=0.0)
    assert [t.skip_reason for t in storage.ticks.history("steered", 100)] == [
        "now",
        "ten days ago",
    ]
    committed_skips(storage, 1, "later")  # the default bound, a day: the old one goes
    assert [t.skip_reason for t in storage.ticks.history("steered", 100)] == ["later", "now"]


def test_a_worker_taking_up_a_tick_reads_the_last_record_as_its_sensors(
    storage: Repositories,
) -> None:
    committed_skips(storage, 3, "quiet")
    storage.ticks.claim("steered", "next", ttl=30.0)
    ((answer, state),) = storage.ticks.take_up([("steered", "next")], "tester", ttl=30.0).answers
    assert answer == "" and state is not None and state.last is not None
    assert (state.last.sensor, state.last.count, state.last.skip_reason) == ("steered", 3, "quiet")


def test_a_due_time_on_a_whole_minute_reads_back_as_that_minute() -> None:
    # A schedule's runs are tagged and compared by their due minute: the
    # compact entry keeps the lateness in microseconds, not the due time.
    due = 1_795_992_780.0
    record = TickRecord(
        tick_id="t" * 32,
        sensor="every_minute",
        status=TickStatus.SUCCESS.value,
        started_at=due + 0.0123457,
        ended_at=due + 0.05,
        due_at=due,
    )
    assert decode_entry(encode_record(record), "every_minute").due_at == due


def commit_at(ledger: TickLedger, started: float, ended: float, tick_id: str = "") -> str:
    """A SUCCESS tick of ``steered`` that started and ended then, committed by hand."""
    tick_id = tick_id or uuid.uuid4().hex
    assert ledger.claim("steered", tick_id, ttl=30.0) == tick_id
    assert ledger.begin([("steered", tick_id)], "tester", ttl=30.0) == [""]
    record = TickRecord(
        tick_id=tick_id,
        sensor="steered",
        status="SUCCESS",
        started_at=started,
        ended_at=ended,
        worker="tester",
    )
    assert ledger.commit(TickCommit(record, [], False, None, None, holder="tester"))
    return tick_id


def test_the_age_bound_goes_by_when_the_oldest_record_ended_not_when_it_started(
    storage: Repositories,
) -> None:
    """Long ticks (durations of minutes, kept as 32-bit microseconds), by hand and scheduled."""
    ledger = Repositories.on(storage.client, storage.keys, history_age=100.0).ticks
    now = time.time()
    # (tick id, start, end): the first ended 150 s ago, past the bound; the
    # second started as long ago but ended 50 s ago, within it.
    ticks = [("by-hand-1", now - 250, now - 150), (uuid.uuid4().hex, now - 250, now - 50)]
    ticks.append((uuid.uuid4().hex, now, now + 0.001))
    for tick_id, started, ended in ticks:
        commit_at(ledger, started, ended, tick_id)
    kept = storage.ticks.history("steered", 10)
    assert [t.tick_id for t in kept] == [ticks[2][0], ticks[1][0]]
    assert kept[1].ended_at == pytest.approx(now - 50, abs=2e-6)


def test_a_record_that_started_before_the_others_ended_is_still_aged_out_as_the_tail(
    storage: Repositories,
) -> None:
    # The age check reads the tail only when the hash's ``ends_from`` (no
    # record ended before it) says it can be too old: a record whose start is
    # earlier (its worker's clock is behind) lowers it.
    ledger = Repositories.on(storage.client, storage.keys, history_size=2, history_age=100.0).ticks
    now = time.time()
    commit_at(ledger, now - 50, now - 49.9)
    commit_at(ledger, now - 120, now - 119.9)
    newest = commit_at(ledger, now, now + 0.001)
    # The first went by count, the second (now the tail) by age.
    assert [t.tick_id for t in storage.ticks.history("steered", 10)] == [newest]


def test_a_history_kept_by_the_version_before_is_aged_on_its_next_write(
    storage: Repositories,
) -> None:
    ledger = Repositories.on(storage.client, storage.keys, history_age=100.0).ticks
    now = time.time()
    commit_at(ledger, now - 250, now - 249.9)
    kept = commit_at(ledger, now - 20, now - 19.9)
    # The version before kept no ``ends_from``: the tail is read, as it read it.
    assert storage.client.hdel(storage.keys.sensor("steered"), "ends_from") == 1
    newest = commit_at(ledger, now, now + 0.001)
    assert [t.tick_id for t in storage.ticks.history("steered", 10)] == [newest, kept]
    # And a later write finds the bound set again: nothing left to age.
    assert (
        storage.client.hget(storage.keys.sensor("steered"), "ends_from")
        == str(int(now - 19.9)).encode()
    )


# A tick id as the scheduler makes them (a constant: parameters must be the
# same in every test process).
HEX_ID = "5f0c9a7e2b3d4c1e8f6a0b9c7d2e4f1a"


def same_duration(decoded: float | None) -> object:
    # The record's end is its start plus the whole microseconds kept, a float
    # near 1.7e9 (steps of 2.4e-7 s): its difference from the start is that close.
    return None if decoded is None else pytest.approx(decoded, rel=0, abs=3e-7)


@pytest.mark.parametrize("took", [None, 0.0, 0.000_1, 0.000_3, 0.07, 5000.0, 2.0**33])
@pytest.mark.parametrize("tick_id", [HEX_ID, "by-hand", "x" * 40])
def test_an_entrys_duration_read_from_its_bytes_is_the_decoded_records(
    took: float | None, tick_id: str
) -> None:
    # Every width of the duration's integer, a packed id, an id kept as text
    # (short and str8), and no end at all.
    started = 1_700_000_000.123
    record = TickRecord(
        tick_id=tick_id,
        sensor="steered",
        status="SKIPPED",
        started_at=started,
        ended_at=None if took is None else started + took,
        skip_reason="nothing new",
        cursor_before=b"c",
        cursor_after=b"c",
    )
    entry = encode_record(record)
    assert entry_duration(entry) == same_duration(decode_entry(entry).duration)


def test_an_entrys_duration_reads_however_lua_rewrote_its_start() -> None:
    # cmsgpack writes a number by its value: a whole start as an integer, one
    # a float32 holds exactly as a float32.  Bytes cut short are decoded (None).
    for start in (msgpack.packb(1_700_000_000), msgpack.packb(0.5, use_single_float=True), b"\x05"):
        head = b"\x98\xa1K\xc2" + start
        for took, packed in (
            (250, b"\xcc\xfa"),
            (70_000, b"\xce\x00\x01\x11\x70"),
            (None, b"\xc2"),
        ):
            entry = head + packed + b"\xc2\xc2\xa3new" + msgpack.packb({"i": "by-hand"})
            assert entry_duration(entry) == same_duration(decode_entry(entry).duration)
            assert entry_duration(entry) == (None if took is None else took / 1_000_000)
    assert entry_duration(b"\x97\xa1K\xc2\xcb\x41") is None


def test_the_duration_of_a_run_of_skips_folded_by_the_script_reads_from_its_bytes(
    storage: Repositories,
) -> None:
    committed_skips(storage, 3, "nothing new")
    (raw,) = storage.metrics.last_tick_entries(["steered"])
    assert raw is not None and raw[0] == 0x98  # the run's map: the array's 8th field
    assert entry_duration(raw) == same_duration(decode_entry(raw).duration)
    assert entry_duration(raw) == pytest.approx(0.000_25, abs=2e-6)


@pytest.mark.parametrize(
    "tick_id",
    [
        HEX_ID,
        HEX_ID.upper(),  # hex, but not as the scheduler writes it
        " ".join(["0a1b2c3d4e"] * 3)[:32],  # hex with spaces, 32 characters
        "g" * 32,
        HEX_ID[:31],
    ],
)
def test_only_a_schedulers_tick_id_is_packed_and_every_id_reads_back_as_it_was(
    tick_id: str,
) -> None:
    record = TickRecord(tick_id=tick_id, sensor="steered", status="SKIPPED", started_at=1.5)
    entry = encode_record(record)
    assert decode_entry(entry).tick_id == tick_id
    # Packed: its 16 bytes, as a 16-byte string, right after the status letter.
    packed = (
        tick_id == tick_id.lower()
        and len(tick_id) == 32
        and set(tick_id) <= set("0123456789abcdef")
    )
    assert (entry[3] == 0xB0) == packed
