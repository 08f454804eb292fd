"""``make compose-test``: docker-compose.yml and the Dockerfile, run by a real Docker engine.

    python -m tests.compose_stack [--no-install] [--keep-daemon]

Where Docker can run (``tests.compose_engine`` installs and starts it where
apt-get runs as root, and builds the base images with no registry), this
builds the project's image with ``docker-compose build``, starts the stack
with ``--scale worker=3`` (the file's 2 schedulers) and the ``monitoring``
profile (Flower), then proves that

1. every container turns healthy by its own healthcheck;
2. each file dropped in the data folder becomes exactly one run, which
   succeeds, and no later tick launches it again;
3. when the leading scheduler's container is killed (``docker kill``) the
   other scheduler's heartbeat says it leads, ticks go on, and a file
   dropped after that becomes exactly one run;

and tears the stack down (``down -v``) whatever happened.  lookout's state
is read inside a container through lookout's storage (``tests/compose_probe.py``).

Exit status: 0 passed, 1 failed, 77 skipped (Docker cannot run here: the
last line says why).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tests.compose_engine import (
    Unavailable,
    ensure_base_images,
    ensure_tools,
    machine_lock,
    run,
    start_daemon,
    stop_daemon,
)

ROOT = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).resolve().parent / "compose_probe.py"
# Named after the checkout: two checkouts on one engine build and run their own.
CHECKOUT = hashlib.sha1(str(ROOT).encode()).hexdigest()[:8]
PROJECT = f"lookout-compose-test-{CHECKOUT}"
IMAGE_TAG = f"compose-test-{CHECKOUT}"
SENSOR = "new_file_sensor"
SKIPPED = 77
EXPECTED = {"redis": 1, "scheduler": 2, "worker": 3, "launcher": 1, "monitor": 1, "flower": 1}
# pip settings passed from the host's environment to the image build, when set.
PIP_BUILD_ARGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST")

T = TypeVar("T")
State = dict[str, Any]


class Clock:
    """Prints each step with the seconds since the start."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"compose-test [{time.monotonic() - self.start:6.1f}s] {message}", flush=True)


