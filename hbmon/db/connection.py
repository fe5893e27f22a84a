"""Opening the shared SQLite database with the pragmas both processes rely on."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import peewee

BUSY_TIMEOUT_S = 5.0  # how long a write waits for another connection's lock, at most
PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": "normal",
    "busy_timeout": int(BUSY_TIMEOUT_S * 1000),
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


def _unwritable(path: str) -> OSError | None:
    """Why the existing file `path` cannot be opened for writing; None if it can, or is absent."""
    if os.access(path, os.W_OK) or not os.path.lexists(path):
        return None
    try:
        os.close(os.open(path, os.O_RDWR))
    except OSError as exc:
        return exc
    return None


class SqliteDatabase(peewee.SqliteDatabase):
    """peewee's database, except that a rollback after SQLite already rolled back is a no-op,
    and that a `-wal` or `-shm` file it cannot write is an error, not a crash.

    On a full disk or an I/O error SQLite rolls the transaction back itself when COMMIT (or a
    statement) fails; peewee's `atomic()` then issues ROLLBACK, which raises "cannot rollback -
    no transaction is active" and hides the real error from every caller.

    SQLite maps the `-shm` file into memory and writes to it even to read: once that file is
    immutable, the next write to the mapping kills the process with SIGBUS. So before opening
    a connection and before each statement outside a transaction, both files are checked; a
    statement inside a transaction is not (its ROLLBACK must still run), which leaves a window
    of one transaction. Closing the process's last connection writes the mapping too (it
    checkpoints): while the files refuse, a closed connection is set aside instead.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._set_aside: list[sqlite3.Connection] = []

    def connect(self, reuse_if_open: bool = False) -> bool:
        if self.is_closed():
            self._check_side_files()
        return super().connect(reuse_if_open)

    def cursor(self, named_cursor: object = None) -> sqlite3.Cursor:
        if not _transaction_open(self):
            self._check_side_files()
        cursor: sqlite3.Cursor = peewee.SqliteDatabase.cursor(self, named_cursor)
        return cursor

    def close(self) -> bool:
        if self.is_closed() or self._side_files_refused() is None:
            return super().close()
        connection: sqlite3.Connection = peewee.SqliteDatabase.connection(self)
        self._set_aside.append(connection)  # freed, unclosed, when the process exits
        self.dispose()
        return True

    def _side_files_refused(self) -> OSError | None:
        paths = (f"{self.database}{suffix}" for suffix in ("-wal", "-shm"))
        return next(filter(None, map(_unwritable, paths)), None)

    def _check_side_files(self) -> None:
        refused = self._side_files_refused()
        if refused is not None:
            raise peewee.OperationalError(f"cannot write {refused.filename}") from refused

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


def limit_busy_timeout(db: peewee.SqliteDatabase, seconds: float) -> None:
    """Give up on another connection's lock after `seconds` (BUSY_TIMEOUT_S at most), on this
    thread's connection and every one `db` opens from now on."""
    db.pragma("busy_timeout", int(min(seconds, BUSY_TIMEOUT_S) * 1000), permanent=True)


def sql(db: peewee.SqliteDatabase, query: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
    """peewee's execute_sql with a typed cursor."""
    cursor: sqlite3.Cursor = db.execute_sql(query, params)
    return cursor
