"""The SQLite store: one transaction per cycle, every fact in its column, retention."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import peewee
import pytest

from exporter.config import ServiceSpec
from exporter.cycle import Cycle, ServiceOutcome
from exporter.host import HostSample
from exporter.probes.base import ProbeResult
from exporter.store import Store
from hbmon.db import cycles
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
        ("exporter", cycles.SCHEMA_VERSION),
        ("history", 1),
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


def test_a_refused_write_leaves_no_remembered_service_or_facts_behind(tmp_path: Path) -> None:
    """The writer caches service ids and each service's last facts; a rolled-back cycle must not
    leave it believing they were stored."""
    store = Store(tmp_path / "m.db", LIMA)
    store.write(make_cycle(1000.0, http_outcome("api")))
    store.database.execute_sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON service_facts BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    with pytest.raises(peewee.IntegrityError):
        store.write(make_cycle(1001.0, http_outcome("web")))
    store.database.execute_sql("DROP TRIGGER refuse")
    store.write(make_cycle(1002.0, http_outcome("web")))
    store.close()
    assert rows(
        tmp_path / "m.db", "SELECT service_name, ip_family FROM service_checks ORDER BY id"
    ) == [("api", "ipv4"), ("web", "ipv4")]
