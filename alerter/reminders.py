"""Reminders as pure functions: which alerts open a problem, and which repeats are due when."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from alerter.model import Event, NewAlert, ReminderEvent
from alerter.silences import category

_ID_NAMESPACE = uuid.UUID("9e3c1b7a-52d4-4f0e-8c61-2a4b7d9f0e15")
_PREFIX = {"en": "⏰ Reminder #{n}: ", "es": "⏰ Recordatorio n.º {n}: "}
REMINDED: Mapping[Event, ReminderEvent] = {
    Event.SERVICE_DOWN: ReminderEvent.SERVICE_DOWN,
    Event.SERVICE_DEGRADED: ReminderEvent.SERVICE_DEGRADED,
    Event.SERVICE_FLAPPING: ReminderEvent.SERVICE_FLAPPING,
    Event.INTERNET_DOWN: ReminderEvent.INTERNET_DOWN,
    Event.DOCKER_UNREACHABLE: ReminderEvent.DOCKER_UNREACHABLE,
    Event.EXPORTER_STALLED: ReminderEvent.EXPORTER_STALLED,
    Event.WORKER_STATUS_CHANGED: ReminderEvent.WORKER_STATUS_CHANGED,
}


@dataclass(frozen=True)
class Reminder:
    """An open problem: the alert that opened it and the repeats enqueued so far."""

    original: NewAlert
    opened_at: float
    sent: int
    last_at: float  # when the original or the latest repeat was enqueued


def opens(alert: NewAlert) -> bool:
    """Down, degraded, flapping, internet down, Docker unreachable, stalled, a worker failing."""
    if alert.event == Event.WORKER_STATUS_CHANGED:
        return alert.body.get("status") != "healthy"
    return alert.event in REMINDED


def track(
    reminders: Mapping[str, Reminder], sent: Sequence[NewAlert], *, now: float
) -> dict[str, Reminder | None]:
    """The reminder changes the sent alerts make: opened (or replaced), or closed (None).

    Any other state-bearing alert of the item closes its problem: recovered, cleared, ended.
    """
    changes: dict[str, Reminder | None] = {}
    for alert in sent:
        if opens(alert):
            changes[alert.item] = Reminder(alert, now, 0, now)
        elif category(alert) is not None and changes.get(alert.item, reminders.get(alert.item)):
            changes[alert.item] = None
    return changes


def due(
    reminders: Mapping[str, Reminder],
    *,
    now: float,
    every: float,
    silenced: Callable[[str], bool],
    language: str,
) -> tuple[list[NewAlert], dict[str, Reminder]]:
    """One repeat of every open problem not repeated for `every` seconds (0: never).

    A silenced item gets none; its clock keeps running, so its next one is due when it ends.
    """
    alerts: list[NewAlert] = []
    changes: dict[str, Reminder] = {}
    if every <= 0:
        return alerts, changes
    for item, reminder in sorted(reminders.items(), key=lambda pair: pair[1].opened_at):
        if now - reminder.last_at < every or silenced(item):
            continue
        count = reminder.sent + 1
        alerts.append(repeat(reminder.original, count, language))
        changes[item] = replace(reminder, sent=count, last_at=now)
    return alerts, changes


def repeat(original: NewAlert, count: int, language: str) -> NewAlert:
    """The `count`-th repeat: id uuid5(original id, count), stable across restarts."""
    alert_id = str(uuid.uuid5(_ID_NAMESPACE, f"{original.alert_id}|{count}"))
    event = REMINDED[Event(original.event)]
    prefix = _PREFIX.get(language, _PREFIX["en"]).format(n=count)
    body = {
        **original.body,
        "id": alert_id,
        "event": str(event),
        "title": prefix + str(original.body.get("title", "")),
        "reminder": count,
        "since": original.body.get("occurred_at"),
    }
    return NewAlert(alert_id, original.item, event, original.cycle_id, body)
