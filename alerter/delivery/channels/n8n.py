"""The N8N webhook: today's JSON body and headers, and the classification of its reply."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

from alerter.delivery.backoff import parse_retry_after
from alerter.delivery.channels.base import (
    Channel,
    Destination,
    Outcome,
    SendResult,
    answer_of,
    failure_of,
)
from hbmon.alerter_settings import redact_url
from hbmon.net import HttpClient, HttpReply

RETRYABLE_CODES = frozenset({408, 429})


def render(alert: Mapping[str, Any]) -> bytes:
    """The alert body exactly as existing workflows know it: compact UTF-8 JSON."""
    return json.dumps(alert, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def send(client: HttpClient, url: str, body: bytes, alert_id: str, timeout: float) -> SendResult:
    """POST one alert with its id as Idempotency-Key."""
    headers = (
        ("Content-Type", "application/json; charset=utf-8"),
        ("Idempotency-Key", alert_id),
        ("User-Agent", "heartbeat-alerter"),
    )
    reply = client.request(url, headers=headers, body=body, timeout=timeout)
    return classify(reply, now=time.time())


def classify(reply: HttpReply, *, now: float) -> SendResult:
    """2xx delivered; network errors, 3xx, 408, 429 and 5xx retried; other codes permanent."""
    status = answer_of(reply)
    if status is None:
        return SendResult(Outcome.RETRY, failure_of(reply) or "no answer", elapsed=reply.elapsed_s)
    if 200 <= status < 300:
        return SendResult(Outcome.DELIVERED, f"HTTP {status}", None, status, None, reply.elapsed_s)
    retry_after = parse_retry_after(reply.header("retry-after"), now=now)
    if 300 <= status < 400:
        return _redirected(reply, status, retry_after)
    text = reply.body[:300].decode("utf-8", "replace")
    retryable = status in RETRYABLE_CODES or status >= 500
    outcome = Outcome.RETRY if retryable else Outcome.PERMANENT
    return SendResult(outcome, f"HTTP {status}: {text}", retry_after, status)


def _redirected(reply: HttpReply, status: int, retry_after: float | None) -> SendResult:
    """A moved webhook is retried until ALERT_MAX_AGE_SECONDS, so a fixed URL still gets the alert.

    The body is left out and the Location cut to scheme and host: both may spell out the new,
    secret, webhook URL.
    """
    location = safe_location(reply.header("location"))
    detail = f"HTTP {status}: redirected to {location}"
    return SendResult(Outcome.RETRY, detail, retry_after, status, location)


def safe_location(location: str | None) -> str:
    """A Location reduced to scheme and host: webhook paths and queries are bearer credentials."""
    if not location or not location.strip():
        return "(no Location header)"
    parts = urlsplit(location.strip())
    if not parts.netloc:
        return "(same origin)/***"
    port = _port(parts)
    return f"{parts.scheme}://{parts.hostname}{f':{port}' if port else ''}/***"


def _port(parts: SplitResult) -> int | None:
    try:
        return parts.port
    except ValueError:  # a malformed port is not worth failing the delivery loop over
        return None


def destination(client: HttpClient, url: str, *, timeout: float) -> Destination:
    """The one N8N webhook; its key is plain `n8n`, as rows from before channels existed."""
    return Destination(
        Channel.N8N,
        str(Channel.N8N),
        display=redact_url(url),
        render=render,
        send=lambda rendered, alert_id: send(client, url, rendered, alert_id, timeout),
    )
