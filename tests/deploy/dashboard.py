"""Reading the Grafana dashboard: its PromQL queries, the metric names they use, Grafana macros."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.deploy.conftest import DEPLOY

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "heartbeat-monitor.json"

# The public contract of issue 2 (exporter) and issue 4 (alerter), plus Prometheus's own `up`.
CONTRACT = frozenset(
    {
        "heartbeat_service_up",
        "heartbeat_service_status",
        "heartbeat_service_latency_seconds",
        "heartbeat_service_http_status_code",
        "heartbeat_service_phase_seconds",
        "heartbeat_service_tls_cert_expiry_timestamp_seconds",
        "heartbeat_service_ip_family",
        "heartbeat_internet_up",
        "heartbeat_internet_latency_seconds",
        "heartbeat_host_cpu_usage_ratio",
        "heartbeat_host_memory_usage_ratio",
        "heartbeat_host_memory_used_bytes",
        "heartbeat_host_disk_usage_ratio",
        "heartbeat_host_uptime_seconds",
        "heartbeat_docker_containers_running",
        "heartbeat_cycle_duration_seconds",
        "heartbeat_last_cycle_timestamp_seconds",
        "heartbeat_cycles_total",
        "heartbeat_skipped_ticks_total",
        "heartbeat_build_info",
        "heartbeat_alerts_total",
        "heartbeat_alert_outbox_pending",
        "heartbeat_alert_oldest_pending_age_seconds",
        "heartbeat_heartbeats_total",
        "heartbeat_worker_status_code",
        "heartbeat_alerter_lag_cycles",
        "up",
    }
)

# What Grafana substitutes before a query reaches Prometheus ("All" selects everything).
MACROS = {"$__rate_interval": "10s", "$__interval": "1s", "$host": ".*", "$service": ".*"}

_SELECTOR_NAME = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{")
_HEARTBEAT_NAME = re.compile(r"\bheartbeat_[a-z0-9_]+\b")
_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of the dashboard and where it comes from."""

    where: str
    expr: str

    def metric_names(self) -> frozenset[str]:
        names = set(_HEARTBEAT_NAME.findall(self.expr)) | set(_SELECTOR_NAME.findall(self.expr))
        return frozenset(names - {"by", "without", "on", "ignoring"})

    def rendered(self) -> str:
        expr = self.expr
        for macro, value in sorted(MACROS.items(), key=lambda item: -len(item[0])):
            expr = expr.replace(macro, value)
        return expr


def load() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def queries() -> list[Query]:
    """Every panel target, and every template variable query turned into plain PromQL."""
    dashboard = load()
    found = [
        Query(f"{panel['title']}/{target['refId']}", target["expr"])
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = _LABEL_VALUES.match(variable["definition"])
        assert match, f"variable {variable['name']}: only label_values(selector, label) is used"
        expr = f"group by ({match['label']}) ({match['selector']})"
        found.append(Query(f"variable ${variable['name']}", expr))
    return found
