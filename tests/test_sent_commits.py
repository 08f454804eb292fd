"""A flush's commits sent now and answered later mean what a commit made at once means.

Against the real Redis: the worker writes a flush's commit and evaluates
its next ticks while Redis runs it.  A sent commit whose script Redis has
lost (a restart) is made again and commits; one whose connection drops
is sent again and commits once (a flush sent again after Redis ran it
answers as the first time: tests/test_batched_lease_scripts.py); a refused
tick is still refused.
"""

from __future__ import annotations

import redis

from lookout import Settings
from lookout._core.scripts import SCRIPTS
from lookout.testing import Repositories
from tests.conftest import wait_for
from tests.locations.work_support import committed
from tests.test_batched_lease_scripts import HOLDER, a_flush


def loaded(storage: Repositories) -> None:
    """The commit script in Redis's cache, as after a process's first flush."""
    storage.client.script_load(SCRIPTS["lease_commit_many"])


def history_ids(storage: Repositories, sensor: str) -> list[str]:
    return [r.tick_id for r in storage.ticks.history(sensor, 50)]


def test_a_sent_flush_is_committed_and_answered_when_its_reply_is_read(
    storage: Repositories, settings: Settings
) -> None:
    ticks, commits = a_flush(storage, settings)
    loaded(storage)
    sent = storage.ticks.send_commit_many(commits)
    # Redis runs it while the caller goes on: committed before the reply is read.
    wait_for(lambda: all(committed(storage, t) for t in ticks), 5, what="the sent commits")
    records = sent.result()
    assert [r.tick_id if r else None for r in records] == [t.tick_id for t in ticks]
    assert all(storage.sensors.state(t.sensor).inflight is None for t in ticks)


def test_a_flush_sent_after_redis_lost_its_scripts_is_made_again_and_commits(
    storage: Repositories, settings: Settings
) -> None:
    ticks, commits = a_flush(storage, settings)
    storage.client.script_flush()  # as after a restart: no script is cached
    records = storage.ticks.send_commit_many(commits).result()
    assert all(r is not None for r in records)
    for t in ticks:
        assert history_ids(storage, t.sensor).count(t.tick_id) == 1


def test_a_flush_whose_connection_drops_before_redis_ran_it_is_sent_again_and_commits_once(
    storage: Repositories, settings: Settings
) -> None:
    ticks, commits = a_flush(storage, settings)
    loaded(storage)
    admin = redis.Redis.from_url(settings.redis_url)
    # Writes paused: the sent commit waits in Redis, then its connection is cut.
    admin.client_pause(5000, all=False)
    sent = storage.ticks.send_commit_many(commits)
    assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
    admin.client_unpause()
    records = sent.result()  # the connection is gone: sent again
    assert [r.tick_id if r else None for r in records] == [t.tick_id for t in ticks]
    for t in ticks:
        assert history_ids(storage, t.sensor).count(t.tick_id) == 1
    admin.close()


def test_a_sent_flush_still_refuses_a_tick_whose_lease_moved_on(
    storage: Repositories, settings: Settings
) -> None:
    ticks, commits = a_flush(storage, settings)
    lost = ticks[0]
    assert storage.ticks.give_back([(lost.sensor, lost.tick_id, None)], 0.0, holder=HOLDER) == 1
    records = storage.ticks.send_commit_many(commits).result()
    assert records[0] is None and all(r is not None for r in records[1:])
    assert not committed(storage, lost)


def test_an_empty_flush_sends_nothing_and_answers_nothing(storage: Repositories) -> None:
    before = storage.client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert storage.ticks.send_commit_many([]).result() == []
    after = storage.client.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert after == before
