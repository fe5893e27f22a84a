"""Databases as exporter schema versions 1 and 2 left them: the DDL those versions ran, frozen."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

CYCLES = (
    'CREATE TABLE "monitoring_cycles" ("id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, '
    '"started_at" REAL NOT NULL, "timestamp_local" TEXT NOT NULL, "cpu_percent" REAL, '
    '"ram_percent" REAL, "ram_used_mb" REAL, "disk_percent" REAL, "uptime_seconds" INTEGER, '
    '"container_count" INTEGER, "internet_status" TEXT NOT NULL, "ping_ms" REAL, '
    '"cycle_duration_ms" REAL NOT NULL, "skipped_ticks" INTEGER NOT NULL, '
    '"interval_seconds" REAL, "completed_at" REAL NOT NULL)'
)
CHECKS = (
    'CREATE TABLE "service_checks" ("id" INTEGER NOT NULL PRIMARY KEY, "cycle_id" INTEGER NOT '
    'NULL, "service_name" TEXT NOT NULL, "kind" TEXT NOT NULL, "status" TEXT NOT NULL, '
    '"status_code" INTEGER, "latency_ms" REAL, "error_message" TEXT, "ip_family" TEXT, '
    '"connection_reused" INTEGER, "dns_ms" REAL, "connect_ms" REAL, "tls_ms" REAL, "ttfb_ms" '
    'REAL, "tls_cert_expiry" REAL, "container_state" TEXT, "restart_count" INTEGER, "details" '
    'TEXT{extra}, FOREIGN KEY ("cycle_id") REFERENCES "monitoring_cycles" ("id") ON DELETE CASCADE)'
)
INDEXES = (
    'CREATE INDEX "monitoring_cycles_started_at" ON "monitoring_cycles" ("started_at")',
    'CREATE INDEX "service_checks_cycle_id" ON "service_checks" ("cycle_id")',
    'CREATE INDEX "service_checks_service_name_cycle_id" ON "service_checks" '
    '("service_name", "cycle_id")',
)
COLUMNS = (
    "cycle_id, service_name, kind, status, status_code, latency_ms, error_message, ip_family, "
    "connection_reused, dns_ms, connect_ms, tls_ms, ttfb_ms, tls_cert_expiry, container_state, "
    "restart_count, details, depends_on, address_class"
)


def create(path: Path, version: int = 2) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute(
        "CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    conn.execute("INSERT INTO schema_versions VALUES ('exporter', ?)", (version,))
    conn.execute(CYCLES)
    extra = ', "depends_on" TEXT, "address_class" TEXT' if version >= 2 else ""
    conn.execute(CHECKS.format(extra=extra))
    for index in INDEXES:
        conn.execute(index)
    return conn


def fill(conn: sqlite3.Connection, services: int, cycles: int, seed: int = 12) -> None:
    """Cycles of checks with the facts a real exporter writes, some changing now and then."""
    rng = random.Random(seed)
    conn.execute("BEGIN")
    for c in range(cycles):
        cycle_id = conn.execute(
            "INSERT INTO monitoring_cycles (started_at, timestamp_local, internet_status, "
            "cycle_duration_ms, skipped_ticks, completed_at, interval_seconds) "
            "VALUES (?, 'x', 'healthy', 1.5, 0, ?, 10.0)",
            (1_700_000_000.0 + 10 * c, 1_700_000_000.5 + 10 * c),
        ).lastrowid
        conn.executemany(
            f"INSERT INTO service_checks ({COLUMNS}) VALUES ({', '.join('?' * 19)})",
            [_check(rng, cycle_id, c, s) for s in range(services)],
        )
    conn.execute("COMMIT")


def _check(rng: random.Random, cycle_id: int | None, c: int, s: int) -> tuple[object, ...]:
    down = rng.random() < 0.02
    docker = s % 5 == 4
    latency = None if down else round(rng.uniform(0.5, 80.0), 3)
    return (
        cycle_id,
        f"svc{s:04d}",
        "docker" if docker else "http",
        "down" if down else "healthy",
        None if docker or down else 200,
        latency,
        "connection refused" if down else None,
        None if docker else ("ipv6" if s % 7 == 0 else "ipv4"),
        None if docker else int(rng.random() < 0.9),
        None if docker else 0.0,
        None if docker else round(rng.uniform(0.01, 1.0), 3),
        None,
        None if docker else latency,
        1.9e9 + 86400 * (c // 50) if s % 3 == 0 else None,  # renewed every 50 cycles
        ("exited" if down else "running") if docker else None,
        c // 40 if docker else None,
        '{"redirects": 1}' if s % 11 == 0 else None,
        "internet" if s % 2 else None,
        "public" if s % 2 else "loopback",
    )
