"""The exporter's tables (`monitoring_cycles`, `service_checks`): models, migration, typed reads.

The exporter is the only writer of these tables and the alerter reads them only through the
functions below, so a column is named in this module alone. Timestamps are UTC epoch seconds
(REAL); `timestamp_local` is a human-facing ISO-8601 string with the offset of `TZ`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import peewee
from playhouse.sqlite_ext import AutoIncrementField

from hbmon.db import legacy
from hbmon.db.connection import sql
from hbmon.db.records import Check, Cycle
from hbmon.db.schema import migrate_component

COMPONENT = "exporter"
SCHEMA_VERSION = 2
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


class ServiceCheck(_Model):
    id = peewee.AutoField()
    cycle = peewee.ForeignKeyField(
        MonitoringCycle, column_name="cycle_id", backref="checks", on_delete="CASCADE"
    )
    service_name = peewee.TextField()
    kind = peewee.TextField()  # http | docker
    status = peewee.TextField()
    status_code = peewee.IntegerField(null=True)
    latency_ms = peewee.FloatField(null=True)
    error_message = peewee.TextField(null=True)
    ip_family = peewee.TextField(null=True)
    connection_reused = peewee.BooleanField(null=True)
    dns_ms = peewee.FloatField(null=True)
    connect_ms = peewee.FloatField(null=True)
    tls_ms = peewee.FloatField(null=True)
    ttfb_ms = peewee.FloatField(null=True)
    tls_cert_expiry = peewee.FloatField(null=True)  # notAfter, UTC epoch seconds
    container_state = peewee.TextField(null=True)
    restart_count = peewee.IntegerField(null=True)
    details = peewee.TextField(null=True)  # JSON object of further probe facts
    # The item whose failure explains this one's ("internet", "docker", a service name) or NULL,
    # and what a default was decided from: the alerter needs no configuration or DNS of its own.
    depends_on = peewee.TextField(null=True)
    address_class = peewee.TextField(null=True)  # public | private | loopback | ... | NULL

    class Meta:
        table_name = "service_checks"
        indexes = ((("service_name", "cycle"), False),)


MODELS: tuple[type[Any], ...] = (MonitoringCycle, ServiceCheck)
_CYCLES = MonitoringCycle._meta.table_name
_CHECKS = ServiceCheck._meta.table_name
_ID = MonitoringCycle.id.column_name
# Every column a writer may set, in one place; the id is assigned by SQLite.
CHECK_FIELDS: tuple[peewee.Field, ...] = tuple(
    f for f in ServiceCheck._meta.sorted_fields if f is not ServiceCheck.id
)


def _columns(fields: Iterable[peewee.Field]) -> str:
    return ", ".join(f.column_name for f in fields)


# Only our own column names are interpolated; values go through placeholders.
_INSERT_CHECK = (
    f"INSERT INTO {_CHECKS} ({_columns(CHECK_FIELDS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in CHECK_FIELDS)})"
)


def migrate(database: peewee.SqliteDatabase, tz: ZoneInfo = _UTC) -> None:
    """Bring the exporter's tables to SCHEMA_VERSION in one transaction, or change nothing.

    `tz` renders `timestamp_local` of cycles migrated from the previous agent's database.
    """

    def adopt_legacy(db: peewee.SqliteDatabase) -> None:
        legacy.adopt(db, tz, MonitoringCycle, ServiceCheck)

    migrate_component(
        database, COMPONENT, SCHEMA_VERSION, MODELS, first_time=adopt_legacy, upgrade=_upgrade
    )


def _upgrade(database: peewee.SqliteDatabase, current: int) -> None:
    """Version 1 had no dependency facts: its checks keep NULL (no parent, class not known)."""
    if current < 2:
        for field in (ServiceCheck.depends_on, ServiceCheck.address_class):
            database.execute_sql(f"ALTER TABLE {_CHECKS} ADD COLUMN {field.column_name} TEXT")


def insert_cycle(values: Mapping[peewee.Field, object]) -> int:
    """Insert one cycle row (call inside the writer's transaction); returns its id."""
    return int(MonitoringCycle.insert(dict(values)).execute())


def insert_checks(db: peewee.SqliteDatabase, rows: Iterable[Sequence[object]]) -> None:
    """Insert check rows, each in CHECK_FIELDS order (executemany; insert_many: ~0.2 ms/row)."""
    db.cursor().executemany(_INSERT_CHECK, rows)


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
        ServiceCheck.delete().where(ServiceCheck.cycle.in_(ids)).execute()
        MonitoringCycle.delete().where(MonitoringCycle.id.in_(ids)).execute()
    return len(ids)


# --- The typed read API: the alerter's only way into these tables. ---

_CYCLE_READ = (
    MonitoringCycle.id,
    MonitoringCycle.started_at,
    MonitoringCycle.completed_at,
    MonitoringCycle.internet_status,
    MonitoringCycle.interval_seconds,
    MonitoringCycle.container_count,
)
_CHECK_READ = (
    ServiceCheck.cycle,
    ServiceCheck.service_name,
    ServiceCheck.kind,
    ServiceCheck.status,
    ServiceCheck.status_code,
    ServiceCheck.latency_ms,
    ServiceCheck.error_message,
    ServiceCheck.tls_cert_expiry,
    ServiceCheck.depends_on,
)
_SELECT_CYCLES = (
    f"SELECT {_columns(_CYCLE_READ)} FROM {_CYCLES} "  # noqa: S608
    f"WHERE {_ID} > ? ORDER BY 1 LIMIT ?"
)
_SELECT_CHECKS = (
    f"SELECT {_columns(_CHECK_READ)} FROM {_CHECKS} "  # noqa: S608
    f"WHERE {ServiceCheck.cycle.column_name} BETWEEN ? AND ? "
    f"ORDER BY {ServiceCheck.service_name.column_name}"
)


def tables_exist(db: peewee.SqliteDatabase) -> bool:
    row = sql(
        db,
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN (?, ?)",
        (_CYCLES, _CHECKS),
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
        checks: dict[int, list[Check]] = {r[0]: [] for r in rows}
        for c in sql(db, _SELECT_CHECKS, (rows[0][0], rows[-1][0])).fetchall():
            found = checks.get(c[0])
            if found is not None:
                found.append(Check._make(c[1:]))
    return [_cycle(r, tuple(checks[r[0]])) for r in rows]


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


_SELECT_SAMPLES = (
    f"SELECT c.started_at, s.{ServiceCheck.service_name.column_name}, "  # noqa: S608
    f"s.{ServiceCheck.status.column_name}, s.{ServiceCheck.latency_ms.column_name} "
    f"FROM {_CYCLES} c JOIN {_CHECKS} s ON s.{ServiceCheck.cycle.column_name} = c.{_ID} "
    "WHERE c.started_at >= ? AND c.started_at < ? ORDER BY c.started_at"
)


def check_samples(
    db: peewee.SqliteDatabase, start: float, end: float
) -> list[tuple[float, str, str, float | None]]:
    """(started_at, service, status, latency_ms) of each check of cycles started in [start, end):
    what the rollups are rebuilt from after a restart."""
    return [(r[0], r[1], r[2], r[3]) for r in sql(db, _SELECT_SAMPLES, (start, end))]


def oldest_cycle_start(db: peewee.SqliteDatabase) -> float | None:
    row = sql(db, f"SELECT min(started_at) FROM {_CYCLES}").fetchone()  # noqa: S608
    return None if row is None or row[0] is None else float(row[0])
