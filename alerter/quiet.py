"""The silence and reminder stage between the rules and the outbox: its memory, table and clock.

One instance is shared by the tail loop and the heartbeat (the `worker` item): a lock keeps
their gating, and the transactions that persist it, one at a time. Memory changes only after
the transaction that wrote it, as in the tail loop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import peewee

from alerter.announce import announce
from alerter.config import AlerterConfig
from alerter.delivery import outbox
from alerter.delivery.channels.base import Destination
from alerter.model import Event, NewAlert
from alerter.payload import Context
from alerter.reminders import Reminder, due, track
from alerter.silences import Category, QuietItem, Silence, covering, gate, settle
from alerter.stats import Stats
from hbmon.db import quiet as table
from hbmon.db.connection import sql
from hbmon.logs import get_logger

log = get_logger("alerter.quiet")


class Quiet:
    """`gated` wraps each commit of new alerts; `tick` (every poll) ends silences and reminds."""

    def __init__(
        self,
        *,
        config: AlerterConfig,
        context: Context,
        stats: Stats,
        destinations: Sequence[Destination],
        on_alerts: Callable[[], None],
    ) -> None:
        self.config = config
        self.context = context
        self.stats = stats
        self.destinations = destinations
        self.on_alerts = on_alerts
        self._lock = threading.Lock()
        self._items: dict[str, QuietItem] | None = None  # loaded at first use
        self._reminders: dict[str, Reminder] = {}
        self._silences: tuple[Silence, ...] = ()
        self._version: int | None = None
        # Kept beside the maps so that a poll costs nothing per item when nothing is due.
        self._held: set[str] = set()
        self._next_due = 0.0

    @contextmanager
    def gated(
        self,
        db: peewee.SqliteDatabase,
        alerts: Sequence[NewAlert],
        *,
        now: float,
        retired: Iterable[str] = (),
    ) -> Iterator[list[NewAlert]]:
        """Yield the alerts to commit; this stage's rows are saved in the same transaction.

        `retired`: item keys (`service:<name>`) whose service left the configuration; their
        reminders and held alerts go with them, as their debounce state does.
        """
        with self._lock:
            out = gate(self._loaded(db), alerts, self._silences, now=now, context=self.context)
            reminders = track(self._reminders, out.sent, now=now)
            self._forget(retired, out.items, reminders)
            if not out.items and not reminders:
                yield out.sent
            else:
                with db.atomic("IMMEDIATE"):
                    yield out.sent
                    self._save(db, out.items, reminders, now)
                self._remember(out.items, reminders)
        for alert in out.held:
            log.info(
                "alert.silenced", alert_id=alert.alert_id, alert_event=alert.event, item=alert.item
            )

    def tick(self, db: peewee.SqliteDatabase) -> None:
        """See new or expired silences, release what they held, and enqueue due reminders."""
        now = time.time()
        with self._lock:
            items = self._loaded(db)
            self._refresh(db, now)
            held = {name: items[name] for name in self._held}
            released = settle(held, self._silences, now=now, context=self.context)
            opened = track(self._reminders, released.sent, now=now)
            repeats, repeated = self._due(_apply(self._reminders, opened), now)
            alerts = released.sent + repeats
            changes = {**opened, **repeated}
            if not released.items and not changes:
                return
            with db.atomic("IMMEDIATE"):
                outbox.enqueue(db.cursor(), alerts, self.destinations, now)
                self._save(db, released.items, changes, now)
            self._remember(released.items, changes)
        announce(alerts, deliver=bool(self.destinations), stats=self.stats)
        if alerts:
            self.on_alerts()

    def _forget(
        self,
        retired: Iterable[str],
        items: dict[str, QuietItem],
        reminders: dict[str, Reminder | None],
    ) -> None:
        assert self._items is not None
        for name in (key.removeprefix(table.SERVICE_PREFIX) for key in retired):
            if name in self._items or name in items:
                items[name] = QuietItem()
            if name in self._reminders or name in reminders:
                reminders[name] = None

    def _due(
        self, reminders: dict[str, Reminder], now: float
    ) -> tuple[list[NewAlert], dict[str, Reminder]]:
        if now < self._next_due:  # reminders opened since have their own clock at `now`
            return [], {}
        return due(
            reminders,
            now=now,
            every=self.config.reminder,
            silenced=lambda item: covering(self._silences, item, now) is not None,
            language=self.context.language,
        )

    def _loaded(self, db: peewee.SqliteDatabase) -> dict[str, QuietItem]:
        if self._items is None:
            self._silences = _silences(db, time.time())
            self._items = {r.item: _item(r) for r in table.load_items(db)}
            self._held = {name for name, item in self._items.items() if item.held is not None}
            self._remember({}, {r.item: _reminder(r) for r in table.load_reminders(db)})
        return self._items

    def _refresh(self, db: peewee.SqliteDatabase, now: float) -> None:
        """Reread the silences when another connection committed (the CLI, or any cycle)."""
        version = int(sql(db, "PRAGMA data_version").fetchone()[0])
        if version != self._version:
            self._silences = _silences(db, now)
            self._version = version

    def _save(
        self,
        db: peewee.SqliteDatabase,
        items: Mapping[str, QuietItem],
        reminders: Mapping[str, Reminder | None],
        now: float,
    ) -> None:
        table.save(
            db.cursor(),
            items={name: _item_row(name, item) for name, item in items.items()},
            reminders={name: _reminder_row(name, r) for name, r in reminders.items()},
            now=now,
        )

    def _remember(
        self, items: Mapping[str, QuietItem], reminders: Mapping[str, Reminder | None]
    ) -> None:
        assert self._items is not None
        self._items.update(items)
        self._held.update(name for name, item in items.items() if item.held is not None)
        self._held.difference_update(name for name, item in items.items() if item.held is None)
        if reminders:
            self._reminders = _apply(self._reminders, reminders)
            last = min((r.last_at for r in self._reminders.values()), default=float("inf"))
            self._next_due = last + self.config.reminder


def _apply(
    reminders: Mapping[str, Reminder], changes: Mapping[str, Reminder | None]
) -> dict[str, Reminder]:
    merged = {**reminders, **changes}
    return {name: r for name, r in merged.items() if r is not None}


def _silences(db: peewee.SqliteDatabase, now: float) -> tuple[Silence, ...]:
    rows = table.silences(db, ending_after=now)
    return tuple(Silence(r.id, r.pattern, r.starts_at, r.ends_at) for r in rows)


def _alert_row(alert: NewAlert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "item": alert.item,
        "event": str(alert.event),
        "cycle_id": alert.cycle_id,
        "body": alert.body,
    }


def _alert(row: Mapping[str, Any]) -> NewAlert:
    return NewAlert(row["alert_id"], row["item"], Event(row["event"]), row["cycle_id"], row["body"])


def _item(row: table.QuietRow) -> QuietItem:
    announced = None if row.announced is None else Category(row.announced)
    held = None if row.held is None else _alert(row.held)
    return QuietItem(announced, held, row.silenced_from)


def _item_row(name: str, item: QuietItem) -> table.QuietRow:
    held = None if item.held is None else _alert_row(item.held)
    announced = None if item.announced is None else str(item.announced)
    return table.QuietRow(name, announced, held, item.silenced_from)


def _reminder(row: table.ReminderRow) -> Reminder:
    return Reminder(_alert(row.alert), row.opened_at, row.sent, row.last_at)


def _reminder_row(name: str, reminder: Reminder | None) -> table.ReminderRow | None:
    if reminder is None:
        return None
    alert = _alert_row(reminder.original)
    return table.ReminderRow(name, alert, reminder.opened_at, reminder.sent, reminder.last_at)
