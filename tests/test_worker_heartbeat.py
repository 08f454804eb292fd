"""Workers, launchers and the monitor heartbeat every ``LOOKOUT_HEARTBEAT_INTERVAL``."""

from __future__ import annotations

import itertools

from lookout import Settings
from lookout.testing import ProcessInfo, Repositories
from tests.conftest import Spawn, process_env, wait_for
from tests.locations.work_support import start_launcher, start_worker

LOCATION = "tests.locations.work_basic"
ROLES = ("launcher", "monitor", "worker")


def test_worker_launcher_and_monitor_heartbeat_at_the_configured_interval(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    env = {"LOOKOUT_HEARTBEAT_INTERVAL": "0.5"}
    start_worker(spawn, settings, LOCATION, queues=settings.run_queue, env=env)
    start_launcher(spawn, settings, LOCATION, env=env)
    spawn(
        ["lookout", "monitor", "-m", LOCATION, "--port", "0"],
        process_env(settings, **env),
        log_name="monitor",
    )

    def by_role() -> dict[str, ProcessInfo]:
        return {p.role: p for p in storage.processes.heartbeats()}

    wait_for(lambda: set(by_role()) == set(ROLES), 30, what="a heartbeat of each role")
    for role, info in by_role().items():
        # Three intervals of 0.5 s, not of the 2 s default.
        ttl = storage.client.pttl(storage.keys.process(info.id))
        assert 0 < ttl <= 1500, (role, ttl)
    # And they are renewed that often.
    seen: dict[str, list[float]] = {role: [] for role in ROLES}

    def renewed() -> bool:
        for role, info in by_role().items():
            if not seen[role] or seen[role][-1] != info.last_seen:
                seen[role].append(info.last_seen)
        return all(len(times) >= 4 for times in seen.values())

    wait_for(renewed, 5, interval=0.05, what="four heartbeats of each")
    for role, times in seen.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert max(gaps) < 1.0, (role, gaps)
