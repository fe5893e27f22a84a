"""Outbox retention on a real database: old finished rows and heartbeat replies are pruned."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace

import peewee
import pytest

from alerter.delivery import outbox, prune
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
