"""Versioned migrations of the exporter's tables, including the previous agent's database."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import peewee

from hbmon.db.connection import SchemaError, migrate_component
from hbmon.db.cycles import MODELS

COMPONENT = "exporter"
SCHEMA_VERSION = 1
# The previous agent wrote naive or offset timestamps "in Lima time" into `timestamp_lima`.
_LEGACY_ZONE = ZoneInfo("America/Lima")
_LEGACY_STATUS = {"unhealthy": "down"}
__all__ = ["COMPONENT", "SCHEMA_VERSION", "SchemaError", "bind", "migrate"]


def bind(database: peewee.SqliteDatabase) -> None:
    database.bind(MODELS, bind_refs=False, bind_backrefs=False)


def migrate(database: peewee.SqliteDatabase) -> None:
    """Bring the exporter's tables to SCHEMA_VERSION in one transaction, or change nothing."""
    migrate_component(database, COMPONENT, SCHEMA_VERSION, MODELS, first_time=_adopt_legacy)


def _adopt_legacy(database: peewee.SqliteDatabase) -> None:
    if _is_legacy(database):
        _migrate_legacy(database)


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


def _migrate_legacy(database: peewee.SqliteDatabase) -> None:
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
    id_map = _copy_legacy_cycles(database, cycle_columns)
    if has_checks:
        _copy_legacy_checks(database, id_map)
        database.execute_sql("DROP TABLE legacy_service_checks")
    database.execute_sql("DROP TABLE legacy_monitoring_cycles")


def _copy_legacy_cycles(database: peewee.SqliteDatabase, columns: dict[str, str]) -> dict[str, int]:
    internet = "internet_status" if "internet_status" in columns else "internet_ok"
    optional = {c: (c if c in columns else "NULL") for c in ("uptime_seconds", "cycle_duration_ms")}
    # Only column names this module chose are interpolated, never data.
    query = (
        "SELECT id, timestamp_lima, cpu_percent, ram_percent, ram_used_mb, disk_percent, "  # noqa: S608
        f"{optional['uptime_seconds']}, container_count, {internet}, ping_ms, "
        f"{optional['cycle_duration_ms']} FROM legacy_monitoring_cycles"
    )
    rows = database.execute_sql(query).fetchall()
    parsed = []
    for row in rows:
        try:
            parsed.append((_legacy_epoch(str(row[1])), row))
        except ValueError as exc:
            raise SchemaError(
                f"legacy cycle {row[0]!r} has an unreadable timestamp_lima {row[1]!r}; "
                "the database was not changed"
            ) from exc
    id_map: dict[str, int] = {}
    for epoch, row in sorted(parsed, key=lambda item: item[0]):
        cursor = database.execute_sql(
            "INSERT INTO monitoring_cycles (started_at, timestamp_local, cpu_percent, "
            "ram_percent, ram_used_mb, disk_percent, uptime_seconds, container_count, "
            "internet_status, ping_ms, cycle_duration_ms, skipped_ticks, completed_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
            (
                epoch,
                str(row[1]),
                row[2],
                row[3],
                row[4],
                row[5],
                None if row[6] is None else int(row[6]),
                row[7],
                "healthy" if row[8] else "down",
                row[9],
                row[10] or 0.0,
                epoch,
            ),
        )
        id_map[str(row[0])] = int(cursor.lastrowid)
    return id_map


def _copy_legacy_checks(database: peewee.SqliteDatabase, id_map: dict[str, int]) -> None:
    # service_url is deliberately not copied: the old agent stored it verbatim, credentials too.
    columns = _columns(database, "legacy_service_checks")
    url = "service_url" if "service_url" in columns else "NULL"
    query = (
        f"SELECT cycle_id, service_name, {url}, status, status_code, latency_ms, "  # noqa: S608
        "error_message FROM legacy_service_checks ORDER BY id"
    )
    rows = database.execute_sql(query).fetchall()
    for row in rows:
        cycle_id = id_map.get(str(row[0]))
        if cycle_id is None:
            continue  # an orphan check of a cycle that never existed: nothing to attach it to
        kind = "docker" if str(row[2] or "").startswith("docker:") else "http"
        status = _LEGACY_STATUS.get(str(row[3]), str(row[3]))
        try:
            database.execute_sql(
                "INSERT INTO service_checks (cycle_id, service_name, kind, status, "
                "status_code, latency_ms, error_message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (cycle_id, row[1], kind, status, row[4], row[5], row[6]),
            )
        except peewee.IntegrityError as exc:
            raise SchemaError(f"legacy service check could not be copied: {exc}") from exc
