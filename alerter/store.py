"""The alerter's cursor and item states: read at start, committed in one transaction per step.

Plain statements and `executemany` on tuples: a cycle of 10,000 checks must not cost an ORM
object per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import peewee

from alerter.debounce import ItemState
from alerter.delivery import outbox
from alerter.delivery.channels.base import Destination
from alerter.model import HeartbeatRecord, ItemUpdate, NewAlert
from hbmon.db import cycles
from hbmon.db.connection import sql

_SELECT_ITEMS = (
    "SELECT item, status, baseline, failures, successes, alerted, window_bits, degraded, flapping, "
    "changes FROM alert_items"
)
_UPSERT_ITEM = (
    "INSERT INTO alert_items (item, kind, status, baseline, failures, successes, alerted, "
    "window_bits, degraded, flapping, changes, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(item) DO UPDATE SET "
    "kind = excluded.kind, status = excluded.status, baseline = excluded.baseline, "
    "failures = excluded.failures, successes = excluded.successes, "
    "alerted = excluded.alerted, window_bits = excluded.window_bits, degraded = excluded.degraded, "
    "flapping = excluded.flapping, changes = excluded.changes, updated_at = excluded.updated_at"
)
_DELETE_ITEM = "DELETE FROM alert_items WHERE item = ?"
_SAVE_CURSOR = (
    "INSERT INTO alerter_cursor (id, last_cycle_id, updated_at) VALUES (1, ?, ?) "
    "ON CONFLICT(id) DO UPDATE SET last_cycle_id = excluded.last_cycle_id, "
    "updated_at = excluded.updated_at"
)
_INSERT_REPLY = (
    "INSERT INTO heartbeat_replies (cycle_id, sent_at, status_code, error, latency_ms) "
    "VALUES (?, ?, ?, ?, ?)"
)


def read_cursor(db: peewee.SqliteDatabase) -> int | None:
    row = sql(db, "SELECT last_cycle_id FROM alerter_cursor WHERE id = 1").fetchone()
    return None if row is None else int(row[0])


def initial_cursor(db: peewee.SqliteDatabase, replay: int) -> int:
    """First start ever: replay the newest `replay` cycles so an ongoing outage still alerts."""
    return cycles.cycle_id_before_newest(db, replay)


def load_items(db: peewee.SqliteDatabase) -> dict[str, ItemState]:
    """Every item's persisted state; read once at start, then kept in memory by its owner."""
    return {r[0]: _item_state(r) for r in sql(db, _SELECT_ITEMS).fetchall()}


def _item_state(row: tuple[Any, ...]) -> ItemState:
    changes = tuple(int(p) for p in row[9].split(",") if p)
    status, baseline, failures, successes, alerted, window = row[1:7]
    return ItemState(
        status, baseline, failures, successes, alerted, window, bool(row[7]), bool(row[8]), changes
    )


def commit(
    db: peewee.SqliteDatabase,
    *,
    now: float,
    items: Iterable[ItemUpdate],
    alerts: Iterable[NewAlert],
    destinations: Sequence[Destination],
    cursor: int | None = None,
    reply: HeartbeatRecord | None = None,
    retire: Iterable[str] = (),
) -> None:
    """Item states (saved or retired), outbox rows, and the cursor or heartbeat reply, at once.

    Every alert gets one outbox row per destination (one `logged` row without any).
    """
    rows = [_item_row(update, now) for update in items]
    retired = [(item,) for item in retire]
    with db.atomic("IMMEDIATE"):
        statements = db.cursor()
        if rows:
            statements.executemany(_UPSERT_ITEM, rows)
        if retired:
            statements.executemany(_DELETE_ITEM, retired)
        outbox.enqueue(statements, alerts, destinations, now)
        if cursor is not None:
            statements.execute(_SAVE_CURSOR, (cursor, now))
        if reply is not None:
            statements.execute(_INSERT_REPLY, _reply_row(reply))


def _item_row(update: ItemUpdate, now: float) -> tuple[object, ...]:
    s = update.state
    changes = ",".join(map(str, s.changes))
    return (
        update.item,
        update.kind,
        s.status,
        s.baseline,
        s.failures,
        s.successes,
        s.alerted,
        s.window,
        int(s.degraded),
        int(s.flapping),
        changes,
        now,
    )


def _reply_row(reply: HeartbeatRecord) -> tuple[object, ...]:
    return (reply.cycle_id, reply.sent_at, reply.status_code, reply.error, reply.latency_ms)
