"""Moving a version-2 database's checks into the compact storage: set aside in the migration's
transaction at start, then moved in short batches between cycles until none is left.

Each batch is one transaction (the oldest cycles first, about BATCH_ROWS checks): a kill at any
point leaves every check either still set aside or already moved, and the next start resumes. Until
the last batch, the `service_checks` view and the typed reads show both.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import peewee

from hbmon.db import checks
from hbmon.db.checkwriter import CheckWriter, facts_in_force
from hbmon.db.connection import sql

PENDING = "service_checks_v2"
BATCH_ROWS = 2000  # about 0.1 s on a loaded 2-core machine: well under any interval
_DEPENDENCY_COLUMNS = ("depends_on", "address_class")  # added by version 2


def pending(db: peewee.SqliteDatabase) -> bool:
    """Whether checks of version 2 wait to be moved."""
    query = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
    return bool(sql(db, query, (PENDING,)).fetchone()[0])


def set_aside(db: peewee.SqliteDatabase, current: int) -> None:
    """Rename the checks table of version 1 or 2 (a version 1 table gains version 2's columns)."""
    if current < 2:
        for column in _DEPENDENCY_COLUMNS:
            db.execute_sql(f"ALTER TABLE {checks.VIEW} ADD COLUMN {column} TEXT")
    db.execute_sql(f"ALTER TABLE {checks.VIEW} RENAME TO {PENDING}")


def move(
    db: peewee.SqliteDatabase,
    writer: CheckWriter,
    budget_s: float,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Move one batch, then more until none is left or `budget_s` has passed; returns the
    checks moved."""
    deadline, moved = clock() + budget_s, 0
    while pending(db):
        moved += move_batch(db, writer)
        if clock() >= deadline:
            break
    return moved


def move_batch(db: peewee.SqliteDatabase, writer: CheckWriter) -> int:
    """Move the oldest cycles' checks (about BATCH_ROWS) in one transaction; the last batch
    drops the emptied table and the view's second half."""
    try:
        with db.atomic("IMMEDIATE"):
            span = _oldest_cycles(db)
            if span is None:
                db.execute_sql(f"DROP TABLE {PENDING}")
                checks.create_view(db)
                return 0
            rows = sql(db, _SELECT, span).fetchall()
            writer.insert(rows, facts_in_force(db, span[0] - 1))
            sql(db, f"DELETE FROM {PENDING} WHERE cycle_id BETWEEN ? AND ?", span)  # noqa: S608
    except peewee.DatabaseError:
        writer.forget()
        raise
    return len(rows)


# Checks of a cycle that no longer exists (foreign keys were off) cannot move: they are dropped.
_SELECT = (
    f"SELECT {', '.join(checks.CHECK_COLUMNS)} FROM {PENDING} "  # noqa: S608
    f"WHERE cycle_id BETWEEN ? AND ? AND cycle_id IN (SELECT id FROM {checks.CYCLES_TABLE}) "
    "ORDER BY cycle_id, id"
)
_PER_CYCLE = f"SELECT cycle_id, count(*) FROM {PENDING} GROUP BY cycle_id ORDER BY cycle_id"  # noqa: S608


def _oldest_cycles(db: peewee.SqliteDatabase) -> tuple[int, int] | None:
    """The first and last cycle id of the next batch; None when nothing is left."""
    first = last = None
    total = 0
    cursor = sql(db, _PER_CYCLE)
    for cycle, count in cursor:
        first = cycle if first is None else first
        last, total = cycle, total + count
        if total >= BATCH_ROWS:
            break
    cursor.close()
    return None if first is None or last is None else (int(first), int(last))
