"""The compact checks storage: what a row holds, facts stored when changed, the view, the plans."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from hbmon.db import cycles
from hbmon.db.checks import CHECK_COLUMNS, check_row
from hbmon.db.checkwriter import CheckWriter
from hbmon.db.records import Check
from tests.alerter.dbutil import exporter_db
from tests.hbmon import v2db


@pytest.fixture
def db(tmp_path: Path) -> Iterator[peewee.SqliteDatabase]:
    database = exporter_db(tmp_path / "m.db")
    yield database
    database.close()


def write(db: peewee.SqliteDatabase, writer: CheckWriter, **columns: object) -> int:
    with db.atomic():
        cycle_id = cycles.insert_cycle(
            {
                cycles.MonitoringCycle.started_at: 1.0,
                cycles.MonitoringCycle.timestamp_local: "",
                cycles.MonitoringCycle.internet_status: "healthy",
                cycles.MonitoringCycle.cycle_duration_ms: 1.0,
                cycles.MonitoringCycle.completed_at: 2.0,
            }
        )
        base = {"service_name": "api", "kind": "http", "status": "healthy"}
        writer.insert([check_row(cycle_id=cycle_id, **(base | columns))])
    return cycle_id


def plan(path: Path, query: str, *params: object) -> list[str]:
    with sqlite3.connect(path) as conn:  # a new connection reads the planner's statistics
        return [r[3] for r in conn.execute(f"EXPLAIN QUERY PLAN {query}", params)]


def test_the_latest_cycle_is_one_range_and_one_service_a_seek_per_cycle(
    db: peewee.SqliteDatabase, tmp_path: Path
) -> None:
    newest = plan(tmp_path / "m.db", "SELECT * FROM service_checks WHERE cycle_id = ?", 7)
    assert newest[0] == "SEARCH k USING PRIMARY KEY (cycle_id=?)"
    tail = plan(tmp_path / "m.db", "SELECT * FROM checks WHERE cycle_id BETWEEN ? AND ?", 1, 9)
    assert tail == ["SEARCH checks USING PRIMARY KEY (cycle_id>? AND cycle_id<?)"]
    one = plan(tmp_path / "m.db", "SELECT * FROM service_checks WHERE service_name = ?", "api")
    assert one[:2] == [
        "SEARCH s USING COVERING INDEX services_name_kind (name=?)",
        "SEARCH k USING PRIMARY KEY (ANY(cycle_id) AND service_id=?)",
    ]
    assert not [step for step in one if step.startswith("SCAN")]


def test_rarely_changing_facts_are_stored_once_per_change_and_read_per_cycle(
    db: peewee.SqliteDatabase,
) -> None:
    writer = CheckWriter(db)
    facts = {"ip_family": "ipv4", "tls_cert_expiry": 1.9e9, "depends_on": "internet"}
    ids = [write(db, writer, **facts) for _ in range(3)]
    ids.append(write(db, writer, **(facts | {"tls_cert_expiry": 2.0e9})))
    ids.append(write(db, writer, ip_family="ipv4"))
    stored = db.execute_sql("SELECT since_cycle FROM service_facts ORDER BY 1").fetchall()
    assert [r[0] for r in stored] == [ids[0], ids[3], ids[4]]
    read = cycles.cycles_after(db, 0)
    assert [(c.checks[0].tls_cert_expiry, c.checks[0].depends_on) for c in read] == [
        (1.9e9, "internet"),
        (1.9e9, "internet"),
        (1.9e9, "internet"),
        (2.0e9, "internet"),
        (None, None),
    ]
    view = db.execute_sql("SELECT ip_family, tls_cert_expiry FROM service_checks ORDER BY id")
    assert [r[1] for r in view] == [1.9e9, 1.9e9, 1.9e9, 2.0e9, None]


def test_a_new_writer_compares_with_the_stored_facts(db: peewee.SqliteDatabase) -> None:
    write(db, CheckWriter(db), ip_family="ipv6")
    write(db, CheckWriter(db), ip_family="ipv6")  # an exporter restart
    assert db.execute_sql("SELECT count(*) FROM service_facts").fetchone() == (1,)


def test_durations_are_microseconds_and_finer_values_are_kept_exactly(
    db: peewee.SqliteDatabase,
) -> None:
    write(db, CheckWriter(db), latency_ms=42.1, dns_ms=0.0, tls_ms=1e-4, ttfb_ms=2.0)
    stored = db.execute_sql("SELECT typeof(latency), latency, typeof(tls) FROM checks")
    assert stored.fetchone() == ("integer", 42100, "real")
    view = db.execute_sql("SELECT latency_ms, dns_ms, tls_ms, ttfb_ms FROM service_checks")
    assert view.fetchone() == (42.1, 0.0, 1e-4, 2.0)


def test_statuses_are_small_codes_and_an_unknown_word_gets_the_next(
    db: peewee.SqliteDatabase,
) -> None:
    writer = CheckWriter(db)
    write(db, writer)
    write(db, writer, status="unhealthy")
    codes = db.execute_sql("SELECT status FROM checks ORDER BY cycle_id").fetchall()
    assert codes == [(0,), (6,)]
    read = [c.checks for c in cycles.cycles_after(db, 0)]
    assert read == [
        (Check("api", "http", "healthy", None, None, None),),
        (Check("api", "http", "unhealthy", None, None, None),),
    ]


def test_the_view_has_the_columns_of_version_2(db: peewee.SqliteDatabase) -> None:
    columns = [r[1] for r in db.execute_sql("PRAGMA table_info(service_checks)")]
    assert columns == ["id", *v2db.COLUMNS.split(", ")] == ["id", *CHECK_COLUMNS]


def test_retention_keeps_the_facts_the_oldest_kept_cycle_reads(db: peewee.SqliteDatabase) -> None:
    writer = CheckWriter(db)
    ids = [write(db, writer, ip_family=family) for family in ("ipv4", "ipv6", "ipv6", "ipv4")]
    with db.atomic():
        cycles.MonitoringCycle.delete().where(cycles.MonitoringCycle.id < ids[2]).execute()
        db.execute_sql("DELETE FROM checks WHERE cycle_id < ?", (ids[2],))
        assert cycles.delete_superseded_facts(db) == 1
    view = db.execute_sql("SELECT ip_family FROM service_checks ORDER BY id").fetchall()
    assert view == [("ipv6",), ("ipv4",)]
