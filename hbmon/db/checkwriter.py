"""Writes checks into the compact storage: services and statuses interned, facts when changed."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import peewee

from hbmon.db.checks import (
    CHECK_COLUMNS,
    DURATION_COLUMNS,
    FACT_COLUMNS,
    CheckRow,
    ServiceFacts,
    micros,
    seed_statuses,
)
from hbmon.db.connection import sql

Facts = tuple[object, ...]  # values of FACT_COLUMNS
# One check as stored: cycle id, service name, kind, status name, the values of ROW_COLUMNS
# (durations in integer microseconds) and the values of FACT_COLUMNS. The exporter builds these
# straight from its results: a wide row per check first cost a third of a 10,000-check write.
Entry = tuple[object, object, object, object, tuple[object, ...], Facts]
_AT = {name: i for i, name in enumerate(CHECK_COLUMNS)}
_NAME_AT, _KIND_AT, _STATUS_AT, _CYCLE_AT = (
    _AT[c] for c in ("service_name", "kind", "status", "cycle_id")
)
ROW_COLUMNS = tuple(f.column_name for f in CheckRow._meta.sorted_fields)[3:]
_PER_ROW_AT = tuple(_AT.get(c, _AT.get(f"{c}_ms", -1)) for c in ROW_COLUMNS)
_DURATION_AT = frozenset(_AT[c] for c in DURATION_COLUMNS)
_FACT_AT = tuple(_AT[c] for c in FACT_COLUMNS)
_NO_FACTS: Facts = (None,) * len(FACT_COLUMNS)
# A duplicate (cycle, service) keeps the last row: only a damaged older database has any.
_INSERT_ROW = (
    "INSERT OR REPLACE INTO checks "  # noqa: S608 - our own names only
    f"VALUES ({', '.join('?' for _ in CheckRow._meta.sorted_fields)})"
)
_INSERT_FACTS = (
    "INSERT OR REPLACE INTO service_facts (service_id, since_cycle, "  # noqa: S608
    f"{', '.join(FACT_COLUMNS)}) VALUES ({', '.join('?' for _ in range(len(FACT_COLUMNS) + 2))})"
)
_FACTS_AT = (
    f"SELECT service_id, {', '.join(FACT_COLUMNS)} FROM service_facts f "  # noqa: S608
    "WHERE since_cycle = (SELECT max(since_cycle) FROM service_facts g "
    "WHERE g.service_id = f.service_id AND g.since_cycle <= ?)"
)
assert all(at >= 0 for at in _PER_ROW_AT), "a checks column has no view column"
assert ServiceFacts._meta.table_name == "service_facts"


def _entry(row: Sequence[object]) -> Entry:
    """A row in CHECK_FIELDS order as an entry: durations as integer microseconds when exact."""
    values = tuple(micros(row[at]) if at in _DURATION_AT else row[at] for at in _PER_ROW_AT)
    facts = tuple(row[at] for at in _FACT_AT)
    return row[_CYCLE_AT], row[_NAME_AT], row[_KIND_AT], row[_STATUS_AT], values, facts


def facts_in_force(db: peewee.SqliteDatabase, cycle_id: int) -> dict[int, Facts]:
    """Each service's facts valid at `cycle_id` (its newest row from that cycle or before)."""
    return {r[0]: tuple(r[1:]) for r in sql(db, _FACTS_AT, (cycle_id,))}


class CheckWriter:
    """Turns checks (CHECK_FIELDS order) into compact rows; one per database, cached state.

    Call `forget()` after a transaction that used it rolled back: ids it handed out may be gone.
    """

    def __init__(self, db: peewee.SqliteDatabase) -> None:
        self._db = db
        self._services: dict[tuple[object, object], int] | None = None
        self._statuses: dict[object, int] = {}
        self._last: dict[int, Facts] = {}

    def forget(self) -> None:
        self._services = None

    def _load(self) -> dict[tuple[object, object], int]:
        self._services = {
            (r[1], r[2]): r[0] for r in sql(self._db, "SELECT id, name, kind FROM services")
        }
        seed_statuses(self._db)
        self._statuses = {
            r[1]: r[0] for r in sql(self._db, "SELECT code, name FROM check_statuses")
        }
        self._last = facts_in_force(self._db, 1 << 62)
        return self._services

    def insert(
        self, rows: Iterable[Sequence[object]], before: dict[int, Facts] | None = None
    ) -> None:
        """Store checks given as rows in CHECK_FIELDS order (see `insert_entries`)."""
        self.insert_entries(map(_entry, rows), before)

    def insert_entries(
        self, entries: Iterable[Entry], before: dict[int, Facts] | None = None
    ) -> None:
        """Store checks of one or more cycles, oldest cycle first (inside the caller's
        transaction). Facts are compared with `before` (each service's facts valid before these
        cycles), by default with the newest stored: the exporter writes the newest cycle."""
        services = self._services if self._services is not None else self._load()
        statuses, last = self._statuses, self._last if before is None else before
        compact, changed = [], []
        for cycle, name, kind, status, values, facts in entries:
            service = services.get((name, kind))
            if service is None:
                service = services[(name, kind)] = self._service((name, kind))
            if last.get(service, _NO_FACTS) != facts:
                last[service] = facts
                changed.append((service, cycle, *facts))
            code = statuses.get(status)
            if code is None:
                code = self._status(str(status))
            compact.append((cycle, service, code, *values))
        cursor = self._db.cursor()
        # sqlite3's errors as peewee's, as execute_sql raises them
        with peewee.__exception_wrapper__:  # type: ignore[attr-defined]
            cursor.executemany(_INSERT_ROW, compact)
            cursor.executemany(_INSERT_FACTS, changed)

    def _service(self, key: tuple[object, object]) -> int:
        cursor = sql(self._db, "INSERT INTO services (name, kind) VALUES (?, ?)", key)
        return int(cursor.lastrowid or 0)

    def _status(self, name: str) -> int:
        row = sql(self._db, "SELECT coalesce(max(code), -1) + 1 FROM check_statuses").fetchone()
        sql(self._db, "INSERT INTO check_statuses (code, name) VALUES (?, ?)", (row[0], name))
        self._statuses[name] = int(row[0])
        return int(row[0])
