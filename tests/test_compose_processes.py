"""docker-compose.yml's services, started as local processes: no engine, same commands.

Each service's ``command`` runs after the image's entrypoint (``lookout``)
with the service's ``environment`` as Compose would resolve it from the
user's variables: ``LOOKOUT_REDIS_URL`` points at this test's redis-server
(started with the redis service's own arguments), ``LOOKOUT_DATA`` at a
temporary directory, and container paths map to the host directories their
volumes mount.  Only the monitor's and Flower's listening address and port
are changed, to 127.0.0.1 and free ports, as a port mapping would.

Then the examples' file sensor runs end to end: files dropped in the data
directory become runs that succeed, across 2 schedulers and 3 workers; the
monitor, its healthcheck and Flower see the stack; and when the leading
scheduler is killed the other takes over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import redis

from lookout import Settings
from lookout.testing import Repositories, free_port, open_repositories, redis_server_binary
from tests.conftest import ROOT, Spawn, wait_for
from tests.test_compose_schema import environment_of, load_compose

pytest.importorskip("yaml")

WORKERS = 3


def host_path(path: str) -> Path:
    return (ROOT / path).resolve() if not os.path.isabs(path) else Path(path)


def service_env(service: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """The service's environment on this host: container paths mapped through its volumes."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        mounts[target] = str(host_path(source))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    env["PYTHONUNBUFFERED"] = "1"
    for name, value in environment_of(service).items():
        env[name] = next(
            (
                source + value[len(target) :]
                for target, source in mounts.items()
                if value == target or value.startswith(target + "/")
            ),
            value,
        )
    env.update(overrides)
    return env


def start_redis(spawn: Spawn, service: Mapping[str, Any], tmp_path: Path) -> str:
    """redis-server with the redis service's arguments, on loopback and a free port."""
    command = list(service["command"])
    assert command[0] == "redis-server"
    port = free_port()
    directory = tmp_path / "redis-data"
    directory.mkdir()
    argv = [redis_server_binary(), *command[1:]]
    argv += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory), "--save", ""]
    spawn(argv, dict(os.environ), log_name="redis")
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    wait_for(answers, 10, what="redis-server to answer")
    assert client.config_get("appendonly")["appendonly"] == "yes"
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    client.close()
    return url


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        return str(response.read().decode())


def answers(url: str) -> bool:
    try:
        http_get(url)
    except OSError:
        return False
    return True


def leader_line(metrics: str) -> str | None:
    return next(
        (x for x in metrics.splitlines() if x.startswith("lookout_scheduler_leader_info{")), None
    )


def stop_in_order(procs: Mapping[str, list[subprocess.Popen[str]]]) -> None:
    """SIGTERM every lookout process and wait, before the fixture stops Redis under them."""
    for group in procs.values():
        for proc in group:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
    for group in procs.values():
        for proc in group:
            proc.wait(15)


def start_services(
    spawn: Spawn, services: Mapping[str, Any], listen: Mapping[str, Mapping[str, str]]
) -> dict[str, list[subprocess.Popen[str]]]:
    """Every lookout service, with the scheduler's replicas and WORKERS workers."""
    copies = {"scheduler": services["scheduler"]["deploy"]["replicas"], "worker": WORKERS}
    assert copies["scheduler"] == 2
    procs: dict[str, list[subprocess.Popen[str]]] = {}
    for name in ("scheduler", "worker", "launcher", "monitor", "flower"):
        service = services[name]
        env = service_env(service, listen.get(name, {}))
        cwd = host_path("examples")  # the image's WORKDIR, /location
        procs[name] = [
            spawn(["lookout", *service["command"]], env, log_name=name, cwd=cwd)
            for _ in range(copies.get(name, 1))
        ]
    return procs


