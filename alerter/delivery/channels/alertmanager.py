"""Alerts as Alertmanager sees them: POST /api/v2/alerts to every node, firing or resolved."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from alerter.delivery.backoff import parse_retry_after
from alerter.delivery.channels.base import (
    Channel,
    Destination,
    Outcome,
    SendResult,
    answer_of,
    destination_key,
    failure_of,
)
from alerter.model import REMINDER_SUFFIX, Event
from hbmon.alerter_settings import redact_url
from hbmon.net import HttpClient

API_PATH = "/api/v2/alerts"
ENDS_AT_RESENDS = 4  # a firing alert stays active this many resend periods without news


@dataclass(frozen=True)
class Rule:
    alertname: str
    severity: str
    firing: bool


# event -> (alertname, severity, firing); a reminder repeats its original's rule, firing.
_RULES = {
    Event.SERVICE_DOWN: ("HeartbeatServiceDown", "critical", True),
    Event.SERVICE_RECOVERED: ("HeartbeatServiceDown", "critical", False),
    Event.EXPORTER_STALLED: ("HeartbeatExporterStalled", "critical", True),
    Event.EXPORTER_RECOVERED: ("HeartbeatExporterStalled", "critical", False),
    Event.SERVICE_DEGRADED: ("HeartbeatServiceDegraded", "warning", True),
    Event.SERVICE_DEGRADED_CLEARED: ("HeartbeatServiceDegraded", "warning", False),
    Event.SERVICE_FLAPPING: ("HeartbeatServiceFlapping", "warning", True),
    Event.SERVICE_FLAPPING_ENDED: ("HeartbeatServiceFlapping", "warning", False),
    Event.INTERNET_DOWN: ("HeartbeatInternetDown", "critical", True),
    Event.INTERNET_RECOVERED: ("HeartbeatInternetDown", "critical", False),
    Event.DOCKER_UNREACHABLE: ("HeartbeatDockerUnreachable", "critical", True),
    Event.DOCKER_RECOVERED: ("HeartbeatDockerUnreachable", "critical", False),
    Event.CERTIFICATE_EXPIRING: ("HeartbeatCertificateExpiring", "warning", True),
    Event.CERTIFICATE_RENEWED: ("HeartbeatCertificateExpiring", "warning", False),
}


def rule_for(alert: Mapping[str, Any]) -> Rule:
    """Which Alertmanager alert an event opens or resolves."""
    event = str(alert["event"])
    if event == Event.WORKER_STATUS_CHANGED:
        return Rule("HeartbeatWorkerStatus", "critical", alert["status"] != "healthy")
    if event.endswith(REMINDER_SUFFIX):
        original = rule_for({**alert, "event": event.removesuffix(REMINDER_SUFFIX)})
        return Rule(original.alertname, original.severity, True)
    known = _RULES.get(event)  # type: ignore[call-overload]
    if known is None:
        raise ValueError(f"no Alertmanager rule for event {event!r}")
    return Rule(*known)


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


def with_ends_at(rendered: bytes, *, now: float, resend_seconds: float) -> dict[str, Any]:
    """A firing alert stays active a few resend periods ahead of the moment it is sent."""
    body: dict[str, Any] = json.loads(rendered)
    if "endsAt" not in body:
        body["endsAt"] = rfc3339(now + ENDS_AT_RESENDS * resend_seconds)
    return body


def is_firing(rendered: bytes) -> bool:
    return "endsAt" not in json.loads(rendered)


def send(
    client: HttpClient,
    base_url: str,
    alerts: Sequence[bytes],
    *,
    resend_seconds: float,
    timeout: float,
    now: float | None = None,
) -> SendResult:
    """POST rendered alerts in one request; 4xx is permanent, 5xx and network are retried."""
    now = time.time() if now is None else now
    bodies = [with_ends_at(a, now=now, resend_seconds=resend_seconds) for a in alerts]
    reply = client.request(
        base_url.rstrip("/") + API_PATH,
        headers=(("Content-Type", "application/json"),),
        body=json.dumps(bodies, ensure_ascii=False, separators=(",", ":")).encode(),
        timeout=timeout,
    )
    status = answer_of(reply)
    if status is None:
        return SendResult(Outcome.RETRY, failure_of(reply) or "no answer", elapsed=reply.elapsed_s)
    if 200 <= status < 300:
        return SendResult(Outcome.DELIVERED, f"HTTP {status}", None, status)
    detail = f"HTTP {status}: {reply.body[:200].decode('utf-8', 'replace').strip()}"
    if 400 <= status < 500 and status not in (408, 429):
        return SendResult(Outcome.PERMANENT, detail, status_code=status)
    retry_after = parse_retry_after(reply.header("retry-after"), now=now)
    return SendResult(Outcome.RETRY, detail, retry_after, status)


def destination(
    client: HttpClient, base_url: str, *, resend_seconds: float, timeout: float
) -> Destination:
    """One Alertmanager node: every alert goes to each node, as Prometheus does for an HA pair."""

    def post(alerts: Sequence[bytes]) -> SendResult:
        return send(client, base_url, alerts, resend_seconds=resend_seconds, timeout=timeout)

    def resend(alerts: Sequence[bytes]) -> SendResult | None:
        still_firing = [a for a in alerts if is_firing(a)]
        return post(still_firing) if still_firing else None

    return Destination(
        Channel.ALERTMANAGER,
        destination_key(Channel.ALERTMANAGER, base_url),
        display=redact_url(base_url),
        render=render,
        send=lambda rendered, _alert_id: post([rendered]),
        resend=resend,
        resend_every=resend_seconds,
    )
