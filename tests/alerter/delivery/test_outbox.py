"""Outbox retention on a real database: old finished rows and heartbeat replies are pruned."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import peewee
import pytest

from alerter.delivery import outbox, prune
from hbmon.db import alerts, schema
from hbmon.db.connection import open_database
from tests.alerter.conftest import Parts

DAY = 86400.0


def _fill(db: peewee.SqliteDatabase, *, replies: int, alerts: int, at: float, state: str) -> None:
    """`replies` heartbeat replies and `alerts` outbox rows in `state`, all from time `at`."""
    first = int(db.execute_sql("SELECT count(*) FROM alert_outbox").fetchone()[0])
    finished = None if state == "pending" else at
    with db.atomic():
        connection = db.connection()
        connection.executemany(
            "INSERT INTO heartbeat_replies (cycle_id, sent_at, status_code) VALUES (?, ?, 200)",
            [(i, at) for i in range(replies)],
        )
        connection.executemany(
            "INSERT INTO alert_outbox (alert_id, item, event, cycle_id, created_at, payload, "
            "state, attempts, next_attempt_at, finished_at) "
            "VALUES (?, 'api', 'service_down', ?, ?, '{}', ?, 1, ?, ?)",
            [(f"a{first + i}", i, at, state, at, finished) for i in range(alerts)],
        )


def _counts(db: peewee.SqliteDatabase) -> tuple[int, int]:
    replies = db.execute_sql("SELECT count(*) FROM heartbeat_replies").fetchone()[0]
    alerts = db.execute_sql("SELECT count(*) FROM alert_outbox").fetchone()[0]
    return int(replies), int(alerts)


def test_prune_removes_every_old_row_not_just_one_batch(make_parts: Callable[..., Parts]) -> None:
    """A 1 s interval adds 3,600 replies an hour; one 500-row batch per call fell behind."""
    parts = make_parts()
    now = time.time()
    _fill(parts.db, replies=3600, alerts=1200, at=now - 40 * DAY, state="delivered")
    _fill(parts.db, replies=7, alerts=5, at=now - 1 * DAY, state="delivered")
    removed = outbox.prune(parts.db, before=now - 30 * DAY)
    assert removed == 3600 + 1200
    assert _counts(parts.db) == (7, 5)


def test_prune_keeps_pending_alerts_however_old(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts()
    now = time.time()
    _fill(parts.db, replies=0, alerts=600, at=now - 40 * DAY, state="pending")
    _fill(parts.db, replies=0, alerts=600, at=now - 40 * DAY, state="failed")
    assert outbox.prune(parts.db, before=now - 30 * DAY) == 600
    assert _counts(parts.db) == (0, 600)


def test_prune_stops_at_its_batch_cap_and_the_next_call_goes_on(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts()
    now = time.time()
    _fill(parts.db, replies=100, alerts=45, at=now - 40 * DAY, state="expired")
    assert outbox.prune(parts.db, before=now - 30 * DAY, batch=10, max_batches=3) == 30 + 30
    assert _counts(parts.db) == (70, 15)
    assert outbox.prune(parts.db, before=now - 30 * DAY, batch=10, max_batches=3) == 30 + 15
    assert outbox.prune(parts.db, before=now - 30 * DAY, batch=10, max_batches=10) == 40
    assert _counts(parts.db) == (0, 0)


def test_pruner_prunes_every_ten_minutes(
    make_parts: Callable[..., Parts], monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = make_parts(webhook_url=None)
    clock = [time.time()]
    monkeypatch.setattr(prune, "time", SimpleNamespace(time=lambda: clock[0]))
    parts.pruner.step()  # the first pass prunes
    _fill(parts.db, replies=20, alerts=0, at=clock[0] - 40 * DAY, state="delivered")
    clock[0] += 599
    parts.pruner.step()
    assert _counts(parts.db) == (20, 0)
    clock[0] += 2
    parts.pruner.step()
    assert _counts(parts.db) == (0, 0)


_V1_OUTBOX = (
    'CREATE TABLE "alert_outbox" ("seq" INTEGER NOT NULL PRIMARY KEY, "alert_id" TEXT NOT NULL, '
    '"item" TEXT NOT NULL, "event" TEXT NOT NULL, "cycle_id" INTEGER, "created_at" REAL NOT NULL, '
    '"payload" TEXT NOT NULL, "state" TEXT NOT NULL, "attempts" INTEGER NOT NULL, '
    '"next_attempt_at" REAL NOT NULL, "last_status_code" INTEGER, "last_error" TEXT, '
    '"finished_at" REAL)'
)


def test_version_1_rows_become_n8n_rows_and_an_alert_may_go_to_several_channels(
    tmp_path: Path,
) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:
        conn.execute(_V1_OUTBOX)
        conn.execute('CREATE UNIQUE INDEX "alert_outbox_alert_id" ON "alert_outbox" ("alert_id")')
        conn.execute("CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER)")
        conn.execute("INSERT INTO schema_versions VALUES ('alerter', 1)")
        conn.execute(
            "INSERT INTO alert_outbox (alert_id, item, event, created_at, payload, state, "
            "attempts, next_attempt_at) VALUES ('a1', 'api', 'service_down', 1, '{}', "
            "'pending', 0, 1)"
        )
    db = open_database(path)
    alerts.migrate(db)
    assert db.execute_sql("SELECT alert_id, channel FROM alert_outbox").fetchall() == [
        ("a1", "n8n")
    ]
    assert [h.alert_id for h in outbox.heads(db, "n8n")] == ["a1"]
    db.execute_sql(
        "INSERT INTO alert_outbox (alert_id, channel, item, event, created_at, payload, state, "
        "attempts, next_attempt_at) VALUES ('a1', 'apprise:0f0f0f0f', 'api', 'service_down', 1, "
        "'{}', 'pending', 0, 1)"
    )
    with pytest.raises(peewee.IntegrityError):
        db.execute_sql(
            "INSERT INTO alert_outbox (alert_id, channel, item, event, created_at, payload, "
            "state, attempts, next_attempt_at) VALUES ('a1', 'n8n', 'api', 'service_down', 1, "
            "'{}', 'pending', 0, 1)"
        )
    assert schema.component_version(db, "alerter") == alerts.SCHEMA_VERSION == 3
    db.close()


def test_alerted_items_are_the_down_degraded_and_flapping_ones(tmp_path: Path) -> None:
    """Their firing alerts are re-sent to Alertmanager: a degraded or flapping item's alert
    must keep firing there, not resolve by itself after its endsAt."""
    db = open_database(tmp_path / "m.db")
    alerts.migrate(db)
    rows = [
        ("service:down", "down", 0, 0),
        ("service:degraded", None, 1, 0),
        ("service:flapping", None, 0, 1),
        ("service:healthy", None, 0, 0),
        ("internet", "down", 0, 0),
    ]
    db.execute_sql("BEGIN")
    for item, alerted, degraded, flapping in rows:
        db.execute_sql(
            "INSERT INTO alert_items (item, kind, alerted, degraded, flapping, failures, "
            "successes, changes, window_bits, updated_at) "
            "VALUES (?, 'http', ?, ?, ?, 0, 0, '', 0, 0)",
            (item, alerted, degraded, flapping),
        )
    db.execute_sql("COMMIT")
    assert outbox.alerted_items(db) == {"down", "degraded", "flapping", "internet"}
