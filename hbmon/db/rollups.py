"""The exporter's rollup tables (`service_hours`, `service_days`): models, migration, reads, writes.

One row per service per hour (UTC hour start, epoch seconds) and per service per local day (ISO
date in `TZ`). The exporter is their only writer; they outlive the raw cycles (`HISTORY_DAYS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

import peewee

from hbmon.db.connection import sql
from hbmon.db.schema import migrate_component

COMPONENT = "history"
SCHEMA_VERSION = 1
_COUNTS = ("checks", "error", "timeout", "down", "unknown", "latency_count")
_LATENCY = ("latency_sum_ms", "latency_min_ms", "latency_max_ms")


class RollupRow(NamedTuple):
    """One stored rollup; `key` is the hour start (epoch seconds) or the local ISO date."""

    service: str
    key: int | str
    checks: int
    error: int
    timeout: int
    down: int
    unknown: int
    latency_count: int
    latency_sum_ms: float
    latency_min_ms: float | None
    latency_max_ms: float | None
    buckets: bytes  # sparse varint histogram (exporter.history.rollup.encode_buckets)


class _Model(peewee.Model):
    service = peewee.TextField()
    checks = peewee.IntegerField()
    error = peewee.IntegerField()
    timeout = peewee.IntegerField()
    down = peewee.IntegerField()
    unknown = peewee.IntegerField()
    latency_count = peewee.IntegerField()
    latency_sum_ms = peewee.FloatField()
    latency_min_ms = peewee.FloatField(null=True)
    latency_max_ms = peewee.FloatField(null=True)
    buckets = peewee.BlobField()

    class Meta:
        database = None
        legacy_table_names = False
        without_rowid = True


class ServiceHour(_Model):
    hour = peewee.IntegerField()

    class Meta:
        table_name = "service_hours"
        # Time first: the page reads the last 24 h of every service, the recorder the newest
        # hour, retention the oldest; no second index to store the rows twice.
        primary_key = peewee.CompositeKey("hour", "service")


class ServiceDay(_Model):
    day = peewee.TextField()

    class Meta:
        table_name = "service_days"
        primary_key = peewee.CompositeKey("day", "service")


MODELS: tuple[type[Any], ...] = (ServiceHour, ServiceDay)
_VALUES = ("service", "{key}", *_COUNTS, *_LATENCY, "buckets")


def migrate(database: peewee.SqliteDatabase) -> None:
    """Create the rollup tables (their own schema component) in one transaction."""
    migrate_component(database, COMPONENT, SCHEMA_VERSION, MODELS)


def _select(table: str, key: str) -> str:
    columns = ", ".join(_VALUES).format(key=key)
    return f"SELECT {columns} FROM {table}"  # noqa: S608 - our own names only


def _upsert(table: str, key: str) -> str:
    columns = ", ".join(_VALUES).format(key=key)
    marks = ", ".join("?" for _ in _VALUES)
    return f"INSERT OR REPLACE INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608


_HOURS, _DAYS = ServiceHour._meta.table_name, ServiceDay._meta.table_name


def write_hours(db: peewee.SqliteDatabase, rows: Iterable[RollupRow]) -> None:
    db.cursor().executemany(_upsert(_HOURS, "hour"), rows)


def write_days(db: peewee.SqliteDatabase, rows: Iterable[RollupRow]) -> None:
    db.cursor().executemany(_upsert(_DAYS, "day"), rows)


def hours_since(db: peewee.SqliteDatabase, start: int) -> list[RollupRow]:
    """Every service's hours from `start` (epoch seconds) on, oldest first."""
    query = _select(_HOURS, "hour") + " WHERE hour >= ? ORDER BY hour"
    return [RollupRow._make(r) for r in sql(db, query, (start,))]


def days_since(db: peewee.SqliteDatabase, first_day: str) -> list[RollupRow]:
    """Every service's days from `first_day` (ISO date) on, oldest first."""
    query = _select(_DAYS, "day") + " WHERE day >= ? ORDER BY day"
    return [RollupRow._make(r) for r in sql(db, query, (first_day,))]


def days_of(db: peewee.SqliteDatabase, day: str) -> dict[str, RollupRow]:
    query = _select(_DAYS, "day") + " WHERE day = ?"
    return {r[0]: RollupRow._make(r) for r in sql(db, query, (day,))}


def last_hour(db: peewee.SqliteDatabase) -> int | None:
    """The newest hour written (epoch seconds), None when no hour was ever written."""
    row = sql(db, f"SELECT max(hour) FROM {_HOURS}").fetchone()  # noqa: S608
    return None if row is None or row[0] is None else int(row[0])


def delete_before(db: peewee.SqliteDatabase, hour: int, day: str) -> int:
    """Drop hours before `hour` and days before `day`; returns the rows deleted."""
    hours = sql(db, f"DELETE FROM {_HOURS} WHERE hour < ?", (hour,)).rowcount  # noqa: S608
    days = sql(db, f"DELETE FROM {_DAYS} WHERE day < ?", (day,)).rowcount  # noqa: S608
    return int(hours) + int(days)


def day_counts_since(db: peewee.SqliteDatabase, first_day: str) -> list[tuple[str, str, int, int]]:
    """(service, day, checks, failures) from `first_day` on: the daily bars need no histogram."""
    query = (
        f"SELECT service, day, checks, error + timeout + down + unknown FROM {_DAYS} "  # noqa: S608
        "WHERE day >= ? ORDER BY day"
    )
    return [(r[0], r[1], r[2], r[3]) for r in sql(db, query, (first_day,))]
