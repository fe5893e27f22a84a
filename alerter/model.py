"""The alerter's record types and vocabularies, shared by its pure rules and its I/O shell."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from alerter.debounce import ItemState


class Event(StrEnum):
    """What an alert announces; stored in `alert_outbox.event` and the body's `event`."""

    SERVICE_DOWN = "service_down"
    SERVICE_RECOVERED = "service_recovered"
    WORKER_STATUS_CHANGED = "worker_status_changed"
    EXPORTER_STALLED = "exporter_stalled"
    EXPORTER_RECOVERED = "exporter_recovered"
    SERVICE_DEGRADED = "service_degraded"
    SERVICE_DEGRADED_CLEARED = "service_degraded_cleared"
    SERVICE_FLAPPING = "service_flapping"
    SERVICE_FLAPPING_ENDED = "service_flapping_ended"
    INTERNET_DOWN = "internet_down"
    INTERNET_RECOVERED = "internet_recovered"
    DOCKER_UNREACHABLE = "docker_unreachable"
    DOCKER_RECOVERED = "docker_recovered"
    CERTIFICATE_EXPIRING = "certificate_expiring"
    CERTIFICATE_RENEWED = "certificate_renewed"
    # A reminder's event is its original's with REMINDER_SUFFIX ("service_down_reminder").


REMINDER_SUFFIX = "_reminder"


class ReminderEvent(StrEnum):
    """A repeat of an open problem alert: its original's event plus REMINDER_SUFFIX."""

    SERVICE_DOWN = "service_down_reminder"
    SERVICE_DEGRADED = "service_degraded_reminder"
    SERVICE_FLAPPING = "service_flapping_reminder"
    INTERNET_DOWN = "internet_down_reminder"
    DOCKER_UNREACHABLE = "docker_unreachable_reminder"
    EXPORTER_STALLED = "exporter_stalled_reminder"
    WORKER_STATUS_CHANGED = "worker_status_changed_reminder"


class AlertResult(StrEnum):
    """An alert's delivery outcome, as counted in `heartbeat_alerts_total{result}`."""

    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    EXPIRED = "expired"
    LOGGED = "logged"


class HeartbeatResult(StrEnum):
    """A heartbeat's outcome, as counted in `heartbeat_heartbeats_total{result}`."""

    SUCCESS = "success"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    SKIPPED_STALE = "skipped_stale"
    SKIPPED_INTERNET_DOWN = "skipped_internet_down"


# The results that come with a reply (or its absence) from the worker.
SENT_RESULTS = frozenset(
    {HeartbeatResult.SUCCESS, HeartbeatResult.REJECTED, HeartbeatResult.UNREACHABLE}
)


@dataclass(frozen=True)
class ItemUpdate:
    item: str
    kind: str
    state: ItemState


@dataclass(frozen=True)
class NewAlert:
    alert_id: str
    item: str
    event: Event | ReminderEvent
    cycle_id: int | None
    body: dict[str, Any]


@dataclass(frozen=True)
class HeartbeatRecord:
    cycle_id: int
    sent_at: float
    status_code: int | None
    error: str | None
    latency_ms: float | None
