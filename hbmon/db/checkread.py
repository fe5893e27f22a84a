"""Reads checks back as typed records, from the compact storage and from version-2 rows not yet
moved into it."""

from __future__ import annotations

import peewee

from hbmon.db import upgrade_v3
from hbmon.db.checks import millis
from hbmon.db.connection import sql
from hbmon.db.records import Check

_FactsHistory = dict[int, list[tuple[int, float | None, str | None]]]
_SELECT = (
    "SELECT cycle_id, service_id, status, status_code, latency, error_message FROM checks "
    "WHERE cycle_id BETWEEN ? AND ?"
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

    Call inside a read transaction: the services, facts and rows must be one snapshot.
    """
    services = {r[0]: (r[1], r[2]) for r in sql(db, "SELECT id, name, kind FROM services")}
    statuses = {r[0]: r[1] for r in sql(db, "SELECT code, name FROM check_statuses")}
    facts = _facts(db, last)
    found: dict[int, list[Check]] = {}
    for cycle, service, status, code, latency, reason in sql(db, _SELECT, (first, last)):
        name, kind = services[service]
        tls, parent = _valid(facts.get(service), cycle)
        check = Check(name, kind, statuses[status], code, millis(latency), reason, tls, parent)
        found.setdefault(cycle, []).append(check)
    if upgrade_v3.pending(db):
        for row in sql(db, _SELECT_V2, (first, last)):
            found.setdefault(row[0], []).append(Check._make(row[1:]))
    for checks in found.values():
        checks.sort(key=lambda c: c.name)
    return found


def _facts(db: peewee.SqliteDatabase, last: int) -> _FactsHistory:
    history: _FactsHistory = {}
    for service, since, tls, parent in sql(db, _FACTS, (last,)):
        history.setdefault(service, []).append((since, tls, parent))
    return history


def _valid(
    history: list[tuple[int, float | None, str | None]] | None, cycle: int
) -> tuple[float | None, str | None]:
    """The facts of the newest row valid at `cycle` (rows are oldest first, usually one)."""
    for since, tls, parent in reversed(history or ()):
        if since <= cycle:
            return tls, parent
    return None, None
