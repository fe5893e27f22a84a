"""Real SQLite databases for alerter tests: the exporter's schema plus cycles we write ourselves."""

from __future__ import annotations

import time
from pathlib import Path

import peewee

from hbmon.db import alerts, certnotices, cycles, quiet
from hbmon.db.checks import check_row
from hbmon.db.checkwriter import CheckWriter
from hbmon.db.connection import open_database
from hbmon.db.cycles import MonitoringCycle

CheckSpec = str | tuple[str, int | None, str | None] | tuple[str, int | None, str | None, str]


def exporter_db(path: Path) -> peewee.SqliteDatabase:
    """A database as the exporter leaves it (its migrate, its models)."""
    db = open_database(path)
    cycles.migrate(db)
    return db


def alerter_db(path: Path) -> peewee.SqliteDatabase:
    db = exporter_db(path)
    alerts.migrate(db)
    certnotices.migrate(db)
    quiet.migrate(db)
    return db


def insert_cycle(
    db: peewee.SqliteDatabase,
    checks: dict[str, CheckSpec],
    *,
    internet: str = "healthy",
    started_at: float | None = None,
    interval: float | None = None,
    containers: int | None = 0,
    depends_on: dict[str, str] | None = None,
) -> int:
    """Write one cycle and its checks in one transaction, as the exporter does.

    A check is a status, or (status, status_code, error_message[, kind]). `containers` is the
    Docker engine's running count (None: the engine did not answer); `depends_on` maps a
    service to its parent.
    """
    parents = depends_on or {}
    now = time.time() if started_at is None else started_at
    with db.atomic():
        cycle = MonitoringCycle.create(
            started_at=now,
            timestamp_local="",
            internet_status=internet,
            cycle_duration_ms=1.0,
            completed_at=now,
            interval_seconds=interval,
            container_count=containers,
        )
        rows = []
        for name, spec in checks.items():
            parts = (spec, None, None) if isinstance(spec, str) else spec
            kind = parts[3] if len(parts) == 4 else "http"
            rows.append(
                check_row(
                    cycle_id=cycle.id,
                    service_name=name,
                    kind=kind,
                    status=parts[0],
                    status_code=parts[1],
                    latency_ms=12.5,
                    error_message=parts[2],
                    depends_on=parents.get(name),
                )
            )
        CheckWriter(db).insert(rows)  # the exporter's writer, as it stores a cycle
    return int(cycle.id)


def outbox_rows(db: peewee.SqliteDatabase) -> list[tuple[str, str, str, str, int]]:
    """(alert_id, item, event, state, attempts) in creation order."""
    rows = db.execute_sql(
        "SELECT alert_id, item, event, state, attempts FROM alert_outbox ORDER BY seq"
    ).fetchall()
    return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4])) for r in rows]
