"""Alerts as Alertmanager sees them: POST /api/v2/alerts to every node, firing or resolved."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerter.channels.base import Outcome, SendResult
from alerter.delivery import parse_retry_after
from alerter.transport import Transport

API_PATH = "/api/v2/alerts"
ENDS_AT_RESENDS = 4  # a firing alert stays active this many resend periods without news


@dataclass(frozen=True)
class Rule:
    alertname: str
    severity: str
    firing: bool


def rule_for(alert: Mapping[str, Any]) -> Rule:
    """Which Alertmanager alert an event opens or resolves."""
    event = alert["event"]
    if event in ("service_down", "service_recovered"):
        return Rule("HeartbeatServiceDown", "critical", event == "service_down")
    if event in ("exporter_stalled", "exporter_recovered"):
        return Rule("HeartbeatExporterStalled", "critical", event == "exporter_stalled")
    if event == "worker_status_changed":
        return Rule("HeartbeatWorkerStatus", "critical", alert["status"] != "healthy")
    raise ValueError(f"no Alertmanager rule for event {event!r}")


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def render(alert: Mapping[str, Any]) -> bytes:
    """One alert of the v2 API; a firing one gets its endsAt at send time (see `send`)."""
    rule = rule_for(alert)
    body: dict[str, Any] = {
        "labels": {
            "alertname": rule.alertname,
            "service": alert["item"],
            "host": alert["host"],
            "severity": rule.severity,
            "kind": alert["kind"],
        },
        "annotations": {
            "summary": alert["title"],
            "description": alert["message"],
            "reason": alert.get("reason") or "",
        },
        "startsAt": rfc3339(alert["occurred_at"]),
    }
    if not rule.firing:
        body["endsAt"] = rfc3339(alert["occurred_at"])
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def with_ends_at(rendered: bytes, *, now: float, resend_seconds: float) -> bytes:
    """A firing alert stays active a few resend periods ahead of the moment it is sent."""
    body = json.loads(rendered)
    if "endsAt" not in body:
        body["endsAt"] = rfc3339(now + ENDS_AT_RESENDS * resend_seconds)
    return json.dumps([body], ensure_ascii=False, separators=(",", ":")).encode()


def send(
    transport: Transport,
    base_url: str,
    rendered: bytes,
    *,
    resend_seconds: float,
    timeout: float,
    now: float | None = None,
) -> SendResult:
    now = time.time() if now is None else now
    body = with_ends_at(rendered, now=now, resend_seconds=resend_seconds)
    reply = transport.post(
        base_url.rstrip("/") + API_PATH,
        body,
        {"Content-Type": "application/json"},
        timeout,
    )
    if reply.status is None:
        return SendResult(Outcome.RETRY, reply.error or "no answer")
    if 200 <= reply.status < 300:
        return SendResult(Outcome.DELIVERED, f"HTTP {reply.status}")
    detail = f"HTTP {reply.status}: {reply.body[:200].decode('utf-8', 'replace').strip()}"
    if 400 <= reply.status < 500 and reply.status not in (408, 429):
        return SendResult(Outcome.PERMANENT, detail)
    retry_after = parse_retry_after(reply.headers.get("retry-after"), now=now)
    return SendResult(Outcome.RETRY, detail, retry_after)
