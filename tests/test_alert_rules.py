"""The shipped Prometheus alerting rules, checked by Prometheus' own promtool.

``promtool check rules`` proves the file loads into a Prometheus server;
``promtool test rules`` replays the series in ``lookout-rules.test.yml`` and
compares the alerts each rule raises (labels and rendered annotations) with
the expected ones, so every alert is shown to fire when it should and to keep
quiet on a healthy deployment (promtool: see ``tests/promtool.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.promql_queries import RULES, RULES_TESTS
from tests.promtool import needs_promtool, promtool


def alerting_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"] if "alert" in rule]


@needs_promtool
def test_the_rules_file_passes_promtool_check_rules() -> None:
    result = promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerting_rules())} rules found" in result.stdout


@needs_promtool
def test_each_alert_fires_on_its_series_and_none_on_a_healthy_deployment() -> None:
    result = promtool("test", "rules", RULES_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_fails_a_rule_that_does_not_raise_the_expected_alert(tmp_path: Path) -> None:
    """The unit tests can fail: a raised threshold leaves an expected alert unraised."""
    rules = RULES.read_text()
    assert rules.count("> 0.25") == 1
    (tmp_path / RULES.name).write_text(rules.replace("> 0.25", "> 0.75"))
    (tmp_path / RULES_TESTS.name).write_text(RULES_TESTS.read_text())
    result = promtool("test", "rules", RULES_TESTS.name, cwd=tmp_path)
    assert result.returncode != 0
    assert "alertname: LookoutSensorFailing" in result.stdout + result.stderr


def test_every_alert_has_a_unit_test_that_raises_it_and_one_that_does_not() -> None:
    tests = yaml.safe_load(RULES_TESTS.read_text())["tests"]
    cases = [case for test in tests for case in test["alert_rule_test"]]
    raised = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    names = {rule["alert"] for rule in alerting_rules()}
    assert raised == names
    assert quiet == names


def test_every_alert_has_a_severity_a_summary_and_a_description() -> None:
    for rule in alerting_rules():
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["description"].strip(), rule["alert"]
