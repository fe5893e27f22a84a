"""Versioned migrations of the exporter's tables, including the previous agent's database."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from hbmon.db.connection import SchemaError, migrate_component
from hbmon.db.cycles import MODELS

COMPONENT = "exporter"
SCHEMA_VERSION = 1
# The previous agent wrote naive or offset timestamps "in Lima time" into `timestamp_lima`.
_LEGACY_ZONE = ZoneInfo("America/Lima")
_LEGACY_STATUS = {"unhealthy": "down"}
_UTC = ZoneInfo("UTC")
_URL_CREDENTIALS = re.compile(r"(\w+://)[^/\s@]*@")
_URL_QUERY = re.compile(r"\?[^\s'\")]*")
__all__ = ["COMPONENT", "SCHEMA_VERSION", "SchemaError", "migrate"]


def migrate(database: peewee.SqliteDatabase, tz: ZoneInfo = _UTC) -> None:
    """Bring the exporter's tables to SCHEMA_VERSION in one transaction, or change nothing.

    `tz` renders `timestamp_local` of cycles migrated from the previous agent's database.
    """

    def adopt_legacy(db: peewee.SqliteDatabase) -> None:
        if _is_legacy(db):
            _migrate_legacy(db, tz)

    migrate_component(database, COMPONENT, SCHEMA_VERSION, MODELS, first_time=adopt_legacy)


def _columns(database: peewee.SqliteDatabase, table: str) -> dict[str, str]:
    rows = database.execute_sql(f'PRAGMA table_info("{table}")').fetchall()
    return {str(row[1]): str(row[2]).upper() for row in rows}


def _is_legacy(database: peewee.SqliteDatabase) -> bool:
    columns = _columns(database, "monitoring_cycles")
    return bool(columns) and ("timestamp_lima" in columns or columns.get("id") == "TEXT")


def _legacy_epoch(text: str) -> float:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_LEGACY_ZONE)
    return moment.timestamp()


def _migrate_legacy(database: peewee.SqliteDatabase, tz: ZoneInfo) -> None:
    """Copy the previous agent's history into the new tables, then drop the old ones."""
    cycle_columns = _columns(database, "monitoring_cycles")
    if "timestamp_lima" not in cycle_columns:
        raise SchemaError(
            "monitoring_cycles has a TEXT id but no timestamp_lima column: not a database "
            "of the previous agent this exporter knows how to migrate; move it aside"
        )
    has_checks = bool(_columns(database, "service_checks"))
    database.execute_sql("ALTER TABLE monitoring_cycles RENAME TO legacy_monitoring_cycles")
    if has_checks:
        database.execute_sql("ALTER TABLE service_checks RENAME TO legacy_service_checks")
    database.create_tables(MODELS, safe=False)
    id_map = _copy_legacy_cycles(database, _read_legacy_cycles(database, cycle_columns), tz)
    if has_checks:
        _copy_legacy_checks(database, id_map)
        database.execute_sql("DROP TABLE legacy_service_checks")
    database.execute_sql("DROP TABLE legacy_monitoring_cycles")


def _read_legacy_cycles(
    database: peewee.SqliteDatabase, columns: dict[str, str]
) -> list[tuple[float, tuple[Any, ...]]]:
    """The old cycles with their start as UTC epoch seconds, oldest first."""
    internet = "internet_status" if "internet_status" in columns else "internet_ok"
    optional = {c: (c if c in columns else "NULL") for c in ("uptime_seconds", "cycle_duration_ms")}
    # Only column names this module chose are interpolated, never data.
    query = (
        "SELECT id, timestamp_lima, cpu_percent, ram_percent, ram_used_mb, disk_percent, "  # noqa: S608
        f"{optional['uptime_seconds']}, container_count, {internet}, ping_ms, "
        f"{optional['cycle_duration_ms']} FROM legacy_monitoring_cycles"
    )
    parsed = []
    for row in database.execute_sql(query).fetchall():
        try:
            parsed.append((_legacy_epoch(str(row[1])), tuple(row)))
        except ValueError as exc:
            raise SchemaError(
                f"legacy cycle {row[0]!r} has an unreadable timestamp_lima {row[1]!r}; "
                "the database was not changed"
            ) from exc
    return sorted(parsed, key=lambda item: item[0])


def _copy_legacy_cycles(
    database: peewee.SqliteDatabase, cycles: list[tuple[float, tuple[Any, ...]]], tz: ZoneInfo
) -> dict[str, int]:
    id_map: dict[str, int] = {}
    for epoch, row in cycles:
        local = datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")
        uptime = None if row[6] is None else int(row[6])
        values = (epoch, local, *row[2:6], uptime, row[7], _legacy_internet(row[8]), row[9])
        cursor = database.execute_sql(
            "INSERT INTO monitoring_cycles (started_at, timestamp_local, cpu_percent, "
            "ram_percent, ram_used_mb, disk_percent, uptime_seconds, container_count, "
            "internet_status, ping_ms, cycle_duration_ms, skipped_ticks, completed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
            (*values, row[10] or 0.0, epoch),
        )
        id_map[str(row[0])] = int(cursor.lastrowid)
    return id_map


def _legacy_internet(value: object) -> str:
    """The old column was a BOOLEAN (0/1), sometimes text; only a clear yes is healthy."""
    return "healthy" if str(value).strip().lower() in {"1", "true", "healthy", "ok"} else "down"


def _scrub(message: object) -> str | None:
    """Old error messages embed request URLs: keep them without credentials or query."""
    if message is None:
        return None
    text = _URL_CREDENTIALS.sub(r"\1", str(message))
    return _URL_QUERY.sub("", text)


def _copy_legacy_checks(database: peewee.SqliteDatabase, id_map: dict[str, int]) -> None:
    # service_url is deliberately not copied: the old agent stored it verbatim, credentials too.
    columns = _columns(database, "legacy_service_checks")
    url = "service_url" if "service_url" in columns else "NULL"
    query = (
        f"SELECT cycle_id, service_name, {url}, status, status_code, latency_ms, "  # noqa: S608
        "error_message FROM legacy_service_checks ORDER BY id"
    )
    rows = []
    for row in database.execute_sql(query).fetchall():
        cycle_id = id_map.get(str(row[0]))
        if cycle_id is None:
            continue  # an orphan check of a cycle that never existed: nothing to attach it to
        kind = "docker" if str(row[2] or "").startswith("docker:") else "http"
        status = _LEGACY_STATUS.get(str(row[3]), str(row[3]))
        rows.append((cycle_id, row[1], kind, status, row[4], row[5], _scrub(row[6])))
    database.cursor().executemany(
        "INSERT INTO service_checks (cycle_id, service_name, kind, status, "
        "status_code, latency_ms, error_message) VALUES (?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
