"""Schema versioning shared by every table owner: one version per component, one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import peewee


class SchemaError(Exception):
    """The database cannot be used or migrated; the file was left as it was."""


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


def migrate_component(
    database: peewee.SqliteDatabase,
    component: str,
    version: int,
    models: Sequence[type[Any]],
    *,
    first_time: Callable[[peewee.SqliteDatabase], None] | None = None,
    upgrade: Callable[[peewee.SqliteDatabase, int], None] | None = None,
) -> None:
    """Bring one component's tables to `version` in one transaction, or change nothing.

    `upgrade(database, current)` alters tables of an older version before missing tables and
    indexes are created.
    """
    database.bind(models, bind_refs=False, bind_backrefs=False)
    with database.atomic("IMMEDIATE"):
        current = component_version(database, component)
        if current > version:
            raise SchemaError(
                f"{component} schema version {current} is newer than this heartbeat-monitor "
                f"understands ({version}); upgrade heartbeat-monitor"
            )
        if current == 0 and first_time is not None:
            first_time(database)
        if 0 < current < version and upgrade is not None:
            upgrade(database, current)
        database.create_tables(models, safe=True)
        set_component_version(database, component, version)
