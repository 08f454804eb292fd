"""``lookout.testing`` does what its docstring says: a deployment stood up and looked into."""

from __future__ import annotations

import lookout
from lookout import Settings, testing


def test_every_testing_name_is_importable_and_none_is_private() -> None:
    assert all(hasattr(testing, name) for name in testing.__all__)
    assert not [name for name in testing.__all__ if name.startswith("_")]
    # The author API keeps its own face: the testing names do not leak into it.
    assert not set(testing.__all__) & set(lookout.__all__)


def test_a_tick_on_an_embedded_redis_is_read_back_through_the_repositories() -> None:
    with testing.EmbeddedRedis() as server:
        settings = Settings(redis_url=server.url)
        repos = testing.open_repositories(settings)
        try:
            defs = testing.load_definitions(module="tests.locations.core_sensors")
            runner = testing.tick_runner(defs, repos, settings)
            record = runner.tick("keyed_a")
            assert record is not None and record.status == testing.TickStatus.SUCCESS.value
            [request] = testing.launch_requests(runner)
            assert (request.sensor, request.run_key) == ("keyed_a", "k1")
            assert [r for _, r in repos.launches.requests()] == [request]
            assert [t.tick_id for t in repos.ticks.history("keyed_a")] == [record.tick_id]
            assert repos.sensors.state("keyed_a").inflight is None
            assert repos.runs.recent() == []  # no launcher ran: requests, not runs yet
        finally:
            repos.close()