def wait_until(what: str, check: Callable[[], T | None], timeout: float, every: float = 1) -> T:
    """Poll ``check`` until it returns something, or fail saying what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


class Stack:
    """The compose project under test: docker-compose calls and lookout's state."""

    def __init__(self, compose: list[str], data: Path) -> None:
        self.command = compose
        self.data = data
        # Only this test's variables: a LOOKOUT_* of the caller's shell would
        # change the stack (its Redis URL, above all).
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
        self.env.update(
            LOOKOUT_DATA=str(data),
            LOOKOUT_IMAGE_TAG=IMAGE_TAG,
            # Random host ports: a stack already on 9108 or 5555 does not clash.
            LOOKOUT_MONITOR_PUBLISH="127.0.0.1:",
            LOOKOUT_FLOWER_PUBLISH="127.0.0.1:",
        )

    def compose(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        argv = [*self.command, "-p", PROJECT, "--profile", "monitoring", *args]
        return run(argv, timeout=timeout, env=self.env, check=check).stdout

    def config(self) -> dict[str, Any]:
        loaded = yaml.safe_load(self.compose("config"))
        assert isinstance(loaded, dict)
        return loaded

    def containers(self) -> list[dict[str, Any]]:
        ids = self.compose("ps", "-q").split()
        if not ids:
            return []
        found = json.loads(run(["docker", "inspect", *ids], timeout=60).stdout)
        assert isinstance(found, list)
        return found

    def probe(self) -> State:
        monitor = next(c for c in self.containers() if service_of(c) == "monitor")
        out = run(
            ["docker", "exec", "-i", monitor["Id"], "python", "-", SENSOR],
            stdin=PROBE.read_text(),
            timeout=60,
        ).stdout
        state = json.loads(out)
        assert isinstance(state, dict)
        return state


def service_of(container: dict[str, Any]) -> str:
    return str(container["Config"]["Labels"].get("com.docker.compose.service", ""))


def health_of(container: dict[str, Any]) -> str:
    state = container["State"]
    return str(state["Health"]["Status"]) if "Health" in state else f"no healthcheck ({state})"


def base_images(stack: Stack) -> tuple[str, str]:
    """The Dockerfile's ``FROM`` and the compose file's redis image."""
    dockerfile = (ROOT / "Dockerfile").read_text().splitlines()
    python = next(line.split()[1] for line in dockerfile if line.startswith("FROM "))
    return python, str(stack.config()["services"]["redis"]["image"])


def build(stack: Stack, echo: Clock) -> None:
    pip_args = []
    for name in PIP_BUILD_ARGS:
        value = os.environ.get(name, "")
        # A file: index is the host's own disk, which the build cannot see.
        if value and not value.startswith("file:"):
            pip_args += ["--build-arg", f"{name}={value}"]
    echo("docker-compose build (the project's image)")
    # One service builds the image every lookout service runs.
    stack.compose("build", *pip_args, "scheduler", timeout=1200)


def all_healthy(stack: Stack, seen: set[str], echo: Clock) -> dict[str, int] | None:
    """Counts by service once every container is healthy; says which turn healthy."""
    containers = stack.containers()
    counts = dict.fromkeys(EXPECTED, 0)
    healthy = 0
    for container in containers:
        service = service_of(container)
        counts[service] = counts.get(service, 0) + 1
        if health_of(container) == "healthy":
            healthy += 1
            name = container["Name"].lstrip("/")
            if name not in seen:
                seen.add(name)
                echo(f"  {name} healthy")
    return counts if healthy == len(containers) and counts == EXPECTED else None


def last_checks(stack: Stack) -> str:
    """The last healthcheck output of each container that is not healthy."""
    lines = []
    for container in stack.containers():
        health = container["State"].get("Health") or {}
        if health.get("Status") != "healthy" and health.get("Log"):
            output = str(health["Log"][-1].get("Output", "")).strip()
            lines.append(f"{container['Name'].lstrip('/')}: {output[-300:]}")
    return "\n".join(lines)


def describe(stack: Stack) -> str:
    """Each container's health, or its state if it is not running."""
    return ", ".join(
        f"{c['Name'].lstrip('/')}: "
        + (health_of(c) if c["State"]["Running"] else str(c["State"]["Status"]))
        for c in stack.containers()
    )


def drop(stack: Stack, name: str) -> None:
    path = stack.data / name
    path.write_text(f"{name}\n" * 10)
    path.chmod(0o644)


def runs_by_file(state: State) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for record in state["runs"]:
        if record["sensor"] == SENSOR and record["run_key"]:
            found.setdefault(record["run_key"].rsplit(":", 1)[0], []).append(record)
    return found


def each_ran_once(stack: Stack, files: list[str]) -> State | None:
    """The state once every file has one successful run (None: not yet)."""
    state = stack.probe()
    runs = runs_by_file(state)
    for name in files:
        assert len(runs.get(name, [])) <= 1, f"{name} ran more than once: {runs[name]}"
    done = all(runs.get(n) and runs[n][0]["status"] == "SUCCESS" for n in files)
    return state if done else None


def ticks_after(stack: Stack, since: float, count: int) -> State | None:
    state = stack.probe()
    later = [t for t in state["ticks"] if t["started_at"] > since]
    return state if len(later) >= count else None


def prove_one_run_per_file(stack: Stack, files: list[str], echo: Clock) -> None:
    for name in files:
        drop(stack, name)
    echo(f"dropped {len(files)} files; waiting for one successful run each")
    state = wait_until("a successful run per file", lambda: each_ran_once(stack, files), 120)
    # Later ticks see the same files again: their run keys must hold.
    state = wait_until("3 more ticks", lambda: ticks_after(stack, state["now"], 3), 60)
    runs = runs_by_file(state)
    assert {n: len(runs.get(n, [])) for n in files} == dict.fromkeys(files, 1), runs
    echo(f"each file ran exactly once ({len(state['runs'])} runs, 3 later ticks added none)")


def leading_scheduler(state: State) -> dict[str, Any] | None:
    leaders = [p for p in state["processes"] if p["role"] == "scheduler" and p["leader"]]
    return leaders[0] if len(leaders) == 1 else None


def new_leader(stack: Stack, killed_host: str) -> dict[str, Any] | None:
    state = stack.probe()
    leaders = [
        p
        for p in state["processes"]
        if p["role"] == "scheduler" and p["leader"] and p["host"] != killed_host
    ]
    return leaders[0] if leaders else None


def prove_failover(stack: Stack, echo: Clock) -> None:
    leader = wait_until("one leading scheduler", lambda: leading_scheduler(stack.probe()), 30)
    schedulers = [c for c in stack.containers() if service_of(c) == "scheduler"]
    victim = next(c for c in schedulers if c["Config"]["Hostname"] == leader["host"])
    run(["docker", "kill", victim["Id"]], timeout=60)
    echo(f"killed the leading scheduler's container {victim['Name'].lstrip('/')}")
    taken = wait_until("another scheduler to lead", lambda: new_leader(stack, leader["host"]), 60)
    echo(f"{taken['id']} leads now")
    since = stack.probe()["now"]
    wait_until("ticks from the new leader", lambda: ticks_after(stack, since, 2), 60)
    echo("ticks go on")
    prove_one_run_per_file(stack, ["after-failover.csv"], echo)


@contextmanager
def running_stack(stack: Stack, echo: Clock) -> Iterator[None]:
    """``up`` the stack, and ``down -v`` it whatever happens (logs first, on failure)."""
    stack.compose("down", "-v", "--remove-orphans", check=False)
    try:
        echo("docker-compose up --scale worker=3 (2 schedulers, Flower)")
        stack.compose("up", "-d", "--no-build", "--scale", "worker=3")
        echo(f"started: {describe(stack)}")
        yield
    except BaseException:
        print(stack.compose("logs", "--no-color", "--tail", "40", check=False), flush=True)
        raise
    finally:
        stack.compose("down", "-v", "--remove-orphans", "--timeout", "10", check=False)
        echo("docker-compose down -v: the stack is gone")


def scenario(stack: Stack, echo: Clock) -> None:
    stack.compose("config", "-q", timeout=60)
    python, redis_image = base_images(stack)
    built = ensure_base_images(python, redis_image, echo)
    echo(f"base images: built {built}" if built else f"base images cached: {python}, {redis_image}")
    build(stack, echo)
    with running_stack(stack, echo):
        seen: set[str] = set()
        try:
            counts = wait_until(
                "every container healthy", lambda: all_healthy(stack, seen, echo), 240, every=2
            )
        except AssertionError:
            echo(f"last healthchecks:\n{last_checks(stack)}")
            raise
        echo(f"all healthy: {counts}")
        files = [f"batch-{i}.csv" for i in range(5)]
        prove_one_run_per_file(stack, files, echo)
        prove_failover(stack, echo)
        echo(f"after the kill: {describe(stack)}")


def compose_test(scratch: Path, echo: Clock, *, install: bool, keep_daemon: bool) -> int:
    """The whole test in ``scratch``: the exit status."""
    data = scratch / "data"
    data.mkdir()
    # The containers run as an unprivileged user: the folder must be readable.
    scratch.chmod(0o755)
    data.chmod(0o755)
    daemon = None
    try:
        with machine_lock(echo):
            compose = ensure_tools(echo, allow_install=install)
            daemon = start_daemon(scratch, echo)
            scenario(Stack(compose, data), echo)
    except Unavailable as exc:
        echo(f"SKIPPED: Docker cannot run here: {exc}")
        return SKIPPED
    except (AssertionError, RuntimeError, subprocess.SubprocessError) as exc:
        echo(f"FAILED: {exc}")
        return 1
    finally:
        if daemon is not None and not keep_daemon:
            stop_daemon(daemon)
    echo("PASSED")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.compose_stack")
    parser.add_argument("--no-install", action="store_true", help="skip if Docker is missing")
    parser.add_argument("--keep-daemon", action="store_true", help="leave a started dockerd")
    args = parser.parse_args(argv)
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory(prefix="lookout-compose-") as scratch:
        return compose_test(
            Path(scratch), Clock(), install=not args.no_install, keep_daemon=args.keep_daemon
        )


if __name__ == "__main__":
    sys.exit(main())
