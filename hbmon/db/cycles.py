"""The exporter's tables (`monitoring_cycles` and the checks storage): migration, typed reads.

The exporter is the only writer of these tables and the alerter reads them only through the
functions below (the checks storage itself is `hbmon.db.checks`). Timestamps are UTC epoch
seconds (REAL); `timestamp_local` is a human-facing ISO-8601 string with the offset of `TZ`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from zoneinfo import ZoneInfo

import peewee
from playhouse.sqlite_ext import AutoIncrementField

from hbmon.db import checkread, checks, legacy, upgrade_v3
from hbmon.db.checks import CheckRow
from hbmon.db.checkwriter import CheckWriter
from hbmon.db.connection import sql
from hbmon.db.records import Check, Cycle
from hbmon.db.schema import migrate_component

COMPONENT = "exporter"
SCHEMA_VERSION = 3
_UTC = ZoneInfo("UTC")


class _Model(peewee.Model):
    class Meta:
        database = None
        legacy_table_names = False


class MonitoringCycle(_Model):
    # AUTOINCREMENT: ids never repeat, even after retention deleted every row (the alerter's
    # cursor is a cycle id).
    id = AutoIncrementField()
    started_at = peewee.FloatField(index=True)  # UTC epoch seconds of the grid tick
    timestamp_local = peewee.TextField()
    cpu_percent = peewee.FloatField(null=True)
    ram_percent = peewee.FloatField(null=True)
    ram_used_mb = peewee.FloatField(null=True)
    disk_percent = peewee.FloatField(null=True)
    uptime_seconds = peewee.IntegerField(null=True)
    container_count = peewee.IntegerField(null=True)  # NULL when Docker is unreachable
    internet_status = peewee.TextField()
    ping_ms = peewee.FloatField(null=True)
    cycle_duration_ms = peewee.FloatField()
    skipped_ticks = peewee.IntegerField(default=0)
    # The exporter's LOOP_INTERVAL_SECONDS: the alerter judges freshness by it, not by its own.
    interval_seconds = peewee.FloatField(null=True)
    completed_at = peewee.FloatField()

    class Meta:
        table_name = "monitoring_cycles"


MODELS: tuple[type[Any], ...] = (MonitoringCycle, *checks.MODELS)
_CYCLES = MonitoringCycle._meta.table_name
_ID = MonitoringCycle.id.column_name
assert _CYCLES == checks.CYCLES_TABLE
CHECK_FIELDS = checks.CHECK_FIELDS  # the writer's column order, the view's columns


def _columns(fields: Iterable[peewee.Field]) -> str:
    return ", ".join(f.column_name for f in fields)


def migrate(database: peewee.SqliteDatabase, tz: ZoneInfo = _UTC) -> None:
    """Bring the exporter's tables to SCHEMA_VERSION in one transaction, or change nothing.

    Checks of version 2 are only set aside here (a rename); `upgrade_v3.move` moves them later.
    `tz` renders `timestamp_local` of cycles migrated from the previous agent's database.
    """

    def adopt_legacy(db: peewee.SqliteDatabase) -> None:
        legacy.adopt(db, tz, MonitoringCycle, MODELS, CheckWriter(db).insert)

    with database.atomic("IMMEDIATE"):
        migrate_component(
            database, COMPONENT, SCHEMA_VERSION, MODELS, first_time=adopt_legacy, upgrade=_upgrade
        )
        checks.seed_statuses(database)
        checks.write_statistics(database)
        pending = upgrade_v3.PENDING if upgrade_v3.pending(database) else None
        checks.create_view(database, also=pending)


def _upgrade(database: peewee.SqliteDatabase, current: int) -> None:
    """Version 1 had no dependency facts, version 2 one wide row per check."""
    if current < 3:
        upgrade_v3.set_aside(database, current)


def insert_cycle(values: Mapping[peewee.Field, object]) -> int:
    """Insert one cycle row (call inside the writer's transaction); returns its id."""
    return int(MonitoringCycle.insert(dict(values)).execute())


def delete_cycles_before(cutoff: float, limit: int) -> int:
    """Delete up to `limit` of the oldest cycles started before `cutoff`, checks first."""
    ids = [
        r.id
        for r in MonitoringCycle.select(MonitoringCycle.id)
        .where(MonitoringCycle.started_at < cutoff)
        .order_by(MonitoringCycle.id)
        .limit(limit)
    ]
    if ids:
        CheckRow.delete().where(CheckRow.cycle_id.in_(ids)).execute()
        database = MonitoringCycle._meta.database
        if upgrade_v3.pending(database):
            marks = ", ".join("?" for _ in ids)
            query = f"DELETE FROM {upgrade_v3.PENDING} WHERE cycle_id IN ({marks})"  # noqa: S608
            database.execute_sql(query, ids)
        MonitoringCycle.delete().where(MonitoringCycle.id.in_(ids)).execute()
    return len(ids)


_SUPERSEDED_FACTS = (
    "DELETE FROM service_facts AS f WHERE since_cycle < ?1 AND EXISTS (SELECT 1 FROM "
    "service_facts g WHERE g.service_id = f.service_id AND g.since_cycle > f.since_cycle "
    "AND g.since_cycle <= ?1)"
)


def delete_superseded_facts(db: peewee.SqliteDatabase) -> int:
    """Drop facts rows that no kept cycle reads (replaced before the oldest kept cycle)."""
    oldest = sql(db, f"SELECT min({_ID}) FROM {_CYCLES}").fetchone()[0]  # noqa: S608
    if oldest is None:
        return 0
    return int(sql(db, _SUPERSEDED_FACTS, (oldest,)).rowcount)


# --- The typed read API: the alerter's only way into these tables. ---

_CYCLE_READ = (
    MonitoringCycle.id,
    MonitoringCycle.started_at,
    MonitoringCycle.completed_at,
    MonitoringCycle.internet_status,
    MonitoringCycle.interval_seconds,
    MonitoringCycle.container_count,
)
_SELECT_CYCLES = (
    f"SELECT {_columns(_CYCLE_READ)} FROM {_CYCLES} "  # noqa: S608
    f"WHERE {_ID} > ? ORDER BY 1 LIMIT ?"
)


def tables_exist(db: peewee.SqliteDatabase) -> bool:
    row = sql(
        db,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
        (_CYCLES, CheckRow._meta.table_name),
    ).fetchone()
    return bool(row and row[0] == 2)


def cycle_id_before_newest(db: peewee.SqliteDatabase, offset: int) -> int:
    """The id `offset` cycles below the newest one (0 when there are not that many)."""
    query = f"SELECT {_ID} FROM {_CYCLES} ORDER BY {_ID} DESC LIMIT 1 OFFSET ?"  # noqa: S608
    row = sql(db, query, (offset,)).fetchone()
    return int(row[0]) if row else 0


def cycles_after(db: peewee.SqliteDatabase, cursor: int, limit: int = 50) -> list[Cycle]:
    """Up to `limit` cycles after `cursor` with their checks, read from one snapshot.

    One read transaction: the exporter's retention could otherwise delete a cycle's checks
    between the two queries, and a cycle without checks would look like every service removed.
    """
    with db.atomic():
        rows = sql(db, _SELECT_CYCLES, (cursor, limit)).fetchall()
        if not rows:
            return []
        found = checkread.checks_between(db, rows[0][0], rows[-1][0])
    return [_cycle(r, tuple(found.get(r[0], ()))) for r in rows]


def _cycle(row: tuple[Any, ...], checks: tuple[Check, ...]) -> Cycle:
    return Cycle(row[0], row[1], row[2], row[3], checks, row[4], row[5])


def newest_cycle(db: peewee.SqliteDatabase, *, with_checks: bool = True) -> Cycle | None:
    """The newest cycle; without its checks (an empty tuple) when only its row is needed."""
    row = sql(db, f"SELECT max({_ID}) FROM {_CYCLES}").fetchone()  # noqa: S608
    if not row or row[0] is None:
        return None
    if not with_checks:
        found = sql(db, _SELECT_CYCLES, (row[0] - 1, 1)).fetchone()
        return None if found is None else _cycle(found, ())
    cycles = cycles_after(db, int(row[0]) - 1, limit=1)
    return cycles[0] if cycles else None


def count_cycles_after(db: peewee.SqliteDatabase, cursor: int) -> int:
    row = sql(db, f"SELECT count(*) FROM {_CYCLES} WHERE {_ID} > ?", (cursor,))  # noqa: S608
    return int(row.fetchone()[0])


_CYCLES_STARTED = (
    f"SELECT {_ID}, started_at FROM {_CYCLES} "  # noqa: S608
    "WHERE started_at >= ? AND started_at < ? ORDER BY started_at"
)


def check_samples(
    db: peewee.SqliteDatabase, start: float, end: float
) -> list[tuple[float, str, str, float | None]]:
    """(started_at, service, status, latency_ms) of each check of cycles started in [start, end):
    what the rollups are rebuilt from after a restart."""
    with db.atomic():
        started = sql(db, _CYCLES_STARTED, (start, end)).fetchall()
        if not started:
            return []
        ids = [r[0] for r in started]
        found = checkread.checks_between(db, min(ids), max(ids))
    return [
        (at, c.name, c.status, c.latency_ms) for cycle, at in started for c in found.get(cycle, ())
    ]


def oldest_cycle_start(db: peewee.SqliteDatabase) -> float | None:
    row = sql(db, f"SELECT min(started_at) FROM {_CYCLES}").fetchone()  # noqa: S608
    return None if row is None or row[0] is None else float(row[0])
