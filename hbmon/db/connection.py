"""Opening the shared SQLite database with the pragmas both processes rely on."""

from __future__ import annotations

from pathlib import Path

import peewee

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
}


def open_database(path: str | Path) -> peewee.SqliteDatabase:
    """Open (creating the folder if needed) a WAL database; nothing connects at import time."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    database = peewee.SqliteDatabase(str(target), pragmas=PRAGMAS, autoconnect=True)
    database.connect(reuse_if_open=True)
    return database


def component_version(database: peewee.SqliteDatabase, component: str) -> int:
    """Schema version of one component's tables (0 when it has never migrated)."""
    database.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_versions "
        "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    row = database.execute_sql(
        "SELECT version FROM schema_versions WHERE component = ?", (component,)
    ).fetchone()
    return int(row[0]) if row else 0


def set_component_version(database: peewee.SqliteDatabase, component: str, version: int) -> None:
    database.execute_sql(
        "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
        "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
        (component, version),
    )
