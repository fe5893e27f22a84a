"""The N8N channel: today's body and headers, and how a webhook's reply is classified."""

from __future__ import annotations

import json

import pytest

from alerter.delivery.channels import n8n
from alerter.delivery.channels.base import Outcome
from alerter.delivery.channels.n8n import classify
from alerter.transport import Reply

NOW = 1_700_000_000.0


def test_render_is_compact_utf8_json_of_the_alert_body() -> None:
    body = {"id": "x", "title": "🔴 Servicio Caído: api", "latency_ms": None}
    rendered = n8n.render(body)
    assert rendered == '{"id":"x","title":"🔴 Servicio Caído: api","latency_ms":null}'.encode()
    assert json.loads(rendered) == body


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    result = classify(Reply(status), now=NOW)
    assert result.outcome is Outcome.DELIVERED and result.status_code == status


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        (Reply(None, error="timeout: read timed out"), False),
        (Reply(None, error="connection: refused"), False),
        (Reply(408), False),
        (Reply(429), False),
        (Reply(500), False),
        (Reply(502), False),
        (Reply(503), False),
        (Reply(599), False),
        (Reply(301), False),
        (Reply(302), False),
        (Reply(307), False),
        (Reply(308), False),
        (Reply(400), True),
        (Reply(401), True),
        (Reply(404), True),
        (Reply(410), True),
        (Reply(422), True),
    ],
)
def test_reply_classification(reply: Reply, permanent: bool) -> None:
    outcome = classify(reply, now=NOW).outcome
    assert outcome is (Outcome.PERMANENT if permanent else Outcome.RETRY)


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("https://n8n.example/webhook/n3w-s3cr3t?token=q", "https://n8n.example/***"),
        ("https://user:pw@n8n.example:8443/webhook/n3w-s3cr3t", "https://n8n.example:8443/***"),
        ("/webhook/n3w-s3cr3t", "(same origin)/***"),
        ("http://n8n.example:bad/webhook/n3w-s3cr3t", "http://n8n.example/***"),
        (None, "(no Location header)"),
    ],
)
def test_redirect_keeps_only_scheme_and_host_of_the_location(
    location: str | None, shown: str
) -> None:
    headers = {} if location is None else {"location": location}
    body = f"Moved to {location}".encode()
    result = classify(Reply(308, headers=headers, body=body), now=NOW)
    assert result.outcome is Outcome.RETRY and result.location == shown
    assert result.detail == f"HTTP 308: redirected to {shown}"  # no body: it names the URL


def test_retry_after_of_a_429_is_kept() -> None:
    assert classify(Reply(429, headers={"retry-after": "12"}), now=NOW).retry_after == 12.0
