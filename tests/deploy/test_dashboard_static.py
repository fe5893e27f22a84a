"""The Grafana dashboard and provisioning are consistent, and use only metric names that exist."""

from __future__ import annotations

from tests.deploy.conftest import DEPLOY
from tests.deploy.dashboard import CONTRACT, load, queries


def test_every_query_uses_only_contract_metric_names() -> None:
    unknown = {q.where: sorted(q.metric_names() - CONTRACT) for q in queries()}
    assert {where: names for where, names in unknown.items() if names} == {}


def test_every_query_names_at_least_one_metric() -> None:
    assert [q.where for q in queries() if not q.metric_names()] == []


def test_panel_ids_are_unique_and_queries_use_the_datasource_variable() -> None:
    panels = load()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_dashboard_covers_the_issue_topics() -> None:
    used = set().union(*(q.metric_names() for q in queries()))
    wanted = CONTRACT - {"heartbeat_service_ip_family", "heartbeat_service_up"}
    assert sorted(wanted - used) == []


def test_provisioning_points_at_the_shipped_dashboard_folder() -> None:
    provider = (DEPLOY / "grafana/provisioning/dashboards/heartbeat-monitor.yml").read_text()
    compose = (DEPLOY / "docker-compose.yml").read_text()
    assert "path: /var/lib/grafana/dashboards/heartbeat" in provider
    assert "./grafana/dashboards:/var/lib/grafana/dashboards/heartbeat:ro" in compose
    datasource = (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
    assert "url: http://prometheus:9090" in datasource
