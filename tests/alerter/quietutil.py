"""Alerts and a context for the pure silence and reminder tests."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from alerter.model import Event, NewAlert
from alerter.payload import Context

CONTEXT = Context("en", ZoneInfo("UTC"), "test-host", "0.0.0")
_OK_STATUS = {
    Event.SERVICE_RECOVERED: "healthy",
    Event.SERVICE_DEGRADED_CLEARED: "healthy",
    Event.EXPORTER_RECOVERED: "running",
}


def alert(item: str, event: Event, status: str | None = None, *, at: float = 0.0) -> NewAlert:
    """An alert as the rules build it, with an id unique to (item, event, at)."""
    status = status or _OK_STATUS.get(event, "down")
    alert_id = f"{event}-{item}-{at:g}"
    body: dict[str, object] = {
        "id": alert_id,
        "event": str(event),
        "title": f"{event}: {item}",
        "message": f"**Item:** {item}",
        "item": item,
        "status": status,
        "occurred_at": at,
        "cycle_id": int(at),
    }
    return NewAlert(alert_id, item, event, int(at), body)
