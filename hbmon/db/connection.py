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


def open_database(path: str | Path) -> peewee.SqliteDatabase:
    """Open (creating the folder if needed) a WAL database; nothing connects at import time."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    database = peewee.SqliteDatabase(str(target), pragmas=PRAGMAS, autoconnect=True)
    database.connect(reuse_if_open=True)
    return database


def sql(db: peewee.SqliteDatabase, query: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
    """peewee's execute_sql with a typed cursor."""
    cursor: sqlite3.Cursor = db.execute_sql(query, params)
    return cursor
