"""The alerter's cursor and item states: read at start, committed in one transaction per step."""

from __future__ import annotations

import json
from collections.abc import Iterable

import peewee

from alerter.debounce import ItemState
from alerter.model import HeartbeatRecord, ItemUpdate, NewAlert
from hbmon.db import cycles
from hbmon.db.alerts import AlerterCursor, AlertItem, AlertOutbox, HeartbeatReply, OutboxState


def read_cursor(db: peewee.SqliteDatabase) -> int | None:
    row = AlerterCursor.get_or_none(AlerterCursor.id == 1)
    return None if row is None else int(row.last_cycle_id)


def initial_cursor(db: peewee.SqliteDatabase, replay: int) -> int:
    """First start ever: replay the newest `replay` cycles so an ongoing outage still alerts."""
    return cycles.cycle_id_before_newest(db, replay)


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
        state=OutboxState.PENDING if deliver else OutboxState.LOGGED,
        next_attempt_at=now,
        finished_at=None if deliver else now,
    ).on_conflict_ignore().execute()
