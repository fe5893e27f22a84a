"""The alerter's silence and reminder tables (component `alerter-quiet`): model, migration, I/O.

`alert_silences` is written by `heartbeat-alerter silence` (the operator); the running alerter
only reads it and writes `alert_quiet_items` and `alert_reminders`. Times are UTC epoch seconds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any, NamedTuple

import peewee

from hbmon.db.connection import sql
from hbmon.db.schema import migrate_component

COMPONENT = "alerter-quiet"
SCHEMA_VERSION = 1
SERVICE_PREFIX = "service:"


class _Model(peewee.Model):
    class Meta:
        database = None
        legacy_table_names = False


class AlertSilence(_Model):
    """One silence: alerts of items matching `pattern` are held from `starts_at` to `ends_at`."""

    id = peewee.AutoField()
    pattern = peewee.TextField()  # an item name or an fnmatch glob (`web-*`)
    starts_at = peewee.FloatField()
    ends_at = peewee.FloatField(index=True)  # `silence expire` moves it to the moment it ran
    reason = peewee.TextField()
    created_at = peewee.FloatField()

    class Meta:
        table_name = "alert_silences"


class AlertQuietItem(_Model):
    """Per item: the state category last announced, and the last alert held by a silence."""

    item = peewee.TextField(primary_key=True)  # as in alerts: `api`, `worker`, `exporter`
    announced = peewee.TextField(null=True)  # `problem` or `ok`; None: nothing announced yet
    held = peewee.TextField(null=True)  # JSON of the last held alert, None when none
    silenced_from = peewee.FloatField(null=True)
    updated_at = peewee.FloatField()

    class Meta:
        table_name = "alert_quiet_items"


class AlertReminder(_Model):
    """An open problem alert that is repeated every ALERT_REMINDER_SECONDS."""

    item = peewee.TextField(primary_key=True)
    alert = peewee.TextField()  # JSON of the original alert
    opened_at = peewee.FloatField()
    sent = peewee.IntegerField(default=0)
    last_at = peewee.FloatField()  # when the original or the last reminder was enqueued

    class Meta:
        table_name = "alert_reminders"


MODELS: tuple[type[Any], ...] = (AlertSilence, AlertQuietItem, AlertReminder)


class SilenceRow(NamedTuple):
    id: int
    pattern: str
    starts_at: float
    ends_at: float
    reason: str
    created_at: float


class QuietRow(NamedTuple):
    item: str
    announced: str | None
    held: dict[str, Any] | None
    silenced_from: float | None


class ReminderRow(NamedTuple):
    item: str
    alert: dict[str, Any]
    opened_at: float
    sent: int
    last_at: float


def _seed(database: peewee.SqliteDatabase) -> None:
    """First migration: items alerted before silences existed count as announced problems."""
    database.create_tables(MODELS, safe=True)
    exists = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_items'"
    if sql(database, exists).fetchone() is None:
        return
    sql(
        database,
        "INSERT OR IGNORE INTO alert_quiet_items (item, announced, updated_at) "
        "SELECT CASE WHEN item LIKE 'service:%' THEN substr(item, ?) ELSE item END, "
        "'problem', updated_at FROM alert_items WHERE alerted IS NOT NULL",
        (len(SERVICE_PREFIX) + 1,),
    )


def migrate(database: peewee.SqliteDatabase) -> None:
    """Bring the silence and reminder tables to SCHEMA_VERSION in one transaction."""
    migrate_component(database, COMPONENT, SCHEMA_VERSION, MODELS, first_time=_seed)


def add_silence(
    db: peewee.SqliteDatabase, pattern: str, *, starts_at: float, ends_at: float, reason: str
) -> int:
    with db.atomic("IMMEDIATE"):
        cursor = sql(
            db,
            "INSERT INTO alert_silences (pattern, starts_at, ends_at, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (pattern, starts_at, ends_at, reason, starts_at),
        )
    return int(cursor.lastrowid or 0)


def expire_silence(db: peewee.SqliteDatabase, silence_id: int, *, now: float) -> SilenceRow | None:
    """End a silence now (an ended one stays as it was); None when there is no such silence."""
    with db.atomic("IMMEDIATE"):
        sql(
            db,
            "UPDATE alert_silences SET ends_at = ? WHERE id = ? AND ends_at > ?",
            (now, silence_id, now),
        )
        row = sql(db, f"{_SELECT_SILENCES} WHERE id = ?", (silence_id,)).fetchone()
    return None if row is None else SilenceRow(*row)


_SELECT_SILENCES = "SELECT id, pattern, starts_at, ends_at, reason, created_at FROM alert_silences"


def silences(db: peewee.SqliteDatabase, *, ending_after: float) -> list[SilenceRow]:
    """Silences that end after `ending_after` (pass 0 for all), oldest first."""
    query = f"{_SELECT_SILENCES} WHERE ends_at > ? ORDER BY id"
    return [SilenceRow(*row) for row in sql(db, query, (ending_after,)).fetchall()]


def active_count(db: peewee.SqliteDatabase, now: float) -> int:
    query = "SELECT count(*) FROM alert_silences WHERE starts_at <= ? AND ends_at > ?"
    return int(sql(db, query, (now, now)).fetchone()[0])


def load_items(db: peewee.SqliteDatabase) -> list[QuietRow]:
    query = "SELECT item, announced, held, silenced_from FROM alert_quiet_items"
    return [QuietRow(r[0], r[1], _json(r[2]), r[3]) for r in sql(db, query).fetchall()]


def load_reminders(db: peewee.SqliteDatabase) -> list[ReminderRow]:
    query = "SELECT item, alert, opened_at, sent, last_at FROM alert_reminders"
    return [ReminderRow(r[0], json.loads(r[1]), *r[2:]) for r in sql(db, query).fetchall()]


def save(
    statements: sqlite3.Cursor,
    *,
    items: Mapping[str, QuietRow],
    reminders: Mapping[str, ReminderRow | None],
    now: float,
) -> None:
    """Write changed rows inside the caller's transaction (a None reminder is deleted)."""
    statements.executemany(
        "INSERT INTO alert_quiet_items (item, announced, held, silenced_from, updated_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(item) DO UPDATE SET announced = excluded.announced, "
        "held = excluded.held, silenced_from = excluded.silenced_from, "
        "updated_at = excluded.updated_at",
        [(r.item, r.announced, _dump(r.held), r.silenced_from, now) for r in items.values()],
    )
    statements.executemany(
        "DELETE FROM alert_reminders WHERE item = ?",
        [(item,) for item, row in reminders.items() if row is None],
    )
    statements.executemany(
        "INSERT OR REPLACE INTO alert_reminders (item, alert, opened_at, sent, last_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [(r.item, json.dumps(r.alert), r.opened_at, r.sent, r.last_at) for r in _kept(reminders)],
    )


def _kept(reminders: Mapping[str, ReminderRow | None]) -> list[ReminderRow]:
    return [row for row in reminders.values() if row is not None]


def _json(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(json.loads(text))


def _dump(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)
