"""Every metric the shipped alerting rules and dashboard query is one a live monitor serves.

A real scheduler, worker, launcher and ``lookout monitor`` run against a real
redis-server with the monitor tests' sensors (one of them failing on every
tick), until the monitor has counted successful and failed ticks and names
the leader.  Then each selector in ``deploy/`` (parsed by a PromQL parser,
not matched by a list of names kept here) must name a metric of that scrape,
match on and group by labels that metric carries, and compare with label
values it really has: a query with a misspelt name, label or value is silent
in Prometheus and Grafana, and fails here.
"""

from __future__ import annotations

import re
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lookout import DefaultSensorStatus, Settings
from lookout._tools.location import load_definitions
from lookout._tools.operator import set_sensor_status, sync_definitions
from lookout._tools.redis_server import free_port
from lookout.testing import Repositories
from tests.conftest import Spawn, process_env, wait_for
from tests.promql_queries import Query, Selector, dashboard_queries, rule_queries, selectors

LOCATION = Path(__file__).resolve().parent / "locations" / "monitor_sensors.py"
# Prometheus adds these two to every series it scrapes; the monitor does not serve them.
TARGET_LABELS = frozenset({"job", "instance"})
LITERAL_ALTERNATION = re.compile(r"[\w.+-]+(\|[\w.+-]+)*")


@dataclass
class Served:
    """What one scrape of /metrics holds: sample names, their labels and label values."""

    values: dict[str, dict[str, set[str]]] = field(default_factory=lambda: defaultdict(dict))

    @classmethod
    def scrape(cls, base: str) -> Served:
        with urllib.request.urlopen(base + "/metrics", timeout=10) as response:
            text = response.read().decode()
        served = cls()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = served.values[sample.name]
                for name, value in sample.labels.items():
                    labels.setdefault(name, set()).add(value)
        return served

    def has(self, metric: str, label: str, value: str) -> bool:
        return value in self.values.get(metric, {}).get(label, set())


def problems(selector: Selector, served: Served) -> list[str]:
    """What is wrong with one selector against the scrape (nothing: an empty list)."""
    where = f"{selector.origin}: {selector.metric}"
    if selector.metric not in served.values:
        return [f"{where} is not served"]
    labels = served.values[selector.metric]
    found = []
    for label in selector.grouping:
        if label not in labels and label not in TARGET_LABELS:
            found.append(f"{where} is grouped by {label!r}, a label it does not carry")
    for matcher in selector.matchers:
        if matcher.name in TARGET_LABELS:
            continue
        if matcher.name not in labels:
            found.append(f"{where} matches on {matcher.name!r}, a label it does not carry")
            continue
        # A literal value, or an alternation of literals: each must be one the
        # monitor really serves (the parser keeps a matcher's value as written).
        if LITERAL_ALTERNATION.fullmatch(matcher.value):
            known = labels[matcher.name]
            found.extend(
                f"{where} compares {matcher.name} with {value!r}; served: {sorted(known)}"
                for value in matcher.value.split("|")
                if value not in known
            )
    return found


def queries_with_selectors(queries: list[Query]) -> dict[str, list[Selector]]:
    return {query.origin: selectors(query) for query in queries}


def test_every_metric_label_and_value_the_rules_and_dashboard_use_is_served(
    spawn: Spawn, settings: Settings, storage: Repositories
) -> None:
    definitions = load_definitions(file=str(LOCATION))
    sync_definitions(definitions, storage.sensors)
    # Stopped by default; started so that FAILURE ticks are among the served values.
    set_sensor_status(definitions, storage.sensors, "broken", DefaultSensorStatus.RUNNING)
    port = free_port()
    env = process_env(settings, LOOKOUT_FILE=str(LOCATION), LOOKOUT_MONITOR_PORT=str(port))
    spawn(["lookout", "scheduler"], env, log_name="scheduler")
    spawn(["lookout", "worker", "-c", "1"], env, log_name="worker")
    spawn(["lookout", "launcher"], env, log_name="launcher")
    monitor = spawn(["lookout", "monitor"], env, log_name="monitor")
    base = f"http://127.0.0.1:{port}"

    def complete() -> bool:
        try:
            served = Served.scrape(base)
        except OSError:
            assert monitor.poll() is None, monitor.log_text()
            return False
        return (
            served.has("lookout_ticks_total", "status", "FAILURE")
            and served.has("lookout_ticks_total", "status", "SUCCESS")
            and "lookout_scheduler_leader" in served.values  # a series only while one leads
            and "lookout_sensor_evaluation_duration_seconds_bucket" in served.values
        )

    wait_for(complete, 60, 0.5, "the monitor to serve failed and successful ticks and a leader")
    served = Served.scrape(base)

    rules = queries_with_selectors(rule_queries())
    dashboard = queries_with_selectors(dashboard_queries())
    # Not vacuous: every rule and every panel query names at least one metric.
    assert len(rules) >= 7 and len(dashboard) >= 10
    for origin, found in [*rules.items(), *dashboard.items()]:
        assert found, f"{origin} names no metric"

    wrong = [
        problem
        for found in [*rules.values(), *dashboard.values()]
        for selector in found
        for problem in problems(selector, served)
    ]
    assert not wrong, "\n".join(wrong)


def test_a_misspelt_metric_label_or_value_is_reported(spawn: Spawn, settings: Settings) -> None:
    """The check itself: queries with one mistake each, against a live monitor."""
    port = free_port()
    env = process_env(settings, LOOKOUT_FILE=str(LOCATION), LOOKOUT_MONITOR_PORT=str(port))
    spawn(["lookout", "monitor"], env, log_name="monitor")
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(base), 30, 0.2, "the monitor to answer")
    served = Served.scrape(base)
    cases = {
        "sum(rate(lookout_tick_total[5m]))": "is not served",
        'lookout_processes{rolle="worker"} == 0': "matches on 'rolle'",
        'lookout_processes{role="workers"} == 0': "compares role with 'workers'",
        'lookout_queue_messages{queue=~"ticks|dead_letters"} > 0': "'dead_letters'",
        "sum by (queue) (lookout_processes)": "grouped by 'queue'",
    }
    for text, message in cases.items():
        [selector] = selectors(Query("case", text))
        reported = problems(selector, served)
        assert len(reported) == 1 and message in reported[0], (text, reported)
    # Prometheus' own target labels and Grafana's variables are no mistake.
    ok = 'max by (instance) (lookout_queue_messages{instance=~"$instance", queue="ticks"})'
    [selector] = selectors(Query("case", ok))
    assert problems(selector, served) == []


def _answers(base: str) -> bool:
    try:
        Served.scrape(base)
    except OSError:
        return False
    return True
