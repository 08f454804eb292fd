"""The shipped Grafana dashboard is dashboard JSON Grafana imports as it is.

Its data source is a ``${datasource}`` variable of Prometheus data sources,
so it imports into any Grafana whatever the Prometheus is called; every panel
and target uses it, every query parses as PromQL, every variable a query
uses is defined, the panels do not overlap on Grafana's 24-column grid, and
everything an alert fires on has a panel.  That the metrics exist is
``test_deploy_metrics_served``'s part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.promql_queries import (
    GRAFANA_DURATIONS,
    VARIABLE,
    Query,
    dashboard_queries,
    expand,
    load_dashboard,
    rule_queries,
    selectors,
)
from tests.promtool import needs_promtool, promtool

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
GRID_COLUMNS = 24
# Dashboards stored with data source references as {type, uid} objects start here.
MIN_SCHEMA_VERSION = 36


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' collapsed children included."""
    found = []
    for panel in dashboard["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def test_the_dashboard_is_a_current_dashboard_with_a_prometheus_datasource_variable() -> None:
    dashboard = load_dashboard()
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= MIN_SCHEMA_VERSION
    assert dashboard["title"] and dashboard["uid"]
    assert len(dashboard["uid"]) <= 40  # Grafana refuses longer uids
    assert "id" not in dashboard or dashboard["id"] is None  # an import creates its own
    source = variables(dashboard)["datasource"]
    assert source["type"] == "datasource"
    assert source["query"] == "prometheus"


def test_every_panel_and_target_queries_the_datasource_variable() -> None:
    dashboard = load_dashboard()
    shown = [p for p in panels(dashboard) if p["type"] != "row"]
    assert len(shown) >= 10
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in shown:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
    for variable in variables(dashboard).values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE, variable["name"]


def test_every_query_parses_and_uses_only_defined_variables() -> None:
    dashboard = load_dashboard()
    defined = set(variables(dashboard)) | set(GRAFANA_DURATIONS)
    for query in dashboard_queries():
        used = {a or b for a, b in VARIABLE.findall(query.text)}
        assert used <= defined, (query.origin, used - defined)
        assert selectors(query), query.origin  # parses, and names a metric


def test_panels_fit_the_grid_without_overlapping() -> None:
    taken: dict[tuple[int, int], str] = {}
    for panel in panels(load_dashboard()):
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("h", "w", "x", "y")), panel["title"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= GRID_COLUMNS
        for column in range(grid["x"], grid["x"] + grid["w"]):
            for line in range(grid["y"], grid["y"] + grid["h"]):
                assert (column, line) not in taken, (panel["title"], taken.get((column, line)))
                taken[(column, line)] = panel["title"]


def test_every_metric_an_alert_fires_on_has_a_panel() -> None:
    def metrics(queries: list[Query]) -> set[str]:
        return {s.metric for q in queries for s in selectors(q)}

    assert metrics(rule_queries()) <= metrics(dashboard_queries())


@needs_promtool
def test_prometheus_itself_parses_every_panel_query(tmp_path: Path) -> None:
    """promtool checks each panel's query as a recording rule's expression, with
    Prometheus' own parser (Grafana's variables given values as Grafana would)."""
    queries = [q for q in dashboard_queries() if q.origin.startswith("panel ")]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"lookout_dashboard:query{i}", "expr": expand(q.text)}
                    for i, q in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = promtool("check", "rules", path.name, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout
