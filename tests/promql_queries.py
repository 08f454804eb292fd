"""The PromQL the project ships, read from the rules file and the dashboard, parsed.

Alerting rules and dashboard panels are only as good as the metric names in
them: a misspelt name is not an error to Prometheus or Grafana, just a rule
that never fires and a panel that stays empty.  This module finds every
query in ``deploy/`` and takes it apart with a maintained PromQL parser
(``promql-parser``), so that tests can hold each selector against what the
monitor really serves.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import promql_parser
import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "deploy" / "prometheus" / "lookout-rules.yml"
RULES_TESTS = ROOT / "deploy" / "prometheus" / "lookout-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "lookout-dashboard.json"

# Grafana's own variables that stand for a duration in a query.
GRAFANA_DURATIONS = ("__rate_interval", "__interval", "__range")
VARIABLE = re.compile(r"\$(?:\{(\w+)(?::\w+)?\}|(\w+))")
# Grafana's templating function for a variable's values: not PromQL itself.
LABEL_VALUES = re.compile(r"^\s*label_values\((?:(?P<selector>.+),)?\s*(?P<label>\w+)\s*\)\s*$")


@dataclass(frozen=True)
class Selector:
    """One vector selector: the metric it names, its label matchers, the labels
    an enclosing aggregation groups it by, and where it was found."""

    metric: str
    matchers: tuple[promql_parser.Matcher, ...]
    grouping: tuple[str, ...]
    origin: str


@dataclass(frozen=True)
class Query:
    origin: str  # "rule LookoutRedisDown", "panel 'Queue depth' A", ...
    text: str


def load_dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def rule_queries() -> list[Query]:
    """Every rule's ``expr`` in the alerting rules file."""
    document = yaml.safe_load(RULES.read_text())
    return [
        Query(f"rule {rule.get('alert') or rule.get('record')}", rule["expr"])
        for group in document["groups"]
        for rule in group["rules"]
    ]


def dashboard_queries() -> list[Query]:
    """Every panel target's ``expr`` and every query variable's PromQL."""
    dashboard = load_dashboard()
    queries = [
        Query(f"panel {panel['title']!r} {target['refId']}", target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            queries.append(Query(f"variable {variable['name']}", text))
    return queries


def expand(text: str) -> str:
    """Grafana's variables replaced so that the text is plain PromQL: durations
    by a duration, every other variable (only ever inside a matcher's
    string) by a regular expression that matches anything."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return "5m" if name in GRAFANA_DURATIONS else ".*"

    return VARIABLE.sub(value, text)


def selectors(query: Query) -> list[Selector]:
    """The vector selectors of a query, through every function, aggregation and operator."""
    text = expand(query.text)
    templated = LABEL_VALUES.match(text)
    if templated:
        # label_values(selector, label): the selector must name a metric, and the
        # label is one that metric must carry.
        inner = templated.group("selector")
        if inner is None:
            return []
        found = selectors(Query(query.origin, inner))
        return [
            Selector(s.metric, s.matchers, (*s.grouping, templated.group("label")), s.origin)
            for s in found
        ]
    return collect(promql_parser.parse(text), query.origin)


def collect(expr: promql_parser.Expr, origin: str) -> list[Selector]:
    """Walk the tree; an aggregation's ``by`` labels hold for every selector beneath it."""
    found: list[Selector] = []
    grouping: list[tuple[str, ...]] = []

    def enter(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.AggregateExpr):
            modifier = node.modifier
            by = modifier is not None and modifier.type == promql_parser.AggModifierType.By
            grouping.append(tuple(modifier.labels) if by and modifier is not None else ())
        elif isinstance(node, promql_parser.VectorSelector):
            labels = tuple(label for level in grouping for label in level)
            found.append(Selector(metric_name(node), tuple(node.matchers.matchers), labels, origin))

    def leave(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.AggregateExpr):
            grouping.pop()

    promql_parser.walk(expr, enter, leave)
    return found


def metric_name(node: promql_parser.VectorSelector) -> str:
    if node.name:
        return node.name
    named = [m.value for m in node.matchers.matchers if m.name == "__name__"]
    assert named, f"a selector without a metric name: {node}"
    return named[0]
