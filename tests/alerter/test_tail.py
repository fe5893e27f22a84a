"""The tail loop on a real database: one transaction per cycle, restarts, replay, stalls."""

from __future__ import annotations

import time
from collections.abc import Callable

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


def test_cycle_ids_restarting_after_a_full_prune_are_followed(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(down_threshold=1)
    for _ in range(3):
        insert_cycle(parts.writer, {"api": "healthy"})
    parts.tailer.step()
    with parts.writer.atomic():
        parts.writer.execute_sql("DELETE FROM monitoring_cycles")  # ids will restart at 1
    insert_cycle(parts.writer, {"api": "down"})
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]


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
