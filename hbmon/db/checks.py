"""The compact checks storage: its tables, the `service_checks` view over them, and their writer.

A check row holds only what changes from cycle to cycle: integer ids of the cycle, the service
(`services`: name, kind) and the status (`check_statuses`: healthy is 0, stored in no bytes),
the HTTP status, the reason, connection reuse, the restart count and the five durations as
integer microseconds (2-3 bytes each instead of an 8-byte REAL; a value with a finer fraction,
never written by the exporter, is kept as REAL milliseconds, so nothing is rounded away). Facts
that rarely change (IP family, certificate expiry, container state, details, dependency, address
class) go to `service_facts`, one row per service each time they change, valid from that cycle.

The clustered key is (cycle_id, service_id) in a WITHOUT ROWID table, in that order:
- a cycle's checks are appended at the end of the B-tree, so pages fill completely and a cycle of
  1,000 checks writes about 8 pages, where (service_id, cycle_id) touches 1,000 pages per cycle
  (one per service's range) and leaves them half full;
- the latest cycle, and the alerter's tail, is one range of the key (`cycle_id BETWEEN ? AND ?`);
- the history of one service is one seek per cycle: with the statistics written at migration
  (`sqlite_stat1`: many rows per cycle), SQLite's skip-scan reads `service_id = ?` as
  `ANY(cycle_id) AND service_id=?`, so no second index stores every row twice.
`tests/hbmon/test_checks_storage.py` asserts these plans with EXPLAIN QUERY PLAN.
"""

from __future__ import annotations

from typing import Any

import peewee

from hbmon.status import Status

CYCLES_TABLE = "monitoring_cycles"
VIEW = "service_checks"
# `id` of the view: unique and ordered like the rows (cycle first), derived from the key.
ID_SHIFT = 1 << 32
# Rows per cycle told to the query planner: enough for it to skip-scan the cycle column.
PLANNER_ROWS_PER_CYCLE = 100


class _Model(peewee.Model):
    class Meta:
        database = None
        legacy_table_names = False


class Service(_Model):
    id = peewee.AutoField()
    name = peewee.TextField()
    kind = peewee.TextField()  # http | docker

    class Meta:
        table_name = "services"
        indexes = ((("name", "kind"), True),)


class CheckStatus(_Model):
    code = peewee.IntegerField(primary_key=True)
    name = peewee.TextField(unique=True)

    class Meta:
        table_name = "check_statuses"


class _Duration(peewee.Field):
    """Integer microseconds, or REAL milliseconds; BLOB: no affinity converts either."""

    field_type = "BLOB"


class CheckRow(_Model):
    cycle_id = peewee.IntegerField()
    service_id = peewee.IntegerField()
    status = peewee.IntegerField()  # check_statuses.code
    status_code = peewee.IntegerField(null=True)
    latency = _Duration(null=True)
    error_message = peewee.TextField(null=True)
    connection_reused = peewee.BooleanField(null=True)
    dns = _Duration(null=True)
    connect = _Duration(null=True)
    tls = _Duration(null=True)
    ttfb = _Duration(null=True)
    restart_count = peewee.IntegerField(null=True)

    class Meta:
        table_name = "checks"
        primary_key = peewee.CompositeKey("cycle_id", "service_id")
        without_rowid = True
        constraints = (
            peewee.SQL(
                f'FOREIGN KEY ("cycle_id") REFERENCES "{CYCLES_TABLE}" ("id") ON DELETE CASCADE'
            ),
        )


class ServiceFacts(_Model):
    service_id = peewee.IntegerField()
    since_cycle = peewee.IntegerField()  # valid from this cycle until the service's next row
    ip_family = peewee.TextField(null=True)
    tls_cert_expiry = peewee.FloatField(null=True)  # notAfter, UTC epoch seconds
    container_state = peewee.TextField(null=True)
    details = peewee.TextField(null=True)  # JSON object of further probe facts
    # The item whose failure explains this one's ("internet", "docker", a service name) or NULL,
    # and what a default was decided from: the alerter needs no configuration or DNS of its own.
    depends_on = peewee.TextField(null=True)
    address_class = peewee.TextField(null=True)  # public | private | loopback | ... | NULL

    class Meta:
        table_name = "service_facts"
        primary_key = peewee.CompositeKey("service_id", "since_cycle")
        without_rowid = True


class ServiceCheck(_Model):
    """The `service_checks` view (read only): the columns of the checks table of version 2."""

    id = peewee.IntegerField(primary_key=True)
    cycle_id = peewee.IntegerField()
    service_name = peewee.TextField()
    kind = peewee.TextField()
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
    tls_cert_expiry = peewee.FloatField(null=True)
    container_state = peewee.TextField(null=True)
    restart_count = peewee.IntegerField(null=True)
    details = peewee.TextField(null=True)
    depends_on = peewee.TextField(null=True)
    address_class = peewee.TextField(null=True)

    class Meta:
        table_name = VIEW