def test_compose_services_as_processes_run_the_file_sensor_end_to_end(
    spawn: Spawn, tmp_path: Path
) -> None:
    services = load_compose()["services"]
    redis_url = start_redis(spawn, services["redis"], tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    user = {"LOOKOUT_REDIS_URL": redis_url, "LOOKOUT_DATA": str(data), "LOOKOUT_CONCURRENCY": "1"}
    services = load_compose(user)["services"]
    for name in ("scheduler", "worker", "launcher", "monitor", "flower"):
        assert environment_of(services[name])["LOOKOUT_REDIS_URL"] == redis_url
    monitor_port, flower_port = free_port(), free_port()
    listen = {
        "monitor": {"LOOKOUT_MONITOR_HOST": "127.0.0.1", "LOOKOUT_MONITOR_PORT": str(monitor_port)},
        "flower": {"LOOKOUT_FLOWER_ADDRESS": "127.0.0.1", "LOOKOUT_FLOWER_PORT": str(flower_port)},
    }
    procs = start_services(spawn, services, listen)
    storage = open_repositories(Settings(redis_url=redis_url))
    try:
        run_the_stack(storage, services, procs, data, listen, (monitor_port, flower_port))
    finally:
        stop_in_order(procs)
        storage.client.close()


def run_the_stack(
    storage: Repositories,
    services: Mapping[str, Any],
    procs: Mapping[str, list[subprocess.Popen[str]]],
    data: Path,
    listen: Mapping[str, Mapping[str, str]],
    ports: tuple[int, int],
) -> None:
    monitor = f"http://127.0.0.1:{ports[0]}"

    def roles() -> dict[str, int]:
        found: dict[str, int] = {}
        for p in storage.processes.heartbeats():
            found[p.role] = found.get(p.role, 0) + 1
        return found

    expected = {"scheduler": 2, "worker": WORKERS, "launcher": 1, "monitor": 1}
    wait_for(lambda: roles() == expected, 60, 0.2, f"heartbeats of {expected}")

    # Files dropped where the sensor looks become runs that succeed.
    for i in range(3):
        (data / f"report-{i}.csv").write_text(f"row {i}\n")
    wait_for(lambda: storage.metrics.run_counts()["SUCCESS"] == 3, 60, 0.2, "3 runs to succeed")
    runs = storage.runs.recent(limit=10)
    assert sorted(r.run_key.split(":")[0] for r in runs if r.run_key) == [
        f"report-{i}.csv" for i in range(3)
    ]
    assert {r.sensor for r in runs} == {"new_file_sensor"}

    # The monitor's healthcheck, run as Compose would run it in the container.
    check = services["monitor"]["healthcheck"]["test"]
    assert check[0] == "CMD"
    env = service_env(services["monitor"], listen["monitor"])
    subprocess.run(check[1:], env=env, check=True, timeout=10)
    metrics = http_get(monitor + "/metrics")
    assert f'lookout_processes{{role="worker"}} {float(WORKERS)}' in metrics
    assert 'lookout_runs{status="SUCCESS"} 3.0' in metrics
    first_leader = leader_line(metrics)
    assert first_leader is not None

    # Flower, on the same broker, receives the workers' task events.
    flower = f"http://127.0.0.1:{ports[1]}"
    wait_for(lambda: answers(flower + "/healthcheck"), 30, 0.2, "Flower to answer")
    wait_for(
        lambda: 'task="lookout.tick_batch",type="task-succeeded"' in http_get(flower + "/metrics"),
        30,
        0.3,
        "Flower to see the workers' tick tasks succeed",
    )

    # Kill the leading scheduler: the other replica takes over and ticks go on.
    [leader] = [p for p in storage.processes.heartbeats() if p.role == "scheduler" and p.leader]
    [killed] = [p for p in procs["scheduler"] if p.pid == leader.pid]
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait(5)
    started = time.monotonic()
    wait_for(
        lambda: leader_line(http_get(monitor + "/metrics")) not in (None, first_leader),
        30,
        0.2,
        "the monitor to report a new leader",
    )
    takeover = time.monotonic() - started
    (data / "late.csv").write_text("late\n")
    wait_for(
        lambda: storage.metrics.run_counts()["SUCCESS"] == 4, 60, 0.2, "the 4th run to succeed"
    )
    print(f"leader takeover seen by the monitor after {takeover:.1f} s", file=sys.stderr)
