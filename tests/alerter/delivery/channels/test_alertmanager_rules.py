"""Which Alertmanager alert each event opens or resolves, reminders included."""

from __future__ import annotations

import pytest

from alerter.delivery.channels.alertmanager import Rule, rule_for
from alerter.model import Event

CASES = [
    ("service_down", "down", Rule("HeartbeatServiceDown", "critical", True)),
    ("service_recovered", "healthy", Rule("HeartbeatServiceDown", "critical", False)),
    ("service_degraded", "degraded", Rule("HeartbeatServiceDegraded", "warning", True)),
    ("service_degraded_cleared", "healthy", Rule("HeartbeatServiceDegraded", "warning", False)),
    ("service_flapping", "flapping", Rule("HeartbeatServiceFlapping", "warning", True)),
    ("service_flapping_ended", "down", Rule("HeartbeatServiceFlapping", "warning", False)),
    ("internet_down", "down", Rule("HeartbeatInternetDown", "critical", True)),
    ("internet_recovered", "healthy", Rule("HeartbeatInternetDown", "critical", False)),
    ("docker_unreachable", "unreachable", Rule("HeartbeatDockerUnreachable", "critical", True)),
    ("docker_recovered", "healthy", Rule("HeartbeatDockerUnreachable", "critical", False)),
    ("certificate_expiring", "expiring", Rule("HeartbeatCertificateExpiring", "warning", True)),
    ("certificate_renewed", "healthy", Rule("HeartbeatCertificateExpiring", "warning", False)),
    ("exporter_stalled", "stalled", Rule("HeartbeatExporterStalled", "critical", True)),
    ("worker_status_changed", "blind", Rule("HeartbeatWorkerStatus", "critical", True)),
    ("worker_status_changed", "healthy", Rule("HeartbeatWorkerStatus", "critical", False)),
    ("service_down_reminder", "down", Rule("HeartbeatServiceDown", "critical", True)),
    ("service_degraded_reminder", "degraded", Rule("HeartbeatServiceDegraded", "warning", True)),
    ("service_flapping_reminder", "flapping", Rule("HeartbeatServiceFlapping", "warning", True)),
    ("worker_status_changed_reminder", "blind", Rule("HeartbeatWorkerStatus", "critical", True)),
]


@pytest.mark.parametrize(("event", "status", "rule"), CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_rule_for_every_event(event: str, status: str, rule: Rule) -> None:
    assert rule_for({"event": event, "status": status}) == rule


def test_every_declared_event_has_a_rule() -> None:
    for event in Event:
        rule_for({"event": event, "status": "down"})


def test_an_unknown_event_is_a_bug() -> None:
    with pytest.raises(ValueError, match="no Alertmanager rule"):
        rule_for({"event": "nonsense", "status": "down"})
