"""Adopting the previous agent's database: its history copied into the exporter's tables."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from hbmon.db.checks import check_row
from hbmon.db.schema import SchemaError

# The previous agent wrote naive or offset timestamps "in Lima time" into `timestamp_lima`.
_LEGACY_ZONE = ZoneInfo("America/Lima")
_LEGACY_STATUS = {"unhealthy": "down"}
_URL_CREDENTIALS = re.compile(r"(\w+://)[^/\s@]*@")
_URL_QUERY = re.compile(r"\?[^\s'\")]*")


WriteChecks = Callable[[list[tuple[object, ...]]], None]


def adopt(
    database: peewee.SqliteDatabase,
    tz: ZoneInfo,
    cycles: type[peewee.Model],
    models: Sequence[type[peewee.Model]],
    write_checks: WriteChecks,
) -> None:
    """Copy a previous agent's history into the exporter's tables, if the file has one.

    `tz` renders `timestamp_local` of the copied cycles. Cycles are written through their model
    and checks through the checks writer (`models` are every table to create), so no column of
    the exporter's tables is named here.
    """
    if _is_legacy(database):
        _migrate_legacy(database, tz, cycles, models, write_checks)


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


def _migrate_legacy(
    database: peewee.SqliteDatabase,
    tz: ZoneInfo,
    cycles: type[peewee.Model],
    models: Sequence[type[peewee.Model]],
    write_checks: WriteChecks,
) -> None:
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
    database.create_tables(models, safe=False)
    id_map = _copy_legacy_cycles(cycles, _read_legacy_cycles(database, cycle_columns), tz)
    if has_checks:
        write_checks(_legacy_checks(database, id_map))
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
    model: type[peewee.Model], cycles: list[tuple[float, tuple[Any, ...]]], tz: ZoneInfo
) -> dict[str, int]:
    id_map: dict[str, int] = {}
    for epoch, row in cycles:
        new_id = model.insert(
            started_at=epoch,
            timestamp_local=datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds"),
            cpu_percent=row[2],
            ram_percent=row[3],
            ram_used_mb=row[4],
            disk_percent=row[5],
            uptime_seconds=None if row[6] is None else int(row[6]),
            container_count=row[7],
            internet_status=_legacy_internet(row[8]),
            ping_ms=row[9],
            cycle_duration_ms=row[10] or 0.0,
            skipped_ticks=0,
            completed_at=epoch,
        ).execute()
        id_map[str(row[0])] = int(new_id)
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


def _legacy_checks(
    database: peewee.SqliteDatabase, id_map: dict[str, int]
) -> list[tuple[object, ...]]:
    """The old checks in the writer's column order, oldest cycle first."""
    # service_url is deliberately not copied: the old agent stored it verbatim, credentials too.
    columns = _columns(database, "legacy_service_checks")
    url = "service_url" if "service_url" in columns else "NULL"
    query = (
        f"SELECT cycle_id, service_name, {url}, status, status_code, latency_ms, "  # noqa: S608
        "error_message FROM legacy_service_checks ORDER BY id"
    )
    rows: list[tuple[int, tuple[object, ...]]] = []
    for row in database.execute_sql(query).fetchall():
        cycle_id = id_map.get(str(row[0]))
        if cycle_id is None:
            continue  # an orphan check of a cycle that never existed: nothing to attach it to
        kind = "docker" if str(row[2] or "").startswith("docker:") else "http"
        check = check_row(
            cycle_id=cycle_id,
            service_name=row[1],
            kind=kind,
            status=_LEGACY_STATUS.get(str(row[3]), str(row[3])),
            status_code=row[4],
            latency_ms=row[5],
            error_message=_scrub(row[6]),
        )
        rows.append((cycle_id, check))
    return [check for _, check in sorted(rows, key=lambda item: item[0])]
