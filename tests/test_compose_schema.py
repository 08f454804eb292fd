"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

The Compose Specification schema is vendored as ``tests/compose_spec.json``:
the file ``compose/config/compose_spec.json`` shipped in the ``docker-compose``
1.29.2 wheel (Apache License 2.0, text in ``tests/compose_spec.LICENSE``), so
the test reads nothing from the network.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = Path(__file__).resolve().parent / "compose_spec.json"
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
def validator() -> Any:
    schema = json.loads(SCHEMA_FILE.read_text())
    # The file declares draft 2019-09 under an id jsonschema does not know.
    cls = jsonschema.Draft201909Validator
    cls.check_schema(schema)
    return cls(schema)


def test_compose_file_validates_against_the_compose_specification_schema(validator: Any) -> None:
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    errors = [e.message for e in validator.iter_errors(raw)]
    assert errors == []
    # And once the variables are resolved, with the defaults and with a user's values.
    assert [e.message for e in validator.iter_errors(load_compose())] == []
    user = {"LOOKOUT_REDIS_URL": "rediss://:secret@redis.example:6380/0", "LOOKOUT_MODULE": "x"}
    assert [e.message for e in validator.iter_errors(load_compose(user))] == []


def test_schema_rejects_a_broken_compose_file(validator: Any) -> None:
    # The validator really validates: the same file with a wrong type or an
    # unknown key fails.
    broken = load_compose()
    broken["services"]["scheduler"]["deploy"]["replicas"] = "two"
    assert not validator.is_valid(broken)
    unknown = load_compose()
    unknown["services"]["worker"]["restart_policy"] = "always"
    assert not validator.is_valid(unknown)


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
