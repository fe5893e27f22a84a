"""Sending one alert: a thin POST, the classification of its reply, and the retry schedule."""

from __future__ import annotations

import email.utils
import math
import time
from urllib.parse import SplitResult, urlsplit

from alerter.transport import Reply, Transport

RETRYABLE_CODES = frozenset({408, 429})


class DeliveryError(Exception):
    """The webhook did not take the alert; `permanent` says whether retrying can help."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
        location: str | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status_code = status_code
        self.retry_after = retry_after
        self.location = location  # a 3xx reply's Location, reduced to scheme and host

    @property
    def redirected(self) -> bool:
        return self.status_code is not None and 300 <= self.status_code < 400


def send_alert(transport: Transport, url: str, body: bytes, alert_id: str, timeout: float) -> Reply:
    """POST one alert; returns the 2xx reply or raises DeliveryError."""
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": alert_id,
        "User-Agent": "heartbeat-alerter",
    }
    reply = transport.post(url, body, headers, timeout)
    check_reply(reply, now=time.time())
    return reply


def check_reply(reply: Reply, *, now: float) -> None:
    """2xx passes; network errors, 3xx, 408, 429 and 5xx are retryable; other codes permanent."""
    if reply.status is None:
        raise DeliveryError(reply.error or "no answer", permanent=False)
    if 200 <= reply.status < 300:
        return
    retry_after = parse_retry_after(reply.headers.get("retry-after"), now=now)
    if 300 <= reply.status < 400:
        raise _redirect_error(reply, retry_after)
    text = reply.body[:300].decode("utf-8", "replace")
    retryable = reply.status in RETRYABLE_CODES or reply.status >= 500
    raise DeliveryError(
        f"HTTP {reply.status}: {text}",
        permanent=not retryable,
        status_code=reply.status,
        retry_after=retry_after,
    )


def _redirect_error(reply: Reply, retry_after: float | None) -> DeliveryError:
    """A moved webhook is retried until ALERT_MAX_AGE_SECONDS, so a fixed URL still gets the alert.

    The body is left out and the Location cut to scheme and host: both may spell out the new,
    secret, webhook URL.
    """
    location = safe_location(reply.headers.get("location"))
    return DeliveryError(
        f"HTTP {reply.status}: redirected to {location}",
        permanent=False,
        status_code=reply.status,
        retry_after=retry_after,
        location=location,
    )


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


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds from a Retry-After header given as delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def backoff_delay(
    attempts: int, *, base: float, cap: float, retry_after: float | None, jitter: float
) -> float:
    """Exponential backoff with jitter (`jitter` in [0, 1)); Retry-After is a floor, not a cap."""
    exponent = min(max(attempts - 1, 0), 62)
    delay = min(cap, base * math.pow(2, exponent)) * (0.5 + jitter / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
