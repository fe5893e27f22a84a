"""Reads checks back as typed records, from the compact storage and from version-2 rows not yet
moved into it."""

from __future__ import annotations

import peewee

from hbmon.db import upgrade_v3
from hbmon.db.connection import sql
from hbmon.db.records import Check

_Facts = tuple[float | None, str | None]  # tls_cert_expiry, depends_on
_History = dict[int, list[tuple[int, float | None, str | None]]]
_NO_FACTS: _Facts = (None, None)
# Names and statuses are joined and sorted by SQLite: a Python dict of every service and a sort
# per cycle cost more than the join at 10,000 checks.
_SELECT = (
    "SELECT k.cycle_id, s.name, s.kind, t.name, k.status_code, k.latency, k.error_message, "
    "k.service_id FROM checks k JOIN services s ON s.id = k.service_id "
    "JOIN check_statuses t ON t.code = k.status "
    "WHERE k.cycle_id BETWEEN ? AND ? ORDER BY k.cycle_id, s.name"
)
_FACTS = (
    "SELECT service_id, since_cycle, tls_cert_expiry, depends_on FROM service_facts "
    "WHERE since_cycle <= ? ORDER BY service_id, since_cycle"
)
_SELECT_V2 = (
    "SELECT cycle_id, service_name, kind, status, status_code, latency_ms, error_message, "  # noqa: S608
    f"tls_cert_expiry, depends_on FROM {upgrade_v3.PENDING} WHERE cycle_id BETWEEN ? AND ?"
)


def checks_between(db: peewee.SqliteDatabase, first: int, last: int) -> dict[int, list[Check]]:
    """The checks of cycles `first`..`last` by cycle id, each cycle's in service name order.

    Call inside a read transaction: the facts and the rows must be one snapshot.
    """
    steady, history = _facts(db, first, last)
    found: dict[int, list[Check]] = {}
    current, checks = None, []
    for cycle, name, kind, status, code, stored, reason, service in sql(db, _SELECT, (first, last)):
        if cycle != current:  # rows come cycle by cycle
            current, checks = cycle, found.setdefault(cycle, [])
        tls, parent = steady.get(service) or _valid(history.get(service), cycle)
        # Integer microseconds (checks.micros), or REAL milliseconds already.
        latency = stored / 1000 if type(stored) is int else stored
        checks.append(Check(name, kind, status, code, latency, reason, tls, parent))
    if upgrade_v3.pending(db):
        moved = set(found)
        for row in sql(db, _SELECT_V2, (first, last)):
            found.setdefault(row[0], []).append(Check._make(row[1:]))
        for cycle, checks in found.items():
            if cycle not in moved:
                checks.sort(key=lambda c: c.name)
    return found


def _facts(db: peewee.SqliteDatabase, first: int, last: int) -> tuple[dict[int, _Facts], _History]:
    """The facts of services with no change after `first` (most), and the rows of the others."""
    rows = sql(db, _FACTS, (last,)).fetchall()
    newest = {r[0]: r for r in rows}  # rows are in (service, since) order: the last one wins
    steady = {s: (r[2], r[3]) for s, r in newest.items() if r[1] <= first}
    history: _History = {}
    if len(steady) < len(newest):  # some service's facts changed within these cycles
        for service, since, tls, parent in rows:
            if service not in steady:
                history.setdefault(service, []).append((since, tls, parent))
    return steady, history


def _valid(history: list[tuple[int, float | None, str | None]] | None, cycle: int) -> _Facts:
    """The facts of the newest row valid at `cycle` (rows are oldest first)."""
    for since, tls, parent in reversed(history or ()):
        if since <= cycle:
            return tls, parent
    return _NO_FACTS
