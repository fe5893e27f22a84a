"""The alerter's certificate notices: per service, the certificate it warned about last.

Only services that were warned about have a row; the alerter is the only writer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import peewee

from hbmon.db.connection import sql
from hbmon.db.schema import migrate_component

COMPONENT = "alerter-certs"
SCHEMA_VERSION = 1
_SELECT = "SELECT service, warned_not_after, renewed FROM cert_notices"
_UPSERT = (
    "INSERT INTO cert_notices (service, warned_not_after, renewed, updated_at) "
    "VALUES (?, ?, ?, ?) ON CONFLICT(service) DO UPDATE SET "
    "warned_not_after = excluded.warned_not_after, renewed = excluded.renewed, "
    "updated_at = excluded.updated_at"
)
_DELETE = "DELETE FROM cert_notices WHERE service = ?"


# (notAfter of the certificate warned about last, UTC epoch seconds; its renewal was announced)
Notice = tuple[float, bool]


class _CertNoticeRow(peewee.Model):
    service = peewee.TextField(primary_key=True)
    warned_not_after = peewee.FloatField()
    renewed = peewee.BooleanField(default=False)
    updated_at = peewee.FloatField()

    class Meta:
        database = None
        table_name = "cert_notices"


MODELS: tuple[type[Any], ...] = (_CertNoticeRow,)


def migrate(database: peewee.SqliteDatabase) -> None:
    migrate_component(database, COMPONENT, SCHEMA_VERSION, MODELS)


def load(db: peewee.SqliteDatabase) -> dict[str, Notice]:
    return {row[0]: (row[1], bool(row[2])) for row in sql(db, _SELECT).fetchall()}


def save(
    db: peewee.SqliteDatabase,
    notices: Mapping[str, Notice],
    retired: Iterable[str],
    now: float,
) -> None:
    """Write changed notices and drop retired ones; runs inside the caller's transaction."""
    statements = db.cursor()
    rows = [(name, warned, renewed, now) for name, (warned, renewed) in notices.items()]
    if rows:
        statements.executemany(_UPSERT, rows)
    gone = [(name,) for name in retired]
    if gone:
        statements.executemany(_DELETE, gone)
