"""The shipped alerting rules, evaluated by a real Prometheus on a real deployment.

promtool's unit tests replay series written by hand; here Prometheus (the
server from Debian's ``prometheus`` package, like promtool) scrapes a live
``lookout monitor`` every second and evaluates ``lookout-rules.yml`` on what
it serves.  The rules' ``for:`` waits are set to zero in the copy it loads
(minutes are no test time), nothing else changes.  The deployment runs a
scheduler and a worker but no launcher, and one sensor fails on every tick:
exactly the alerts for those fire, none of the others; when the scheduler
stops, the no-leader alert fires too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from lookout import DefaultSensorStatus, Settings
from lookout._tools.location import load_definitions
from lookout._tools.operator import set_sensor_status, sync_definitions
from lookout._tools.redis_server import free_port
from lookout.testing import Repositories
from tests.conftest import Spawn, process_env, wait_for
from tests.promql_queries import RULES

LOCATION = Path(__file__).resolve().parent / "locations" / "monitor_sensors.py"
PROMETHEUS = shutil.which("prometheus")

Alert = tuple[str, tuple[tuple[str, str], ...]]

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="Prometheus is not installed (Debian's prometheus package: `make promtool` as root)",
)


def rules_without_waits(path: Path) -> None:
    document = yaml.safe_load(RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule["for"] = "0s"
    path.write_text(yaml.safe_dump(document))


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def firing(prometheus: str) -> set[Alert]:
    """The firing alerts, by name and the labels that tell them apart."""
    try:
        alerts = get(prometheus + "/api/v1/alerts")["data"]["alerts"]
    except OSError:
        return set()
    found = set()
    for alert in alerts:
        if alert["state"] == "firing":
            labels = dict(alert["labels"])
            name = labels.pop("alertname")
            for label in ("instance", "job", "severity"):
                labels.pop(label, None)
            found.add((name, tuple(sorted(labels.items()))))
    return found


def test_a_real_prometheus_raises_exactly_the_alerts_of_what_is_wrong(
    spawn: Spawn, settings: Settings, storage: Repositories, tmp_path: Path
) -> None:
    definitions = load_definitions(file=str(LOCATION))
    sync_definitions(definitions, storage.sensors)
    set_sensor_status(definitions, storage.sensors, "broken", DefaultSensorStatus.RUNNING)
    port = free_port()
    env = process_env(settings, LOOKOUT_FILE=str(LOCATION), LOOKOUT_MONITOR_PORT=str(port))
    scheduler = spawn(["lookout", "scheduler"], env, log_name="scheduler")
    spawn(["lookout", "worker", "-c", "1"], env, log_name="worker")
    spawn(["lookout", "monitor"], env, log_name="monitor")

    rules_without_waits(tmp_path / "rules.yml")
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [
            {"job_name": "lookout", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    web = free_port()
    assert PROMETHEUS is not None
    server = spawn(
        [
            PROMETHEUS,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{web}",
        ],
        env=dict(os.environ),
        log_name="prometheus",
    )
    prometheus = f"http://127.0.0.1:{web}"

    expected = {
        ("LookoutProcessesMissing", (("role", "launcher"),)),
        ("LookoutSensorFailing", (("sensor", "broken"),)),
        # One sensor of three fails every tick: a third of all ticks.
        ("LookoutSensorsFailingWidely", ()),
    }
    wait_for(
        lambda: expected <= firing(prometheus) or server.poll() is not None,
        60,
        0.5,
        "Prometheus to fire the alerts for the missing launcher and the failing sensor",
    )
    assert server.poll() is None, server.log_text()
    targets = get(prometheus + "/api/v1/targets")["data"]["activeTargets"]
    assert [t["health"] for t in targets] == ["up"]
    # A few more scrapes and evaluations of the healthy rest: nothing else fires.
    time.sleep(3)
    assert firing(prometheus) == expected

    # Without its only scheduler the deployment has no leader and no scheduler.
    os.killpg(scheduler.pid, signal.SIGTERM)
    scheduler.wait(20)
    stopped = {
        ("LookoutNoSchedulerLeader", ()),
        ("LookoutProcessesMissing", (("role", "scheduler"),)),
    }
    wait_for(
        lambda: stopped <= firing(prometheus),
        30,
        0.5,
        "Prometheus to fire the alerts for the stopped scheduler",
    )
    assert firing(prometheus) - stopped - expected == set()