MODELS: tuple[type[Any], ...] = (Service, CheckStatus, CheckRow, ServiceFacts)
# What a writer hands over per check, in this order (the view's columns without its id): a
# probe fact named like one of these columns is stored there.
CHECK_FIELDS: tuple[peewee.Field, ...] = tuple(
    f for f in ServiceCheck._meta.sorted_fields if f is not ServiceCheck.id
)
CHECK_COLUMNS = tuple(f.column_name for f in CHECK_FIELDS)
_AT = {name: i for i, name in enumerate(CHECK_COLUMNS)}
FACT_COLUMNS = tuple(
    f.column_name
    for f in ServiceFacts._meta.sorted_fields
    if f.name not in ("service_id", "since_cycle")
)
_DURATIONS = ("latency", "dns", "connect", "tls", "ttfb")
DURATION_COLUMNS = frozenset(f"{d}_ms" for d in _DURATIONS)


def _decoded(column: str, alias: str) -> str:
    stored = f"k.{column}"
    return (
        f"CASE typeof({stored}) WHEN 'integer' THEN {stored} / 1000.0 ELSE {stored} END AS {alias}"
    )


def _view_column(column: str) -> str:
    sources = {
        "id": f"k.cycle_id * {ID_SHIFT} + k.service_id",
        "cycle_id": "k.cycle_id",
        "service_name": "s.name",
        "kind": "s.kind",
        "status": "t.name",
    }
    if column in sources:
        return f"{sources[column]} AS {column}"
    if column.endswith("_ms") and column[:-3] in _DURATIONS:
        return _decoded(column[:-3], column)
    source = "f" if column in FACT_COLUMNS else "k"
    return f"{source}.{column} AS {column}"


_VIEW_COLUMNS = tuple(f.column_name for f in ServiceCheck._meta.sorted_fields)
# Only our own names are interpolated.
VIEW_SELECT = (
    f"SELECT {', '.join(map(_view_column, _VIEW_COLUMNS))} "  # noqa: S608
    "FROM checks k JOIN services s ON s.id = k.service_id "
    "JOIN check_statuses t ON t.code = k.status "
    "LEFT JOIN service_facts f ON f.service_id = k.service_id AND f.since_cycle = "
    "(SELECT max(g.since_cycle) FROM service_facts g "
    "WHERE g.service_id = k.service_id AND g.since_cycle <= k.cycle_id)"
)


def create_view(db: peewee.SqliteDatabase, *, also: str | None = None) -> None:
    """(Re)create the view; `also` names a table of version-2 rows not yet moved over."""
    select = VIEW_SELECT
    if also is not None:
        select += f" UNION ALL SELECT {', '.join(_VIEW_COLUMNS)} FROM {also}"  # noqa: S608
    db.execute_sql(f"DROP VIEW IF EXISTS {VIEW}")
    db.execute_sql(f"CREATE VIEW {VIEW} AS {select}")


def seed_statuses(db: peewee.SqliteDatabase) -> None:
    """Status codes in Status order: healthy is 0, which SQLite stores in no bytes."""
    db.cursor().executemany(
        "INSERT OR IGNORE INTO check_statuses (code, name) VALUES (?, ?)",
        ((code, status.value) for code, status in enumerate(Status)),
    )


def write_statistics(db: peewee.SqliteDatabase) -> None:
    """Tell the planner a cycle holds many checks, so it skip-scans for one service's history
    (fixed statistics, as SQLite documents, instead of an ANALYZE that reads every row)."""
    db.execute_sql("ANALYZE sqlite_master")  # creates sqlite_stat1 if it is missing
    stat = f"{1000 * PLANNER_ROWS_PER_CYCLE} {PLANNER_ROWS_PER_CYCLE} 1"
    db.execute_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'checks'")
    db.execute_sql(
        "INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES ('checks', 'checks', ?)", (stat,)
    )


def micros(ms: object) -> object:
    """Milliseconds as integer microseconds when that is exact, else unchanged."""
    if not isinstance(ms, float | int) or isinstance(ms, bool):
        return ms
    us = round(ms * 1000)
    return us if us / 1000 == ms else ms


def check_row(**columns: object) -> tuple[object, ...]:
    """A check in CHECK_FIELDS order from column names; a column not given is NULL."""
    row: list[object] = [None] * len(CHECK_COLUMNS)
    for name, value in columns.items():
        row[_AT[name]] = value
    return tuple(row)
