"""Alerts posted to a real Alertmanager (Debian's), alone and as a two-node gossip cluster."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerter.delivery.channels import alertmanager
from alerter.delivery.channels.base import Outcome
from alerter.delivery.channels.registry import http_client
from hbmon.net import HttpClient
from hbmon.net.policy import NetPolicy
from tests.alerter.receiver import Receiver, receiving
from tests.alertmanager import Alertmanager, cluster, webhook_config
from tests.conftest import require_tool
from tests.support import free_port, wait_for

NOW = float(int(time.time()))
DOWN = {
    "event": "service_down",
    "item": "api",
    "kind": "http",
    "status": "down",
    "title": "🔴 Service Down: api",
    "message": "**Item:** api\n**Status:** down",
    "reason": "connection refused",
    "host": "vps1",
    "occurred_at": NOW - 60,
}
RECOVERED = {
    **DOWN,
    "event": "service_recovered",
    "status": "healthy",
    "reason": None,
    "title": "✅ Service Recovered: api",
    "occurred_at": NOW - 1,
}


@pytest.fixture
def client() -> Iterator[HttpClient]:
    client = http_client(NetPolicy())
    yield client
    client.close()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiving(path="/am-hook") as receiver:
        yield receiver


@pytest.fixture
def node(tmp_path: Path, hook: Receiver) -> Iterator[Alertmanager]:
    binary = require_tool("prometheus-alertmanager")
    am = Alertmanager(binary, webhook_config(tmp_path / "am.yml", hook.url), tmp_path / "am")
    yield am
    am.stop()


def _send(client: HttpClient, am: Alertmanager, alert: dict[str, Any]) -> Outcome:
    rendered = alertmanager.render(alert)
    result = alertmanager.send(client, am.url, [rendered], resend_seconds=60, timeout=5)
    return result.outcome


def _active(am: Alertmanager) -> list[dict[str, Any]]:
    return [a for a in am.alerts() if a["status"]["state"] == "active"]


def test_labels_and_annotations_of_a_down_alert() -> None:
    body = alertmanager.with_ends_at(alertmanager.render(DOWN), now=NOW, resend_seconds=60)
    assert body["labels"] == {
        "alertname": "HeartbeatServiceDown",
        "service": "api",
        "host": "vps1",
        "severity": "critical",
        "kind": "http",
    }
    assert body["annotations"]["reason"] == "connection refused"
    ends = datetime.fromisoformat(body["endsAt"])
    assert ends - datetime.fromtimestamp(NOW, UTC) == timedelta(seconds=240)


def test_a_reminder_fires_its_originals_alert_again() -> None:
    reminder = {**DOWN, "event": "service_down_reminder", "title": "⏰ Reminder #1: down"}
    body = json.loads(alertmanager.render(reminder))
    original = json.loads(alertmanager.render(DOWN))
    assert body["labels"] == original["labels"] and "endsAt" not in body
    assert body["startsAt"] == original["startsAt"]


def test_down_shows_in_alertmanager_and_recovery_resolves_it(
    client: HttpClient, node: Alertmanager
) -> None:
    assert _send(client, node, DOWN) is Outcome.DELIVERED
    [active] = wait_for(lambda: _active(node), timeout=10)
    assert active["labels"]["alertname"] == "HeartbeatServiceDown"
    assert active["annotations"]["summary"] == DOWN["title"]
    assert _send(client, node, RECOVERED) is Outcome.DELIVERED
    wait_for(lambda: not _active(node), timeout=10)


def test_a_bad_payload_is_permanent_and_an_unreachable_node_is_retried(
    client: HttpClient, node: Alertmanager
) -> None:
    refused = alertmanager.send(
        client, node.url, [b'{"labels":{}}'], resend_seconds=60, timeout=5
    )  # Alertmanager answers 400 to an alert without labels: resending cannot help
    assert refused.outcome is Outcome.PERMANENT
    assert refused.detail.startswith("HTTP 400")
    broken = alertmanager.send(
        client,
        f"http://127.0.0.1:{free_port()}",
        [alertmanager.render(DOWN)],
        resend_seconds=60,
        timeout=2,
    )
    assert broken.outcome is Outcome.RETRY


def test_a_silence_in_alertmanager_suppresses_the_notification(
    client: HttpClient, node: Alertmanager, hook: Receiver
) -> None:
    start = datetime.now(UTC)
    silence = {
        "matchers": [{"name": "service", "value": "api", "isRegex": False, "isEqual": True}],
        "startsAt": start.isoformat(),
        "endsAt": (start + timedelta(hours=1)).isoformat(),
        "createdBy": "test",
        "comment": "maintenance",
    }
    request = urllib.request.Request(
        node.url + "/api/v2/silences",
        data=json.dumps(silence).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()
    assert _send(client, node, DOWN) is Outcome.DELIVERED
    wait_for(lambda: [a for a in node.alerts() if a["status"]["state"] == "suppressed"], timeout=10)
    time.sleep(3)  # three group intervals: a notification would have gone out by now
    assert hook.all_requests() == []


def test_two_node_cluster_gets_the_alert_on_both_nodes_and_notifies_once(
    tmp_path: Path, client: HttpClient, hook: Receiver
) -> None:
    binary = require_tool("prometheus-alertmanager")
    config = webhook_config(tmp_path / "am.yml", hook.url)
    nodes = cluster(binary, config, tmp_path)
    try:
        for am in nodes:
            assert _send(client, am, DOWN) is Outcome.DELIVERED
        for am in nodes:
            wait_for(lambda am=am: _active(am), timeout=10)
        wait_for(hook.all_requests, timeout=30)
        time.sleep(6)  # past the second node's peer-timeout wait: a duplicate would be here
        [notification] = hook.all_requests()
        alerts = notification.json()["alerts"]
        assert [a["labels"]["service"] for a in alerts] == ["api"]
    finally:
        for am in nodes:
            am.stop()
