"""docker-compose.yml and the Dockerfile: validated by docker-compose itself, and their content.

``docker-compose config -q`` (or ``docker compose``, the plugin) is the
validator: it reads the file as the engine's own tool will.  Without it those
tests skip and say so; ``make compose-test`` installs it where apt runs as
root and runs the whole stack on a real engine (``tests/compose_stack.py``).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.compose_engine import compose_command

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
LOOKOUT_SERVICES = ("scheduler", "worker", "launcher", "monitor", "flower")

# ${VAR}, ${VAR:-default} (unset or empty), ${VAR-default} (unset only); $$ is a literal $.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?-)(?P<default>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Resolve variables in every string of a compose document as Compose does."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group("name", "op", "default")
        current = env.get(name)
        if op == ":-" and not current:
            return str(default)
        if op == "-" and current is None:
            return str(default)
        return current or ""

    return _VARIABLE.sub(substitute, value)


def load_compose(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The compose file, with ``env``'s variables substituted (none given: the defaults)."""
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(raw, dict)
    return dict(interpolate(raw, env or {}))


def environment_of(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


@pytest.fixture(scope="module")
def compose() -> list[str]:
    command = compose_command()
    if command is None:
        pytest.skip(
            "neither docker-compose nor `docker compose` is installed: the compose file "
            "is not validated (`make compose-test` installs docker-compose where apt runs as root)"
        )
    return command


def compose_config(
    compose: list[str], path: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``config -q`` of the file at ``path``, with only ``env``'s LOOKOUT_ variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOOKOUT_")}
    return subprocess.run(
        [*compose, "-f", str(path), "config", "-q"],
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_docker_compose_accepts_the_file_with_defaults_and_with_a_users_values(
    compose: list[str],
) -> None:
    defaults = compose_config(compose, COMPOSE_FILE)
    assert defaults.returncode == 0, defaults.stderr
    user = {
        "LOOKOUT_REDIS_URL": "rediss://:secret@redis.example:6380/0",
        "LOOKOUT_MODULE": "",
        "LOOKOUT_FILE": "/location/defs.py",
        "LOOKOUT_LOCATION": "/srv/sensors",
        "LOOKOUT_MONITOR_PUBLISH": "0.0.0.0:9200",
    }
    theirs = compose_config(compose, COMPOSE_FILE, user)
    assert theirs.returncode == 0, theirs.stderr


def test_docker_compose_rejects_a_broken_compose_file(compose: list[str], tmp_path: Path) -> None:
    def config_of(change: Any) -> subprocess.CompletedProcess[str]:
        """A copy of the file, changed, beside it in tmp_path (its build context absolute)."""
        document = load_compose()
        for service in document["services"].values():
            if "build" in service:
                service["build"] = str(ROOT)
        change(document)
        path = tmp_path / "docker-compose.yml"
        path.write_text(yaml.safe_dump(document))
        return compose_config(compose, path)

    unchanged = config_of(lambda doc: None)
    assert unchanged.returncode == 0, unchanged.stderr
    # The validator really validates: a wrong type or an unknown key fails.
    wrong_type = config_of(lambda doc: doc["services"]["scheduler"]["deploy"].update(replicas="x"))
    assert wrong_type.returncode != 0
    unknown = config_of(lambda doc: doc["services"]["worker"].update(restart_policy="always"))
    assert unknown.returncode != 0
    assert "restart_policy" in unknown.stderr


def test_every_service_has_a_healthcheck_of_its_own_process() -> None:
    services = load_compose()["services"]
    for name in ("scheduler", "worker", "launcher"):
        # The process's heartbeat from this container, read by `lookout health`.
        assert services[name]["healthcheck"]["test"] == ["CMD", "lookout", "health", name]
    assert "/healthz" in " ".join(services["monitor"]["healthcheck"]["test"])
    assert "/healthcheck" in " ".join(services["flower"]["healthcheck"]["test"])
    assert "redis-cli" in services["redis"]["healthcheck"]["test"]
    for name, service in services.items():
        check = service["healthcheck"]
        assert check["test"][0] == "CMD", name
        assert {"interval", "timeout", "retries", "start_period"} <= set(check), name


def test_redis_service_keeps_an_append_only_file_on_a_volume_and_has_a_healthcheck() -> None:
    compose = load_compose()
    redis_service = compose["services"]["redis"]
    assert str(redis_service["image"]).split(":")[0] == "redis"  # the official image
    command = redis_service["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"
    volume, target = str(redis_service["volumes"][0]).split(":")[:2]
    assert target == "/data"
    assert volume in compose["volumes"]
    assert "redis-cli" in redis_service["healthcheck"]["test"]


def test_every_lookout_service_waits_for_healthy_redis_restarts_and_mounts_the_location() -> None:
    compose = load_compose()
    services = compose["services"]
    assert set(services) == {"redis", *LOOKOUT_SERVICES}
    for name in LOOKOUT_SERVICES:
        service = services[name]
        env = environment_of(service)
        assert env["LOOKOUT_REDIS_URL"] == "redis://redis:6379/0", name
        assert "LOOKOUT_MODULE" in env, name
        assert "LOOKOUT_FILE" in env, name
        assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}, name
        assert service["restart"] in {"on-failure", "unless-stopped", "always"}, name
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in service["volumes"]}
        assert mounts["/location"] == "./examples", name
        assert env["PYTHONPATH"] == "/location", name
        assert service["build"] == "."
        assert isinstance(service["command"], list)
        # A fixed name or host port would keep `--scale` from starting a second one.
        assert "container_name" not in service, name


def test_scheduler_has_two_replicas_and_workers_scale() -> None:
    services = load_compose()["services"]
    assert services["scheduler"]["deploy"]["replicas"] == 2
    assert "ports" not in services["worker"]
    assert "ports" not in services["scheduler"]


def test_the_code_location_and_redis_come_from_the_users_environment() -> None:
    user = {
        "LOOKOUT_REDIS_URL": "rediss://:pw@db.internal:6380/2",
        "LOOKOUT_LOCATION": "/srv/sensors",
        "LOOKOUT_MODULE": "",
        "LOOKOUT_FILE": "/location/defs.py",
    }
    services = load_compose(user)["services"]
    for name in LOOKOUT_SERVICES:
        env = environment_of(services[name])
        assert env["LOOKOUT_REDIS_URL"] == user["LOOKOUT_REDIS_URL"]
        # An empty LOOKOUT_MODULE stays empty, so that LOOKOUT_FILE is the one location.
        assert env["LOOKOUT_MODULE"] == ""
        assert env["LOOKOUT_FILE"] == "/location/defs.py"
        assert "/srv/sensors:/location:ro" in services[name]["volumes"]


def test_monitor_is_published_with_a_healthcheck_and_flower_is_an_optional_profile() -> None:
    services = load_compose()["services"]
    monitor = services["monitor"]
    assert environment_of(monitor)["LOOKOUT_MONITOR_HOST"] == "0.0.0.0"
    assert "/healthz" in " ".join(monitor["healthcheck"]["test"])
    assert monitor["ports"] == ["127.0.0.1:9108:9108"]
    assert "LOOKOUT_ADMIN_TOKEN" in environment_of(monitor)
    flower = services["flower"]
    assert flower["profiles"] == ["monitoring"]
    assert flower["command"] == ["flower"]
    for name in ("scheduler", "worker", "launcher", "monitor"):
        assert "profiles" not in services[name]


def test_dockerfile_builds_the_project_on_python_311_slim_with_lookout_as_entrypoint() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, re.MULTILINE)
    assert 'ENTRYPOINT ["lookout"]' in dockerfile
    assert re.search(r"^RUN pip install '\.\[flower\]'$", dockerfile, re.MULTILINE)
    assert re.search(r"^USER lookout$", dockerfile, re.MULTILINE)
    # Everything the Dockerfile copies is in the build context.
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE):
        for path in source.split():
            assert path not in ignored, path
            assert (ROOT / path).exists(), path


def test_every_service_command_is_a_lookout_command() -> None:
    from lookout._tools.cli import cli

    services = load_compose()["services"]
    for name in LOOKOUT_SERVICES:
        command = services[name]["command"][0]
        assert command in cli.commands, f"service {name}: `lookout {command}` does not exist"


def test_the_flower_extra_is_declared() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^flower = \[", pyproject, re.MULTILINE)
    assert os.path.exists(ROOT / "README.md")  # the wheel's readme, copied by the Dockerfile
