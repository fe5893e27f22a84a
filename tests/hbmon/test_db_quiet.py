"""The silence and reminder tables: migration (with its seed), silences, and saved rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hbmon.db import alerts, quiet
from hbmon.db.connection import open_database


def test_first_migration_counts_alerted_items_as_announced_problems(tmp_path: Path) -> None:
    db = open_database(tmp_path / "metrics.db")
    alerts.migrate(db)
    db.execute_sql(
        "INSERT INTO alert_items (item, kind, failures, successes, alerted, updated_at) VALUES "
        "('service:api', 'http', 4, 0, 'down', 1), ('worker', 'worker', 4, 0, 'critical', 2), "
        "('service:web', 'http', 0, 1, NULL, 3)"
    )
    quiet.migrate(db)
    quiet.migrate(db)  # a second start changes nothing
    rows = {(r.item, r.announced, r.held) for r in quiet.load_items(db)}
    assert rows == {("api", "problem", None), ("worker", "problem", None)}
    db.close()


def test_migration_without_the_alerter_tables_creates_empty_ones(tmp_path: Path) -> None:
    db = open_database(tmp_path / "metrics.db")
    quiet.migrate(db)
    assert quiet.load_items(db) == [] and quiet.load_reminders(db) == []
    db.close()
    with sqlite3.connect(tmp_path / "metrics.db") as conn:
        version = conn.execute(
            "SELECT version FROM schema_versions WHERE component = 'alerter-quiet'"
        ).fetchone()
    assert version == (1,)


def test_expiring_ends_a_silence_once(tmp_path: Path) -> None:
    db = open_database(tmp_path / "metrics.db")
    quiet.migrate(db)
    first = quiet.add_silence(db, "web-*", starts_at=100.0, ends_at=500.0, reason="deploy")
    quiet.add_silence(db, "api", starts_at=100.0, ends_at=900.0, reason="move")
    assert quiet.active_count(db, 200.0) == 2
    ended = quiet.expire_silence(db, first, now=300.0)
    assert ended is not None and ended.ends_at == 300.0
    again = quiet.expire_silence(db, first, now=400.0)
    assert again is not None and again.ends_at == 300.0
    assert quiet.expire_silence(db, 99, now=400.0) is None
    assert [s.pattern for s in quiet.silences(db, ending_after=350.0)] == ["api"]
    assert [s.id for s in quiet.silences(db, ending_after=0)] == [first, first + 1]
    assert quiet.active_count(db, 350.0) == 1 and quiet.active_count(db, 50.0) == 0
    db.close()


def test_saved_rows_round_trip_and_a_none_reminder_is_deleted(tmp_path: Path) -> None:
    db = open_database(tmp_path / "metrics.db")
    quiet.migrate(db)
    held = {"alert_id": "a", "item": "api", "event": "service_down", "cycle_id": 3, "body": {}}
    item = quiet.QuietRow("api", "ok", held, 10.0)
    reminder = quiet.ReminderRow("api", held, 1.0, 2, 5.0)
    with db.atomic():
        quiet.save(db.cursor(), items={"api": item}, reminders={"api": reminder}, now=20.0)
    assert quiet.load_items(db) == [item] and quiet.load_reminders(db) == [reminder]
    with db.atomic():
        quiet.save(db.cursor(), items={}, reminders={"api": None}, now=30.0)
    assert quiet.load_reminders(db) == []
    db.close()
