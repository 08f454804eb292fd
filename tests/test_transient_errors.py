"""Which errors every retry loop waits out, told apart on errors a real Redis gives.

Waiting cures a refused connection and a full Redis; it does not cure a
command on a key of the wrong type or one an ACL forbids: those are
reported, not retried in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import redis

from lookout._core.transient import is_transient


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    yield c
    c.config_set("maxmemory", 0)
    c.acl_deluser("limited")
    c.close()


def _error_of(call: Callable[[], object]) -> redis.RedisError:
    with pytest.raises(redis.RedisError) as caught:
        call()
    return caught.value


def test_errors_that_waiting_cures_are_transient_and_faults_are_not(
    client: redis.Redis, redis_url: str
) -> None:
    refused = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1)
    assert is_transient(_error_of(refused.ping))

    client.set("big", "x" * 10_000)
    client.config_set("maxmemory", 1)  # noeviction: every write is refused until memory is freed
    full = _error_of(lambda: client.set("more", "y"))
    client.config_set("maxmemory", 0)
    assert isinstance(full, redis.exceptions.OutOfMemoryError) and is_transient(full)

    client.set("a-string", "v")
    wrong_type = _error_of(lambda: client.lpush("a-string", "v"))
    assert not is_transient(wrong_type)

    client.acl_setuser("limited", enabled=True, passwords=["+pw"], keys=["allowed:*"])
    limited = redis.Redis.from_url(redis_url, username="limited", password="pw")
    forbidden = _error_of(lambda: limited.get("allowed:x"))  # no command is allowed
    limited.close()
    assert isinstance(forbidden, redis.exceptions.NoPermissionError)
    assert not is_transient(forbidden)


def test_a_script_a_redis_restart_forgot_is_transient_and_the_next_call_loads_it(
    client: redis.Redis,
) -> None:
    # A pipeline checks its scripts (SCRIPT EXISTS) before it sends them; a
    # Redis restarted in between (the script cache is not persisted) answers
    # the EVALSHA with NoScriptError, which killed the launcher in the soak.
    script = client.register_script("return 1")
    pipe = client.pipeline(transaction=False)
    pipe.evalsha(script.sha, 0)  # as a pipeline whose check came before the restart
    forgot = _error_of(pipe.execute)
    assert isinstance(forgot, redis.exceptions.NoScriptError) and is_transient(forgot)
    again = client.pipeline(transaction=False)
    script(client=again)  # the next call checks again, loads it, and runs
    assert again.execute() == [1]
