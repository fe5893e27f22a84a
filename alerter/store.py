"""Reading the exporter's cycles; committing the alerter's state changes in one transaction each."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import peewee

from alerter.debounce import ItemState
from hbmon.db.alerts import (
    LOGGED,
    PENDING,
    AlerterCursor,
    AlertItem,
    AlertOutbox,
    HeartbeatReply,
)


@dataclass(frozen=True)
class Check:
    name: str
    kind: str
    status: str
    status_code: int | None
    latency_ms: float | None
    error_message: str | None


@dataclass(frozen=True)
class Cycle:
    id: int
    started_at: float
    completed_at: float
    internet_status: str
    checks: tuple[Check, ...]
    interval: float | None = None  # the exporter's interval, recorded with the cycle


def interval_of(cycle: Cycle | None, configured: float) -> float:
    """The exporter's own interval as recorded with its newest cycle; else the configured one."""
    return cycle.interval if cycle is not None and cycle.interval else configured


@dataclass(frozen=True)
class ItemUpdate:
    item: str
    kind: str
    state: ItemState


@dataclass(frozen=True)
class NewAlert:
    alert_id: str
    item: str
    event: str
    cycle_id: int | None
    body: dict[str, Any]


@dataclass(frozen=True)
class HeartbeatRecord:
    cycle_id: int
    sent_at: float
    status_code: int | None
    error: str | None
    latency_ms: float | None


def sql(db: peewee.SqliteDatabase, query: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
    """peewee's execute_sql with a typed cursor."""
    cursor: sqlite3.Cursor = db.execute_sql(query, params)
    return cursor


def exporter_tables_exist(db: peewee.SqliteDatabase) -> bool:
    row = sql(
        db,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' "
        "AND name IN ('monitoring_cycles', 'service_checks')",
    ).fetchone()
    return bool(row and row[0] == 2)


def read_cursor(db: peewee.SqliteDatabase) -> int | None:
    row = AlerterCursor.get_or_none(AlerterCursor.id == 1)
    return None if row is None else int(row.last_cycle_id)


def initial_cursor(db: peewee.SqliteDatabase, replay: int) -> int:
    """First start ever: replay the newest `replay` cycles so an ongoing outage still alerts."""
    row = sql(
        db, "SELECT id FROM monitoring_cycles ORDER BY id DESC LIMIT 1 OFFSET ?", (replay,)
    ).fetchone()
    return int(row[0]) if row else 0


def cycles_after(db: peewee.SqliteDatabase, cursor: int, limit: int = 50) -> list[Cycle]:
    """Up to `limit` cycles after `cursor` with their checks, read from one snapshot.

    One read transaction: the exporter's retention could otherwise delete a cycle's checks
    between the two queries, and a cycle without checks would look like every service removed.
    """
    with db.atomic():
        return _read_cycles(db, cursor, limit)


def _read_cycles(db: peewee.SqliteDatabase, cursor: int, limit: int) -> list[Cycle]:
    rows = sql(
        db,
        "SELECT id, started_at, completed_at, internet_status, interval_seconds "
        "FROM monitoring_cycles "
        "WHERE id > ? ORDER BY id LIMIT ?",
        (cursor, limit),
    ).fetchall()
    if not rows:
        return []
    checks: dict[int, list[Check]] = {int(r[0]): [] for r in rows}
    for c in sql(
        db,
        "SELECT cycle_id, service_name, kind, status, status_code, latency_ms, error_message "
        "FROM service_checks WHERE cycle_id BETWEEN ? AND ? ORDER BY service_name",
        (rows[0][0], rows[-1][0]),
    ).fetchall():
        if int(c[0]) in checks:
            checks[int(c[0])].append(Check(str(c[1]), str(c[2]), str(c[3]), c[4], c[5], c[6]))
    return [
        Cycle(
            int(r[0]),
            float(r[1]),
            float(r[2]),
            str(r[3]),
            tuple(checks[int(r[0])]),
            None if r[4] is None else float(r[4]),
        )
        for r in rows
    ]


def newest_cycle(db: peewee.SqliteDatabase) -> Cycle | None:
    row = sql(db, "SELECT max(id) FROM monitoring_cycles").fetchone()
    if not row or row[0] is None:
        return None
    found = cycles_after(db, int(row[0]) - 1, limit=1)
    return found[0] if found else None


def count_cycles_after(db: peewee.SqliteDatabase, cursor: int) -> int:
    row = sql(db, "SELECT count(*) FROM monitoring_cycles WHERE id > ?", (cursor,))
    return int(row.fetchone()[0])


def load_items(db: peewee.SqliteDatabase) -> dict[str, ItemState]:
    return {
        row.item: ItemState(row.status, row.baseline, row.failures, row.successes, row.alerted)
        for row in AlertItem.select()
    }


def commit(
    db: peewee.SqliteDatabase,
    *,
    now: float,
    items: Iterable[ItemUpdate],
    alerts: Iterable[NewAlert],
    deliver: bool,
    cursor: int | None = None,
    reply: HeartbeatRecord | None = None,
    retire: Iterable[str] = (),
) -> None:
    """Item states (saved or retired), outbox rows, and the cursor or heartbeat reply, at once."""
    with db.atomic("IMMEDIATE"):
        for update in items:
            _save_item(update, now)
        for item in retire:
            AlertItem.delete().where(AlertItem.item == item).execute()
        for alert in alerts:
            _insert_alert(alert, now, deliver)
        if cursor is not None:
            _save_cursor(cursor, now)
        if reply is not None:
            _insert_reply(reply)


def _save_cursor(cursor: int, now: float) -> None:
    AlerterCursor.insert(id=1, last_cycle_id=cursor, updated_at=now).on_conflict(
        conflict_target=[AlerterCursor.id],
        update={AlerterCursor.last_cycle_id: cursor, AlerterCursor.updated_at: now},
    ).execute()


def _insert_reply(reply: HeartbeatRecord) -> None:
    HeartbeatReply.create(
        cycle_id=reply.cycle_id,
        sent_at=reply.sent_at,
        status_code=reply.status_code,
        error=reply.error,
        latency_ms=reply.latency_ms,
    )


def _save_item(update: ItemUpdate, now: float) -> None:
    s = update.state
    fields = {
        AlertItem.kind: update.kind,
        AlertItem.status: s.status,
        AlertItem.baseline: s.baseline,
        AlertItem.failures: s.failures,
        AlertItem.successes: s.successes,
        AlertItem.alerted: s.alerted,
        AlertItem.updated_at: now,
    }
    AlertItem.insert({AlertItem.item: update.item, **fields}).on_conflict(
        conflict_target=[AlertItem.item], update=fields
    ).execute()


def _insert_alert(alert: NewAlert, now: float, deliver: bool) -> None:
    AlertOutbox.insert(
        alert_id=alert.alert_id,
        item=alert.item,
        event=alert.event,
        cycle_id=alert.cycle_id,
        created_at=now,
        payload=json.dumps(alert.body, ensure_ascii=False, separators=(",", ":")),
        state=PENDING if deliver else LOGGED,
        next_attempt_at=now,
        finished_at=None if deliver else now,
    ).on_conflict_ignore().execute()
