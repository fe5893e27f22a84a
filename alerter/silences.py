"""Silences as a pure filter: hold a silenced item's alerts, and catch the channel up at the end."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fnmatch import fnmatchcase

from alerter.model import Event, NewAlert
from alerter.payload import Context, local_timestamp

_ID_NAMESPACE = uuid.UUID("0b6f5a0e-3f4e-4c1d-9a53-5d7c2f1e8b40")
_LABEL = {"en": "Silenced", "es": "Silenciado"}


class Category(StrEnum):
    """What an alert tells the channel about its item: a problem is open, or none is."""

    PROBLEM = "problem"
    OK = "ok"


_PROBLEMS = frozenset(
    {
        Event.SERVICE_DOWN,
        Event.SERVICE_DEGRADED,
        Event.SERVICE_FLAPPING,
        Event.INTERNET_DOWN,
        Event.DOCKER_UNREACHABLE,
        Event.EXPORTER_STALLED,
    }
)
_BY_STATUS = frozenset({Event.WORKER_STATUS_CHANGED, Event.SERVICE_FLAPPING_ENDED})
# Warnings about a certificate say nothing about the item's state.
_NEUTRAL = frozenset({Event.CERTIFICATE_EXPIRING, Event.CERTIFICATE_RENEWED})


def category(alert: NewAlert) -> Category | None:
    """The state an alert announces; None for certificate warnings and reminders."""
    if not isinstance(alert.event, Event) or alert.event in _NEUTRAL:
        return None
    if alert.event in _BY_STATUS:
        return Category.OK if alert.body.get("status") == "healthy" else Category.PROBLEM
    return Category.PROBLEM if alert.event in _PROBLEMS else Category.OK


@dataclass(frozen=True)
class Silence:
    id: int
    pattern: str  # an item name as alerts carry it (`api`, `worker`), or an fnmatch glob
    starts_at: float
    ends_at: float

    def covers(self, item: str, now: float) -> bool:
        return self.starts_at <= now < self.ends_at and fnmatchcase(item, self.pattern)


def covering(silences: Sequence[Silence], item: str, now: float) -> Silence | None:
    return next((s for s in silences if s.covers(item, now)), None)


@dataclass(frozen=True)
class QuietItem:
    """What the channel last heard of an item, and the last alert a silence held back."""

    announced: Category | None = None  # None: nothing announced yet, which reads as OK
    held: NewAlert | None = None
    silenced_from: float | None = None  # start of the silence that held the first alert


_QUIET = QuietItem()


@dataclass
class Gated:
    """Alerts to send (catch-ups included), alerts held back, and the item rows that changed."""

    sent: list[NewAlert] = field(default_factory=list)
    held: list[NewAlert] = field(default_factory=list)
    items: dict[str, QuietItem] = field(default_factory=dict)


def gate(
    items: Mapping[str, QuietItem],
    alerts: Sequence[NewAlert],
    silences: Sequence[Silence],
    *,
    now: float,
    context: Context,
) -> Gated:
    """Hold the alerts of silenced items; pass the others, after any catch-up they are owed."""
    out = Gated()
    for alert in alerts:
        before = out.items.get(alert.item, items.get(alert.item, _QUIET))
        silence = covering(silences, alert.item, now)
        if silence is not None:
            out.held.append(alert)
            after = _hold(before, alert, silence)
        else:
            after = _settle(before, now, context, out.sent)
            out.sent.append(alert)
            after = replace(after, announced=category(alert) or after.announced)
        if after != before:
            out.items[alert.item] = after
    return out


def settle(
    items: Mapping[str, QuietItem], silences: Sequence[Silence], *, now: float, context: Context
) -> Gated:
    """Release every item whose silence ended: one catch-up where its state changed meanwhile."""
    out = Gated()
    for name, item in sorted(items.items()):
        if item.held is not None and covering(silences, name, now) is None:
            out.items[name] = _settle(item, now, context, out.sent)
    return out


def _hold(item: QuietItem, alert: NewAlert, silence: Silence) -> QuietItem:
    if category(alert) is None:
        return item
    since = silence.starts_at if item.silenced_from is None else item.silenced_from
    return replace(item, held=alert, silenced_from=since)


def _settle(item: QuietItem, now: float, context: Context, sent: list[NewAlert]) -> QuietItem:
    held = item.held
    if held is None:
        return item
    state = category(held)
    if state == (item.announced or Category.OK):
        return QuietItem(item.announced)  # it ended as the channel last heard: nothing to say
    sent.append(catch_up(held, item.silenced_from, now, context))
    return QuietItem(state)


def catch_up(held: NewAlert, since: float | None, now: float, context: Context) -> NewAlert:
    """The held alert under a new id, saying when its item was silenced."""
    alert_id = str(uuid.uuid5(_ID_NAMESPACE, f"{held.alert_id}|silence-ended"))
    start = now if since is None else since
    window = f"{local_timestamp(start, context.tz)} → {local_timestamp(now, context.tz)}"
    line = f"**{_LABEL.get(context.language, _LABEL['en'])}:** {window}"
    body = {
        **held.body,
        "id": alert_id,
        "message": f"{held.body.get('message', '')}\n{line}".lstrip("\n"),
        "silenced_from": start,
        "silenced_until": now,
    }
    return NewAlert(alert_id, held.item, held.event, held.cycle_id, body)
