"""Database trouble named from real SQLite errors on real files (full, read-only, locked, ...)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import peewee
import pytest

from hbmon.db.trouble import Trouble, TroubleLog, classify, describe


def _database(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=0)
    connection.execute("CREATE TABLE IF NOT EXISTS t (v BLOB)")
    return connection


def _full(path: Path) -> None:
    connection = _database(path)
    page_count = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count = {page_count + 1}")
    for _ in range(50):
        connection.execute("INSERT INTO t VALUES (zeroblob(4000))")


def _read_only(path: Path) -> None:
    _database(path).close()
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    connection.execute("INSERT INTO t VALUES (1)")


def _locked(path: Path) -> None:
    holder = _database(path)
    holder.execute("BEGIN IMMEDIATE")
    _database(path).execute("INSERT INTO t VALUES (1)")


def _corrupt(path: Path) -> None:
    path.write_bytes(b"this is not a database at all, " * 100)
    _database(path)


def _cannot_open(path: Path) -> None:
    sqlite3.connect(path.parent / "missing" / "dir" / "x.db").execute("SELECT 1")


CASES: list[tuple[Callable[[Path], None], Trouble, str]] = [
    (_full, Trouble.DISK_FULL, "SQLITE_FULL: database or disk is full"),
    (_read_only, Trouble.READ_ONLY, "SQLITE_READONLY: attempt to write a readonly database"),
    (_locked, Trouble.LOCKED, "SQLITE_BUSY: database is locked"),
    (_corrupt, Trouble.CORRUPT, "SQLITE_NOTADB: file is not a database"),
    (_cannot_open, Trouble.CANNOT_OPEN, "SQLITE_CANTOPEN: unable to open database file"),
]


@pytest.mark.parametrize(("provoke", "trouble", "text"), CASES)
def test_real_sqlite_errors_are_named(
    tmp_path: Path, provoke: Callable[[Path], None], trouble: Trouble, text: str
) -> None:
    with pytest.raises(sqlite3.Error) as raised:
        provoke(tmp_path / "db.sqlite")
    assert classify(raised.value) is trouble
    assert describe(raised.value) == text


def test_peewee_wrapping_keeps_the_real_error(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    holder = _database(path)  # kept: a dropped connection would release the lock when collected
    holder.execute("BEGIN IMMEDIATE")
    db = peewee.SqliteDatabase(str(path), timeout=0)
    with pytest.raises(peewee.OperationalError) as raised:
        db.execute_sql("INSERT INTO t VALUES (1)")
    db.close()
    holder.close()
    assert classify(raised.value) is Trouble.LOCKED
    assert describe(raised.value).startswith("SQLITE_BUSY")


def test_a_rollback_error_raised_while_handling_a_full_disk_does_not_hide_it(
    tmp_path: Path,
) -> None:
    connection = _database(tmp_path / "db.sqlite")
    try:
        try:
            _full(tmp_path / "db.sqlite")
        except sqlite3.Error:
            connection.execute("ROLLBACK")  # SQLite: "cannot rollback - no transaction is active"
    except sqlite3.Error as masked:
        assert "cannot rollback" in str(masked)
        assert classify(masked) is Trouble.DISK_FULL
        assert describe(masked) == "SQLITE_FULL: database or disk is full"
    else:
        pytest.fail("ROLLBACK outside a transaction did not raise")


def test_other_exceptions_are_other() -> None:
    assert classify(ValueError("x")) is Trouble.OTHER
    assert describe(ValueError("x")) == "ValueError: x"


def test_trouble_log_reports_each_change_once() -> None:
    log = TroubleLog()
    seen = [log.observe(t) for t in (None, Trouble.DISK_FULL, Trouble.DISK_FULL, None, None)]
    assert seen == [False, True, False, True, False]
    assert log.current is None
