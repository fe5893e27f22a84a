"""Service incidents as the alerter recorded them (`alert_outbox`), read-only for the status page.

The alerter owns that table; this module only reads the down and recovered alerts it wrote, and
answers nothing when the alerter has never run on this database.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import peewee

from hbmon.db.connection import sql

SERVICE_PREFIX = "service:"
_DOWN, _RECOVERED = "service_down", "service_recovered"
_SELECT = (
    "SELECT item, event, created_at, payload FROM alert_outbox "
    "WHERE event IN (?, ?) AND created_at >= ? ORDER BY seq"
)


class Incident(NamedTuple):
    """One alerted outage; `ended_at` is None while it lasts."""

    started_at: float
    ended_at: float | None
    reason: str | None


def _table_exists(db: peewee.SqliteDatabase) -> bool:
    query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alert_outbox'"
    return sql(db, query).fetchone() is not None


def _reason(payload: str) -> str | None:
    try:
        reason = json.loads(payload).get("reason")
    except (ValueError, AttributeError):
        return None
    return reason if isinstance(reason, str) else None


def incidents_since(db: peewee.SqliteDatabase, since: float) -> dict[str, list[Incident]]:
    """Service name -> its incidents that started at or after `since`, newest first."""
    if not _table_exists(db):
        return {}
    found: dict[str, list[Incident]] = {}
    for item, event, created_at, payload in sql(db, _SELECT, (_DOWN, _RECOVERED, since)):
        if not item.startswith(SERVICE_PREFIX):
            continue
        incidents = found.setdefault(item.removeprefix(SERVICE_PREFIX), [])
        if event == _DOWN:
            incidents.append(Incident(created_at, None, _reason(payload)))
        elif incidents and incidents[-1].ended_at is None:
            incidents[-1] = incidents[-1]._replace(ended_at=created_at)
    return {name: incidents[::-1] for name, incidents in found.items()}
