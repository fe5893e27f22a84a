"""Every read and write of the alert outbox: enqueue, due heads per destination, outcomes."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import peewee

from alerter.delivery.channels import n8n
from alerter.delivery.channels.base import Channel, Destination
from alerter.model import NewAlert
from alerter.rules import SERVICE_PREFIX
from hbmon.db.alerts import HeartbeatReply, OutboxState
from hbmon.db.connection import sql

PRUNE_BATCH = 500
# 40 x 500 rows of each table per call, every PRUNE_EVERY (10 min): far beyond the ~600
# heartbeat replies a 1 s LOOP_INTERVAL_SECONDS adds in that time.
PRUNE_MAX_BATCHES = 40

_INSERT = (
    "INSERT OR IGNORE INTO alert_outbox (alert_id, channel, item, event, cycle_id, created_at, "
    "payload, state, attempts, next_attempt_at, finished_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"
)
# Only the oldest pending row of each item may be attempted: item X's alert #2 waits for #1,
# on each destination separately.
_HEADS = (
    "SELECT o.seq, o.alert_id, o.item, o.event, o.payload, o.attempts, o.created_at, "
    "o.next_attempt_at FROM alert_outbox o "
    "WHERE o.state = ?1 AND o.channel = ?2 AND o.seq = (SELECT min(p.seq) FROM alert_outbox p "
    "WHERE p.state = ?1 AND p.channel = ?2 AND p.item = o.item) "
    "ORDER BY o.seq"
)
# The newest row of each item on one destination: what Alertmanager last heard of it.
_NEWEST = (
    "SELECT o.item, o.payload, o.state FROM alert_outbox o WHERE o.channel = ?1 AND o.seq = "
    "(SELECT max(p.seq) FROM alert_outbox p WHERE p.channel = ?1 AND p.item = o.item)"
)

# Plain statements: peewee's query building cost ~0.7 ms of CPU per delivered alert.
_FINISH = (
    "UPDATE alert_outbox SET state = ?, attempts = attempts + ?, finished_at = ?, "
    "last_status_code = ?, last_error = ? WHERE seq = ? AND state = ?"
)
# A destination that takes an alert takes the others: their backoff ends now (issue 13 item 6).
_DRAIN = (
    "UPDATE alert_outbox SET next_attempt_at = ? "
    "WHERE state = ? AND channel = ? AND next_attempt_at > ?"
)
_RESCHEDULE = (
    "UPDATE alert_outbox SET attempts = attempts + 1, next_attempt_at = ?, "
    "last_status_code = ?, last_error = ? WHERE seq = ?"
)


@dataclass(frozen=True)
class PendingAlert:
    seq: int
    alert_id: str
    item: str
    event: str
    payload: str
    attempts: int
    created_at: float
    next_attempt_at: float


def enqueue(
    statements: sqlite3.Cursor,
    alerts: Iterable[NewAlert],
    destinations: Sequence[Destination],
    now: float,
) -> None:
    """One row per alert and destination, rendered now so that every retry sends the same bytes.

    Runs inside the caller's transaction. Without destinations the row is `logged` at once.
    """
    rows = [row for alert in alerts for row in _rows(alert, destinations, now)]
    if rows:
        statements.executemany(_INSERT, rows)


def _rows(
    alert: NewAlert, destinations: Sequence[Destination], now: float
) -> list[tuple[object, ...]]:
    head = (alert.alert_id,)
    tail = (alert.item, str(alert.event), alert.cycle_id, now)
    if not destinations:
        payload = n8n.render(alert.body).decode()
        logged = (str(OutboxState.LOGGED), now, now)
        return [(*head, str(Channel.LOG), *tail, payload, *logged)]
    pending = (str(OutboxState.PENDING), now, None)
    return [(*head, d.key, *tail, d.render(alert.body).decode(), *pending) for d in destinations]


def heads(db: peewee.SqliteDatabase, channel: str) -> list[PendingAlert]:
    """The head of every item's queue on one destination, oldest first (due or not)."""
    return [
        PendingAlert(
            int(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            str(r[4]),
            int(r[5]),
            float(r[6]),
            float(r[7]),
        )
        for r in sql(db, _HEADS, (OutboxState.PENDING.value, channel)).fetchall()
    ]


def last_delivered(db: peewee.SqliteDatabase, channel: str) -> dict[str, bytes]:
    """Item -> payload, where the newest row of the item on `channel` was delivered."""
    rows = sql(db, _NEWEST, (channel,)).fetchall()
    return {str(i): str(p).encode() for i, p, state in rows if state == OutboxState.DELIVERED}


def alerted_items(db: peewee.SqliteDatabase) -> set[str]:
    """The `item` of the alerts of every item now alerted: down, degraded or flapping (the
    persisted debounce state); their firing alerts are the ones re-sent to Alertmanager."""
    query = "SELECT item FROM alert_items WHERE alerted IS NOT NULL OR degraded OR flapping"
    rows = sql(db, query).fetchall()
    return {str(r[0]).removeprefix(SERVICE_PREFIX) for r in rows}


# One statement of an outcome; a sender writes a burst of them in one transaction.
Write = tuple[str, tuple[object, ...]]


def finished(
    seq: int,
    state: OutboxState,
    *,
    now: float,
    attempted: bool,
    status_code: int | None = None,
    error: str | None = None,
) -> Write:
    """Move a pending row to a final state (delivered, failed, expired)."""
    params = (str(state), int(attempted), now, status_code, error, seq, OutboxState.PENDING.value)
    return _FINISH, params


def delivered(seq: int, channel: str, *, now: float, status_code: int | None) -> list[Write]:
    """Record a delivery and make every alert waiting on the same destination due at once.

    After an outage the destination is back: draining must not wait out each alert's own
    backoff. Per-item order is kept by the heads query.
    """
    drain = (now, OutboxState.PENDING.value, channel, now)
    return [
        finished(seq, OutboxState.DELIVERED, now=now, attempted=True, status_code=status_code),
        (_DRAIN, drain),
    ]


def rescheduled(seq: int, *, next_attempt_at: float, status_code: int | None, error: str) -> Write:
    return _RESCHEDULE, (next_attempt_at, status_code, error, seq)


def write(db: peewee.SqliteDatabase, writes: Sequence[Write]) -> None:
    """A burst of outcomes in one transaction, in order. Only the last drain runs: it makes
    due whatever an earlier one would have (the rows in between are due by now anyway)."""
    last_drain = max(
        (i for i, (statement, _) in enumerate(writes) if statement is _DRAIN), default=-1
    )
    with db.atomic("IMMEDIATE"):
        for i, (statement, params) in enumerate(writes):
            if statement is not _DRAIN or i == last_drain:
                sql(db, statement, params)


def pending_summary(db: peewee.SqliteDatabase) -> dict[str, tuple[int, float]]:
    """Per channel kind: the number of pending alerts and the creation time of the oldest."""
    rows = sql(
        db,
        "SELECT channel, count(*), min(created_at) FROM alert_outbox WHERE state = ? "
        "GROUP BY channel",
        (OutboxState.PENDING.value,),
    ).fetchall()
    summary: dict[str, tuple[int, float]] = {}
    for key, count, oldest in rows:
        kind = str(key).partition(":")[0]
        before = summary.get(kind, (0, float(oldest)))
        summary[kind] = (before[0] + int(count), min(before[1], float(oldest)))
    return summary


def orphaned(db: peewee.SqliteDatabase, keep: Iterable[str]) -> int:
    """Pending rows of destinations not configured now: kept until their channel comes back."""
    query = "SELECT channel, count(*) FROM alert_outbox WHERE state = ? GROUP BY channel"
    rows = sql(db, query, (str(OutboxState.PENDING),)).fetchall()
    kept = set(keep)
    return sum(int(count) for channel, count in rows if channel not in kept)


def prune(
    db: peewee.SqliteDatabase,
    *,
    before: float,
    batch: int = PRUNE_BATCH,
    max_batches: int = PRUNE_MAX_BATCHES,
) -> int:
    """Delete finished alerts and heartbeat replies older than `before`.

    One short transaction per batch (the exporter never waits long for the lock), until a batch
    comes back short; at most `max_batches` per call, the rest is left for the next call.
    """
    removed = 0
    for _ in range(max_batches):
        alerts, replies = _prune_batch(db, before, batch)
        removed += alerts + replies
        if alerts < batch and replies < batch:
            break
    return removed


def _prune_batch(db: peewee.SqliteDatabase, before: float, batch: int) -> tuple[int, int]:
    with db.atomic("IMMEDIATE"):
        alerts = sql(
            db,
            "DELETE FROM alert_outbox WHERE seq IN (SELECT seq FROM alert_outbox "
            "WHERE state != ? AND finished_at < ? LIMIT ?)",
            (OutboxState.PENDING.value, before, batch),
        ).rowcount
        replies = (
            HeartbeatReply.delete()
            .where(
                HeartbeatReply.id.in_(
                    HeartbeatReply.select(HeartbeatReply.id)
                    .where(HeartbeatReply.sent_at < before)
                    .limit(batch)
                )
            )
            .execute()
        )
    return int(alerts), int(replies)
