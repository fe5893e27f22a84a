"""What one pure step produced: changed item states, retired items and alerts to enqueue."""

from __future__ import annotations

from dataclasses import dataclass, field

from alerter.debounce import ItemState
from alerter.model import ItemUpdate, NewAlert
from alerter.payload import AlertFacts, Context, alert_id, build_alert

SERVICE_PREFIX = "service:"


def service_key(name: str) -> str:
    return f"{SERVICE_PREFIX}{name}"


@dataclass
class Effects:
    """Changed state rows to save or retire, and alerts to enqueue.

    Only states that differ from the ones given are in `updates`: a steady item writes nothing.
    """

    updates: list[ItemUpdate] = field(default_factory=list)
    alerts: list[NewAlert] = field(default_factory=list)
    retired: dict[str, ItemState] = field(default_factory=dict)  # key -> its last state
    changed: dict[str, ItemState] = field(default_factory=dict)  # key -> its new state

    def update(self, old: ItemState | None, new: ItemState, item: str, kind: str) -> None:
        if new is not old and new != old:  # identity first: the steady path returns `old`
            self.updates.append(ItemUpdate(item, kind, new))
            self.changed[item] = new

    def add_alert(self, facts: AlertFacts, context: Context) -> None:
        body = build_alert(facts, context)
        self.alerts.append(NewAlert(alert_id(facts), facts.item, facts.event, facts.cycle_id, body))


def remember(states: dict[str, ItemState], effects: Effects) -> None:
    """Apply committed effects to the in-memory states (only ever after the commit)."""
    for update in effects.updates:
        states[update.item] = update.state
    for item in effects.retired:
        states.pop(item, None)
