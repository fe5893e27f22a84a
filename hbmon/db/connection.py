"""Opening the shared SQLite database with the pragmas both processes rely on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee

PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "busy_timeout": 5000,
    "foreign_keys": 1,
}


def _transaction_open(db: peewee.SqliteDatabase) -> bool:
    """Whether SQLite itself still has a transaction open on this thread's connection."""
    if db.is_closed():
        return False
    connection: sqlite3.Connection = db.connection()
    return connection.in_transaction


class _Savepoint(peewee._savepoint):
    def rollback(self, begin: bool = True) -> None:
        if _transaction_open(self.db):
            super().rollback(begin)


class SqliteDatabase(peewee.SqliteDatabase):
    """peewee's database, except that a rollback after SQLite already rolled back is a no-op.

    On a full disk or an I/O error SQLite rolls the transaction back itself when COMMIT (or a
    statement) fails; peewee's `atomic()` then issues ROLLBACK, which raises "cannot rollback -
    no transaction is active" and hides the real error from every caller.
    """

    def rollback(self) -> None:
        if _transaction_open(self):
            super().rollback()

    def savepoint(self) -> _Savepoint:
        return _Savepoint(self)


def open_database(path: str | Path) -> peewee.SqliteDatabase:
    """Open (creating the folder if needed) a WAL database; nothing connects at import time."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    database = SqliteDatabase(str(target), pragmas=PRAGMAS, autoconnect=True)
    database.connect(reuse_if_open=True)
    return database


def sql(db: peewee.SqliteDatabase, query: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
    """peewee's execute_sql with a typed cursor."""
    cursor: sqlite3.Cursor = db.execute_sql(query, params)
    return cursor
