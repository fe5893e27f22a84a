"""The tail loop on a real database: one transaction per cycle, restarts, replay, stalls."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import peewee
import pytest
from structlog.testing import capture_logs

from hbmon.db import cycles
from tests.alerter.conftest import Parts
from tests.alerter.dbutil import insert_cycle, outbox_rows


def events(parts: Parts) -> list[tuple[str, str]]:
    return [(r[1], r[2]) for r in outbox_rows(parts.db)]


def cursor(parts: Parts) -> int:
    return int(parts.db.execute_sql("SELECT last_cycle_id FROM alerter_cursor").fetchone()[0])


def test_threshold_alerts_once_and_cursor_follows(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=4)
    parts.tailer.step()  # first start on an empty database
    ids = [insert_cycle(parts.writer, {"api": "down", "web": "healthy"}) for _ in range(6)]
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]
    assert cursor(parts) == ids[-1]
    row = parts.db.execute_sql(
        "SELECT failures, alerted FROM alert_items WHERE item = 'service:api'"
    ).fetchone()
    assert row == (6, "down")


def test_restart_neither_re_alerts_nor_forgets_an_open_incident(
    make_parts: Callable[..., Parts],
) -> None:
    first = make_parts(down_threshold=2)
    for _ in range(3):
        insert_cycle(first.writer, {"api": "down"})
    first.tailer.step()
    assert events(first) == [("api", "service_down")]
    first.db.close()
    second = make_parts(down_threshold=2)  # a restarted alerter on the same database
    insert_cycle(second.writer, {"api": "timeout"})
    second.tailer.step()
    assert events(second) == [("api", "service_down")]
    insert_cycle(second.writer, {"api": "healthy"})
    second.tailer.step()
    assert events(second) == [("api", "service_down"), ("api", "service_recovered")]


def test_no_cycle_is_skipped_across_batches(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=1)
    parts.tailer.step()  # first start on an empty database: cursor 0
    for index in range(130):
        insert_cycle(parts.writer, {"api": "down" if index % 2 else "healthy"})
    parts.tailer.step()
    assert len(events(parts)) == 129  # 65 downs and 64 recoveries
    assert cursor(parts) == 130


def test_first_start_alerts_an_outage_already_in_progress(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=4)
    for _ in range(50):
        insert_cycle(parts.writer, {"api": "healthy", "db": "down"})
    parts.tailer.step()
    assert events(parts) == [("db", "service_down")]


def test_first_start_does_not_replay_old_history(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=2)
    for _ in range(5):
        insert_cycle(parts.writer, {"api": "down"})
    for _ in range(10):
        insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    assert events(parts) == []


def test_pruned_cursor_cycle_does_not_stop_the_tail(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=1)
    for _ in range(3):
        insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    with parts.writer.atomic():
        parts.writer.execute_sql("DELETE FROM monitoring_cycles WHERE id < 3")  # retention
    insert_cycle(parts.writer, {"api": "down"})
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]


def test_cycle_ids_starting_over_in_recreated_exporter_tables_are_followed(
    make_parts: Callable[..., Parts],
) -> None:
    """AUTOINCREMENT ids never repeat, unless the exporter's tables are dropped and recreated."""
    parts = make_parts(down_threshold=1)
    for _ in range(3):
        insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    assert cursor(parts) == 3
    with parts.writer.atomic():
        parts.writer.execute_sql("DROP VIEW service_checks")
        for table in ("checks", "service_facts", "services", "check_statuses"):
            parts.writer.execute_sql(f"DROP TABLE {table}")
        parts.writer.execute_sql("DROP TABLE monitoring_cycles")
        parts.writer.execute_sql("DELETE FROM schema_versions WHERE component = 'exporter'")
    cycles.migrate(parts.writer)  # what the exporter does on start with the tables gone
    assert insert_cycle(parts.writer, {"api": "down"}) == 1
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]
    assert cursor(parts) == 1


def test_cycles_left_by_a_failed_commit_are_processed_without_another_commit(
    make_parts: Callable[..., Parts], tmp_path: Path
) -> None:
    """The exporter wrote its last cycles and died: no other commit will ever wake the tail."""
    parts = make_parts(down_threshold=1)
    parts.tailer.step()
    for status in ("down", "healthy", "down"):
        insert_cycle(parts.writer, {"api": status})
    parts.db.execute_sql("PRAGMA busy_timeout = 50")
    locker = sqlite3.connect(tmp_path / "metrics.db", isolation_level=None)

    def lock_after_the_first_commit() -> None:
        if not locker.in_transaction:
            locker.execute("BEGIN IMMEDIATE")

    parts.tailer.on_cycle = lock_after_the_first_commit
    with pytest.raises(peewee.OperationalError):
        parts.tailer.step()
    assert cursor(parts) == 1
    locker.execute("ROLLBACK")  # nothing committed: PRAGMA data_version does not move
    locker.close()
    parts.tailer.on_cycle = lambda: None
    parts.tailer.step()
    assert cursor(parts) == 3
    assert [e for _, e in events(parts)] == ["service_down", "service_recovered", "service_down"]


