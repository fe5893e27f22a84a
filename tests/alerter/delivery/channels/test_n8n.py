"""The N8N channel: today's body and headers, and how a webhook's reply is classified."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alerter.delivery.channels import n8n
from alerter.delivery.channels.base import Outcome
from alerter.delivery.channels.n8n import classify
from hbmon.net import ErrorKind, HttpReply, NetError

NOW = 1_700_000_000.0


def answer(status: int, **fields: Any) -> HttpReply:
    return HttpReply(status_code=status, **fields)


def test_render_is_compact_utf8_json_of_the_alert_body() -> None:
    body = {"id": "x", "title": "🔴 Servicio Caído: api", "latency_ms": None}
    rendered = n8n.render(body)
    assert rendered == '{"id":"x","title":"🔴 Servicio Caído: api","latency_ms":null}'.encode()
    assert json.loads(rendered) == body


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    result = classify(answer(status), now=NOW)
    assert result.outcome is Outcome.DELIVERED and result.status_code == status


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [
        (HttpReply(error=NetError(ErrorKind.TIMEOUT, "timed out after 5s reading")), False),
        (HttpReply(error=NetError(ErrorKind.REFUSED, "connection refused")), False),
        (HttpReply(error=NetError(ErrorKind.RESET, "connection reset by peer")), False),
        (answer(408), False),
        (answer(429), False),
        (answer(500), False),
        (answer(502), False),
        (answer(503), False),
        (answer(599), False),
        (answer(301), False),
        (answer(302), False),
        (answer(307), False),
        (answer(308), False),
        (answer(400), True),
        (answer(401), True),
        (answer(404), True),
        (answer(410), True),
        (answer(422), True),
    ],
)
def test_reply_classification(reply: HttpReply, permanent: bool) -> None:
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
    headers = () if location is None else (("Location", location),)
    body = f"Moved to {location}".encode()
    result = classify(answer(308, headers=headers, body=body), now=NOW)
    assert result.outcome is Outcome.RETRY and result.location == shown
    assert result.detail == f"HTTP 308: redirected to {shown}"  # no body: it names the URL


def test_retry_after_of_a_429_is_kept() -> None:
    assert classify(answer(429, headers=(("Retry-After", "12"),)), now=NOW).retry_after == 12.0


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (NetError(ErrorKind.TIMEOUT, "timed out after 5s connecting"), "timeout: timeout: timed"),
        (NetError(ErrorKind.REFUSED, "connection refused"), "connection: refused: connection"),
    ],
)
def test_no_answer_is_retried_with_the_kind_of_failure(error: NetError, detail: str) -> None:
    result = classify(HttpReply(status_code=502, error=error), now=NOW)
    assert result.outcome is Outcome.RETRY and result.status_code is None
    assert result.detail.startswith(detail)
