"""The SQLite store: one transaction per cycle, retention, migrations of old databases."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from exporter.config import ServiceSpec
from exporter.cycle import Cycle, ServiceOutcome
from exporter.host import HostSample
from exporter.probes.base import ProbeResult
from exporter.store import Store
from hbmon.db.connection import component_version, open_database
from hbmon.db.schema import SchemaError, migrate
from hbmon.status import Status

LIMA = ZoneInfo("America/Lima")
HOST = HostSample(
    cpu_ratio=0.25,
    memory_ratio=0.5,
    memory_used_bytes=512 * 1_048_576,
    disk_ratio=0.75,
    uptime_seconds=3600.9,
)


def make_cycle(started_at: float, *outcomes: ServiceOutcome) -> Cycle:
    return Cycle(
        started_at=started_at,
        completed_at=started_at + 0.2,
        duration_s=0.2,
        skipped_ticks=0,
        host=HOST,
        container_count=None,
        internet=ProbeResult(Status.HEALTHY, latency_s=0.012),
        services=outcomes,
    )


def http_outcome(name: str = "api", status: Status = Status.ERROR) -> ServiceOutcome:
    spec = ServiceSpec(name=name, kind="http", target="https://api.test/")
    result = ProbeResult(
        status,
        latency_s=0.0421,
        reason="HTTP 503",
        status_code=503,
        phases={"dns": 0.0, "connect": 0.001, "tls": 0.002, "ttfb": 0.003},
        facts={
            "ip_family": "ipv4",
            "connection_reused": False,
            "tls_cert_expiry": 1.9e9,
            "redirects": 1,
        },
    )
    return ServiceOutcome(spec, result)


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_cycle_and_checks_are_stored_with_every_fact(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db", LIMA)
    cycle_id = store.write(make_cycle(1_700_000_000.0, http_outcome()))
    store.close()
    cycle = rows(
        tmp_path / "m.db",
        "SELECT id, started_at, timestamp_local, cpu_percent, ram_used_mb, disk_percent, "
        "uptime_seconds, container_count, internet_status, ping_ms FROM monitoring_cycles",
    )
    assert cycle == [
        (
            cycle_id,
            1_700_000_000.0,
            "2023-11-14T17:13:20-05:00",
            25.0,
            512.0,
            75.0,
            3600,
            None,
            "healthy",
            12.0,
        ),
    ]
    check = rows(
        tmp_path / "m.db",
        "SELECT cycle_id, service_name, kind, status, status_code, latency_ms, error_message, "
        "ip_family, connection_reused, tls_ms, tls_cert_expiry, details FROM service_checks",
    )
    assert check == [
        (
            cycle_id,
            "api",
            "http",
            "error",
            503,
            42.1,
            "HTTP 503",
            "ipv4",
            0,
            2.0,
            1.9e9,
            json.dumps({"redirects": 1}),
        ),
    ]


def test_the_exporter_interval_is_recorded_with_each_cycle(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db", LIMA, interval=2.5)
    store.write(make_cycle(1000.0))
    store.close()
    assert rows(tmp_path / "m.db", "SELECT interval_seconds FROM monitoring_cycles") == [(2.5,)]


def test_database_is_in_wal_mode_with_a_schema_version(tmp_path: Path) -> None:
    Store(tmp_path / "m.db", LIMA).close()
    assert rows(tmp_path / "m.db", "PRAGMA journal_mode") == [("wal",)]
    assert rows(tmp_path / "m.db", "SELECT component, version FROM schema_versions") == [
        ("exporter", 1)
    ]


def test_retention_prunes_old_cycles_and_their_checks_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db", LIMA)
    now = time.time()
    for age_days in (40, 35, 31, 29, 1):
        store.write(make_cycle(now - age_days * 86400, http_outcome()))
    assert store.prune(now - 30 * 86400) == 3
    store.close()
    kept = rows(tmp_path / "m.db", "SELECT started_at FROM monitoring_cycles ORDER BY id")
    assert [round((now - t) / 86400) for (t,) in kept] == [29, 1]
    assert rows(tmp_path / "m.db", "SELECT COUNT(*) FROM service_checks") == [(2,)]


def test_pruning_keeps_the_file_bounded(tmp_path: Path) -> None:
    """Steady state (write, prune, write...) reuses freed pages instead of growing the file."""
    store = Store(tmp_path / "m.db", LIMA)
    outcomes = [http_outcome(f"svc{i}") for i in range(20)]

    def churn(start: float) -> None:
        for i in range(300):
            store.write(make_cycle(start + i, *outcomes))
        store.prune(start + 300)  # everything older than this batch goes
        store.database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")

    churn(1000.0)
    size_after_first = (tmp_path / "m.db").stat().st_size
    for round_ in range(1, 4):
        churn(1000.0 + round_ * 1000)
    store.close()
    assert (tmp_path / "m.db").stat().st_size <= size_after_first * 1.1


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
    Store(path, LIMA).close()
    cycles = rows(path, "SELECT id, started_at, timestamp_local FROM monitoring_cycles ORDER BY id")
    assert cycles == [
        (1, 1735830000.0, "2025-01-02T10:00:00-05:00"),  # naive stamps were Lima time
        (2, 1735830010.0, "2025-01-02T10:00:10-05:00"),
    ]
    checks = rows(
        path, "SELECT cycle_id, service_name, kind, status FROM service_checks ORDER BY id"
    )
    assert checks == [
        (2, "api", "http", "healthy"),
        (2, "db", "docker", "healthy"),
        (1, "api", "http", "down"),
        (1, "db", "docker", "healthy"),
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
    Store(path, LIMA).close()
    assert rows(path, "SELECT internet_status FROM monitoring_cycles") == [("down",)]


def test_unreadable_legacy_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    write_legacy(path, ["2025-01-02T10:00:00", "yesterday at noon"])
    before = "\n".join(sqlite3.connect(path).iterdump())
    with pytest.raises(SchemaError, match="yesterday at noon"):
        Store(path, LIMA)
    after = "\n".join(sqlite3.connect(path).iterdump())
    assert after == before
    assert rows(path, "SELECT COUNT(*) FROM monitoring_cycles") == [(2,)]


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    database = open_database(path)
    migrate(database)
    database.execute_sql("UPDATE schema_versions SET version = 99")
    with pytest.raises(SchemaError, match="newer"):
        migrate(database)
    assert component_version(database, "exporter") == 99
    database.close()
