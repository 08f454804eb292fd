"""``lookout health ROLE``, the containers' healthcheck, against a real redis-server."""

from __future__ import annotations

import socket
import subprocess
import sys

from lookout import Settings
from lookout._tools.health import live_heartbeat
from lookout.testing import Heartbeat, Repositories
from tests.conftest import ROOT, process_env


def health(settings: Settings, role: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lookout._tools.cli", "health", role],
        env=process_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_health_passes_only_while_this_hosts_process_of_the_role_heartbeats(
    settings: Settings, storage: Repositories
) -> None:
    assert health(settings, "launcher").returncode == 1
    with Heartbeat(storage.processes, "launcher", interval=1):
        alive = health(settings, "launcher")
        assert alive.returncode == 0, alive.stderr
        assert "launcher" in alive.stdout and "alive" in alive.stdout
        # Another role's healthcheck is not satisfied by this heartbeat.
        other = health(settings, "worker")
        assert other.returncode == 1
        assert other.stderr.strip() == (
            f"error: no live heartbeat of a worker on {socket.gethostname()}"
        )
    # Stopped: its heartbeat is gone, and so is its health.
    assert health(settings, "launcher").returncode == 1


def test_health_says_whether_a_scheduler_leads(settings: Settings, storage: Repositories) -> None:
    with Heartbeat(storage.processes, "scheduler", interval=1, leader=lambda: False):
        out = health(settings, "scheduler")
        assert out.returncode == 0 and "(standby)" in out.stdout
    with Heartbeat(storage.processes, "scheduler", interval=1, leader=lambda: True):
        out = health(settings, "scheduler")
        assert out.returncode == 0 and "(leader)" in out.stdout


def test_a_heartbeat_from_another_host_does_not_make_this_container_healthy(
    storage: Repositories,
) -> None:
    beat = Heartbeat(storage.processes, "worker", interval=1)
    beat.host = "another-container"
    with beat:
        assert live_heartbeat(storage.processes, "worker") is None
        found = live_heartbeat(storage.processes, "worker", host="another-container")
        assert found is not None and found.id == beat.id


def test_health_with_redis_down_is_a_one_line_error(settings: Settings) -> None:
    down = Settings(redis_url="redis://127.0.0.1:1/0")
    out = health(down, "worker")
    assert out.returncode == 1
    assert out.stderr.startswith("error: Redis:") and len(out.stderr.strip().splitlines()) == 1
