"""A version-1 exporter database gains the dependency columns in place, keeping its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee

from hbmon.db import cycles, schema


def test_version_1_checks_gain_dependency_columns_and_keep_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    db = peewee.SqliteDatabase(str(path))
    cycles.migrate(db)
    db.execute_sql("ALTER TABLE service_checks DROP COLUMN depends_on")
    db.execute_sql("ALTER TABLE service_checks DROP COLUMN address_class")
    schema.set_component_version(db, cycles.COMPONENT, 1)
    db.execute_sql(
        "INSERT INTO monitoring_cycles (started_at, timestamp_local, internet_status, "
        "cycle_duration_ms, skipped_ticks, completed_at) VALUES (1, 'x', 'healthy', 1, 0, 2)"
    )
    db.execute_sql(
        "INSERT INTO service_checks (cycle_id, service_name, kind, status) "
        "VALUES (1, 'api', 'http', 'down')"
    )
    cycles.migrate(db)
    (cycle,) = cycles.cycles_after(db, 0)
    db.close()
    assert cycle.checks[0].name == "api" and cycle.checks[0].depends_on is None
    with sqlite3.connect(path) as conn:
        names = {r[1] for r in conn.execute("PRAGMA table_info(service_checks)")}
        version = conn.execute(
            "SELECT version FROM schema_versions WHERE component = 'exporter'"
        ).fetchone()[0]
    assert {"depends_on", "address_class"} <= names
    assert version == cycles.SCHEMA_VERSION == 2
