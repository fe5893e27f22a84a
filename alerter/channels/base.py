"""What every channel returns from a send: delivered, retry later, or a permanent failure."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"  # transient: network, 5xx, 429, a failed notify
    PERMANENT = "permanent"  # the destination refused this alert for good (e.g. 4xx)


@dataclass(frozen=True)
class SendResult:
    outcome: Outcome
    detail: str  # short and free of secrets: what the log and the outbox row keep
    retry_after: float | None = None  # seconds the destination asked us to wait
