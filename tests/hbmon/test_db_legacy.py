"""The previous agent's database: adopted on the exporter's first migration, history kept."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hbmon.db.connection import open_database
from hbmon.db.cycles import migrate
from hbmon.db.schema import SchemaError

LIMA = ZoneInfo("America/Lima")


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def adopt(path: Path) -> None:
    """What the exporter does on start: migrate its tables (adopting a legacy file)."""
    database = open_database(path)
    try:
        migrate(database, LIMA)
    finally:
        database.close()


LEGACY_SCHEMA = """
CREATE TABLE monitoring_cycles (
    id TEXT PRIMARY KEY, timestamp_lima TEXT NOT NULL, cpu_percent REAL NOT NULL,
    ram_percent REAL NOT NULL, ram_used_mb REAL NOT NULL, disk_percent REAL NOT NULL,
    uptime_seconds REAL, container_count INTEGER NOT NULL, internet_status BOOLEAN NOT NULL,
    ping_ms REAL, worker_status INTEGER, cycle_duration_ms INTEGER);
CREATE TABLE service_checks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, cycle_id TEXT NOT NULL, service_name TEXT NOT NULL,
    service_url TEXT, status TEXT NOT NULL, status_code INTEGER, latency_ms REAL,
    error_message TEXT);
"""


def write_legacy(path: Path, stamps: list[str]) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(LEGACY_SCHEMA)
        for n, stamp in enumerate(stamps):
            conn.execute(
                "INSERT INTO monitoring_cycles VALUES (?, ?, 10, 20, 300, 40, 99.5, 3, 1, 15.5,"
                " 200, 120)",
                (f"uuid-{n}", stamp),
            )
            conn.execute(
                "INSERT INTO service_checks (cycle_id, service_name, service_url, status,"
                " status_code, latency_ms, error_message) VALUES (?, 'api',"
                " 'https://u:secret@api.test/', ?, 503, 12.5, ?)",
                (
                    f"uuid-{n}",
                    "unhealthy" if n else "healthy",
                    "HTTPSConnectionPool(host='api.test'): Max retries exceeded with url:"
                    " /health?token=s3cret (Caused by https://u:pw@api.test/health?token=s3cret)",
                ),
            )
            conn.execute(
                "INSERT INTO service_checks (cycle_id, service_name, service_url, status)"
                " VALUES (?, 'db', 'docker:pg', 'healthy')",
                (f"uuid-{n}",),
            )


def test_previous_agent_database_is_migrated_keeping_history(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    write_legacy(path, ["2025-01-02T10:00:10-05:00", "2025-01-02T10:00:00"])
    adopt(path)
    cycles = rows(path, "SELECT id, started_at, timestamp_local FROM monitoring_cycles ORDER BY id")
    assert cycles == [
        (1, 1735830000.0, "2025-01-02T10:00:00-05:00"),  # naive stamps were Lima time
        (2, 1735830010.0, "2025-01-02T10:00:10-05:00"),
    ]
    checks = rows(
        path, "SELECT cycle_id, service_name, kind, status FROM service_checks ORDER BY id"
    )
    assert checks == [  # the view's id orders by cycle
        (1, "api", "http", "down"),
        (1, "db", "docker", "healthy"),
        (2, "api", "http", "healthy"),
        (2, "db", "docker", "healthy"),
    ]
    dump = "\n".join(sqlite3.connect(path).iterdump())
    assert "secret@" not in dump
    assert "s3cret" not in dump
    assert "pw@" not in dump
    assert rows(path, "SELECT DISTINCT error_message FROM service_checks WHERE kind = 'http'") == [
        (
            "HTTPSConnectionPool(host='api.test'): Max retries exceeded with url:"
            " /health (Caused by https://api.test/health)",
        )
    ]
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]


def test_legacy_text_internet_status_is_not_read_as_healthy(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    write_legacy(path, ["2025-01-02T10:00:00"])
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE monitoring_cycles SET internet_status = 'down'")
    adopt(path)
    assert rows(path, "SELECT internet_status FROM monitoring_cycles") == [("down",)]


def test_unreadable_legacy_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    write_legacy(path, ["2025-01-02T10:00:00", "yesterday at noon"])
    before = "\n".join(sqlite3.connect(path).iterdump())
    with pytest.raises(SchemaError, match="yesterday at noon"):
        adopt(path)
    after = "\n".join(sqlite3.connect(path).iterdump())
    assert after == before
    assert rows(path, "SELECT COUNT(*) FROM monitoring_cycles") == [(2,)]
