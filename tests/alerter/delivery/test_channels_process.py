"""Every channel through the real `heartbeat-alerter` process: Apprise, Alertmanager, N8N."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerter.dbutil import exporter_db, insert_cycle
from tests.alerter.proc import Process, alerter_env, start
from tests.alerter.receiver import Answer, Received, Receiver, receiving
from tests.alerter.smtp import smtp_server
from tests.alertmanager import Alertmanager, cluster, webhook_config
from tests.conftest import require_tool
from tests.support import wait_for

pytestmark = pytest.mark.slow
RESEND = 1.0  # ALERTMANAGER_RESEND_SECONDS: endsAt is 4 s ahead of each send
OUTAGE = 60.0  # the "503 for a minute"


def _started(tmp_path: Path, **extra: str) -> Process:
    exporter_db(tmp_path / "metrics.db").close()
    process = start(tmp_path, alerter_env(tmp_path, STATUS_CHANGE_THRESHOLD="1", **extra))
    process.wait_ready()
    return process


def _ids(bodies: list[dict[str, Any]], items: tuple[str, ...]) -> set[str]:
    return {b["id"] for b in bodies if b["item"] in items}


def _cycles(tmp_path: Path, *timeline: dict[str, str]) -> None:
    writer = exporter_db(tmp_path / "metrics.db")
    for checks in timeline:
        insert_cycle(writer, dict(checks))
    writer.close()


@pytest.fixture
def am_hook() -> Iterator[Receiver]:
    with receiving(path="/am-hook") as receiver:
        yield receiver


@pytest.fixture
def node(tmp_path: Path, am_hook: Receiver) -> Iterator[Alertmanager]:
    binary = require_tool("prometheus-alertmanager")
    am = Alertmanager(binary, webhook_config(tmp_path / "am.yml", am_hook.url), tmp_path / "am")
    yield am
    am.stop()


def test_apprise_json_retried_after_500_and_mailto_to_a_real_smtp_server(tmp_path: Path) -> None:
    answers = iter([Answer(500)])
    with (
        receiving(lambda _r: next(answers, Answer(200)), path="/notify") as hook,
        smtp_server() as inbox,
    ):
        json_url = hook.url.replace("http://", "json://")
        alerter = _started(tmp_path, APPRISE_URLS=f"{json_url} {inbox.mailto()}")
        _cycles(tmp_path, {"api": "down"})
        wait_for(lambda: hook.bodies() and inbox.messages, timeout=20)
        assert alerter.terminate() == 0
    [first, second] = hook.all_requests()
    assert first.body == second.body  # rendered once, at enqueue
    [body] = hook.bodies()
    assert body["title"] == "🔴 Service Down: api"
    assert "**Item:** api" in body["message"]
    [mail] = inbox.messages
    assert mail["Subject"] == "🔴 Service Down: api"
    retried = [e for e in alerter.events() if e["event"] == "alert.retry"]
    assert [e["channel"] for e in retried] == ["apprise"]
    delivered = [e for e in alerter.events() if e["event"] == "alert.delivered"]
    assert len(delivered) == 2 and {e["process"] for e in delivered} == {"alerter"}
    assert json_url not in alerter.log_path.read_text()


def test_alertmanager_alert_stays_active_across_resends_and_a_kill_9_then_resolves(
    tmp_path: Path, node: Alertmanager
) -> None:
    env = {"ALERTMANAGER_URLS": node.url, "ALERTMANAGER_RESEND_SECONDS": f"{RESEND:g}"}
    alerter = _started(tmp_path, **env)
    _cycles(tmp_path, {"api": "down"})
    [active] = wait_for(node.active, timeout=15)
    assert active["labels"] == {
        "alertname": "HeartbeatServiceDown",
        "service": "api",
        "host": "e2e",
        "severity": "critical",
        "kind": "http",
    }
    time.sleep(8 * RESEND)  # twice the endsAt window: only re-sends keep it active
    assert [a["labels"]["service"] for a in node.active()] == ["api"]
    alerter.kill()
    alerter = start(tmp_path, alerter.env)
    alerter.wait_ready()
    time.sleep(8 * RESEND)
    assert [a["labels"]["service"] for a in node.active()] == ["api"]
    _cycles(tmp_path, {"api": "healthy"})
    wait_for(lambda: not node.active(), timeout=15)
    time.sleep(3 * RESEND)  # a recovered item is not re-sent back to life
    assert not node.active()
    assert alerter.terminate() == 0


def test_two_node_cluster_gets_the_alert_from_the_alerter_and_notifies_once(
    tmp_path: Path, am_hook: Receiver
) -> None:
    binary = require_tool("prometheus-alertmanager")
    nodes = cluster(binary, webhook_config(tmp_path / "am.yml", am_hook.url), tmp_path)
    try:
        alerter = _started(tmp_path, ALERTMANAGER_URLS=",".join(n.url for n in nodes))
        _cycles(tmp_path, {"api": "down"})
        for am in nodes:
            wait_for(am.active, timeout=15)
        wait_for(am_hook.all_requests, timeout=30)
        time.sleep(6)  # past the second node's peer-timeout wait: a duplicate would be here
        [notification] = am_hook.all_requests()
        assert [a["labels"]["service"] for a in notification.json()["alerts"]] == ["api"]
        assert alerter.terminate() == 0
    finally:
        for am in nodes:
            am.stop()


def _collapse(titles: list[str]) -> list[str]:
    """Adjacent repeats removed: at-least-once may repeat the alert just sent, nothing else."""
    return [t for i, t in enumerate(titles) if i == 0 or titles[i - 1] != t]


@pytest.mark.timeout(180)
def test_a_broken_channel_never_delays_a_healthy_one_and_catches_up_in_order(
    tmp_path: Path,
) -> None:
    """N8N answers 503 for a minute while Apprise is healthy; the alerter is SIGKILLed in the
    middle of the outage."""
    outage_ends = time.time() + 60
    items = ("api", "db")
    rounds = 3

    def n8n_script(_received: Received) -> Answer:
        return Answer(503) if time.time() < outage_ends else Answer(200)

    with (
        receiving(n8n_script) as n8n,
        receiving(path="/notify") as apprise,
    ):
        env = {"N8N_WEBHOOK_URL": n8n.url, "APPRISE_URLS": apprise.url.replace("http", "json")}
        alerter = _started(tmp_path, **env)
        outage_ends = time.time() + OUTAGE
        _cycles(tmp_path, *[dict.fromkeys(items, s) for s in ["down", "healthy"] * rounds])
        expected = 2 * rounds * len(items)
        wait_for(lambda: len(apprise.bodies()) >= expected, timeout=10)
        assert time.time() < outage_ends and n8n.bodies() == []  # on time, during the outage
        time.sleep(OUTAGE / 2)
        alerter.kill()
        alerter = start(tmp_path, alerter.env)
        alerter.wait_ready()
        # A minute without cycles also brings `exporter_stalled`: count the services' alerts.
        wait_for(lambda: len(_ids(n8n.bodies(), items)) == expected, timeout=OUTAGE + 30)
        assert min(r.at for r in n8n.accepted) >= outage_ends
        assert alerter.terminate() == 0

    received: dict[str, dict[str, Any]] = {}
    for body in n8n.bodies():
        assert received.setdefault(body["id"], body) == body  # a duplicate is the same alert
    for item in items:
        events = [
            received[i]["event"]
            for i in dict.fromkeys(b["id"] for b in n8n.bodies())
            if received[i]["item"] == item
        ]
        assert events == ["service_down", "service_recovered"] * rounds
        titles = [b["title"] for b in apprise.bodies() if b["title"].endswith(f": {item}")]
        assert (
            _collapse(titles)
            == [f"🔴 Service Down: {item}", f"✅ Service Recovered: {item}"] * rounds
        )