def item_rows(parts: Parts) -> dict[str, tuple[int, str | None]]:
    rows = parts.db.execute_sql("SELECT item, failures, alerted FROM alert_items").fetchall()
    return {str(r[0]): (int(r[1]), r[2]) for r in rows}


def test_service_removed_while_alerted_is_retired_without_an_alert(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(down_threshold=2)
    parts.tailer.step()
    for _ in range(2):
        insert_cycle(parts.writer, {"api": "down", "web": "healthy"})
    parts.tailer.step()
    assert item_rows(parts)["service:api"] == (2, "down")
    insert_cycle(parts.writer, {"web": "healthy"})  # api removed from the exporter's config
    with capture_logs() as logs:
        parts.tailer.step()
    assert events(parts) == [("api", "service_down")]
    assert "service:api" not in item_rows(parts)
    retired = [e for e in logs if e["event"] == "item.retired"]
    assert retired == [
        {
            "event": "item.retired",
            "log_level": "info",
            "item": "api",
            "alerted": "down",
            "cycle_id": 3,
        }
    ]


def test_service_added_again_after_retirement_starts_fresh(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(down_threshold=2)
    parts.tailer.step()
    insert_cycle(parts.writer, {"api": "down", "web": "healthy"})
    insert_cycle(parts.writer, {"api": "down", "web": "healthy"})
    insert_cycle(parts.writer, {"web": "healthy"})
    insert_cycle(parts.writer, {"api": "down", "web": "healthy"})
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]  # one failure of 2: not alerted yet
    assert item_rows(parts)["service:api"] == (1, None)
    insert_cycle(parts.writer, {"api": "healthy", "web": "healthy"})
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]  # no recovery for a retired incident


def test_removed_service_that_was_not_alerted_does_not_keep_its_failure_count(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(down_threshold=3)
    parts.tailer.step()
    insert_cycle(parts.writer, {"api": "down", "web": "healthy"})
    insert_cycle(parts.writer, {"api": "down", "web": "healthy"})
    insert_cycle(parts.writer, {"web": "healthy"})
    insert_cycle(parts.writer, {"api": "down", "web": "healthy"})
    parts.tailer.step()
    assert events(parts) == []  # 1 failure after the re-add, not 3
    assert set(item_rows(parts)) == {"internet", "service:api", "service:web"}


def test_docker_exit_code_is_the_reason(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=1)
    insert_cycle(parts.writer, {"db": ("down", None, "exited (code 3)", "docker")})
    parts.tailer.step()
    body = parts.db.execute_sql("SELECT payload FROM alert_outbox").fetchone()[0]
    assert '"reason":"exited (code 3)"' in body and '"kind":"docker"' in body


def test_http_error_reason_names_the_code(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=1)
    insert_cycle(parts.writer, {"api": ("error", 503, None)})
    parts.tailer.step()
    body = parts.db.execute_sql("SELECT payload FROM alert_outbox").fetchone()[0]
    assert '"reason":"HTTP 503"' in body and '"status_code":503' in body


def test_stalled_exporter_alerts_once_then_recovers(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(interval=0.2)
    insert_cycle(parts.writer, {"api": "healthy"}, started_at=time.time() - 1.0)
    for _ in range(5):
        parts.tailer.step()
    assert events(parts) == [("exporter", "exporter_stalled")]
    insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    assert events(parts) == [("exporter", "exporter_stalled"), ("exporter", "exporter_recovered")]


def test_stall_is_judged_by_the_interval_the_exporter_recorded(
    make_parts: Callable[..., Parts],
) -> None:
    """The alerter was configured with 10 s, the exporter runs every 0.2 s: 1 s is a stall."""
    parts = make_parts(interval=10.0)
    insert_cycle(parts.writer, {"api": "healthy"}, started_at=time.time() - 1.0, interval=0.2)
    parts.tailer.step()
    assert events(parts) == [("exporter", "exporter_stalled")]


def test_fresh_cycles_are_not_a_stall(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(interval=10.0)
    insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    assert events(parts) == []


def test_lag_is_zero_after_catching_up(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts()
    for _ in range(10):
        insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    assert parts.stats.snapshot().lag_cycles == 0


def test_steady_items_are_not_rewritten_and_their_streak_stops_at_the_threshold(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(down_threshold=2, recovery_threshold=2)
    parts.tailer.step()
    for _ in range(3):
        insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    query = "SELECT successes, updated_at FROM alert_items WHERE item = 'service:api'"
    successes, written_at = parts.db.execute_sql(query).fetchone()
    assert successes == 2
    for _ in range(3):
        insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    assert parts.db.execute_sql(query).fetchone() == (2, written_at)
    assert cursor(parts) == 6
