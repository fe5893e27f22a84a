"""What a channel destination is, and what every send returns: delivered, retry or permanent."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hbmon.net.reply import ErrorKind, HttpReply


class Channel(StrEnum):
    """A kind of destination; the `channel` label of the delivery metrics."""

    N8N = "n8n"
    APPRISE = "apprise"
    ALERTMANAGER = "alertmanager"
    LOG = "log"  # no channel configured: the alert is only logged


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # transient: network, 5xx, 429, a failed notify
    PERMANENT = "permanent"  # the destination refused this alert for good (e.g. 4xx)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    detail: str  # short and free of secrets: what the log and the outbox row keep
    retry_after: float | None = None  # seconds the destination asked us to wait
    status_code: int | None = None
    location: str | None = None  # a 3xx reply's Location, reduced to scheme and host
    elapsed: float = 0.0


def answer_of(reply: HttpReply) -> int | None:
    """The status of a reply that arrived whole; None when the exchange failed."""
    return reply.status_code if reply.error is None else None


def failure_of(reply: HttpReply) -> str | None:
    """Why no answer came, as the outbox, the logs and the worker's reason spell it:
    `timeout: <kind>: <reason>` or `connection: <kind>: <reason>`."""
    error = reply.error
    if error is None:
        return None
    family = "timeout" if error.kind is ErrorKind.TIMEOUT else "connection"
    return f"{family}: {error.kind.value}: {error.reason}"


Render = Callable[[Mapping[str, Any]], bytes]
Send = Callable[[bytes, str], SendResult]  # (rendered alert, alert id)
# The last delivered alert of every alerted item; None when there was nothing to re-send.
Resend = Callable[[Sequence[bytes]], SendResult | None]


@dataclass(frozen=True)
class Destination:
    """One place alerts go: one webhook, one Apprise URL, one Alertmanager node.

    `key` is stored in `alert_outbox.channel`: a hash of a secret URL, never the URL itself.
    """

    channel: Channel
    key: str
    display: str  # masked, safe to log
    render: Render
    send: Send
    resend: Resend | None = None  # Alertmanager: firing alerts are re-sent periodically
    resend_every: float = 0.0


def destination_key(channel: Channel, url: str) -> str:
    """`channel:<8 hex>`: stable across restarts for the same URL, and reveals nothing of it."""
    return f"{channel}:{hashlib.sha256(url.encode()).hexdigest()[:8]}"
