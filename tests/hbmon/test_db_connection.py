"""A failed COMMIT on a really full disk raises SQLite's own error, not a rollback error."""

from __future__ import annotations

from pathlib import Path

import peewee
import pytest

from hbmon.db.connection import open_database
from tests.mounts import fill, tmpfs


def test_full_disk_commit_raises_the_full_error_not_cannot_rollback(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "small", "2m") as folder:
        db = open_database(folder / "x.db")
        db.execute_sql("CREATE TABLE t (v BLOB)")
        filler = fill(folder)
        full = pytest.raises(peewee.OperationalError, match=r"^database or disk is full$")
        # a savepoint inside the transaction, as the cycle writer nests one
        with full, db.atomic("IMMEDIATE"), db.atomic():
            db.execute_sql("INSERT INTO t VALUES (zeroblob(200000))")
        filler.unlink()
        with db.atomic("IMMEDIATE"):
            db.execute_sql("INSERT INTO t VALUES (zeroblob(200000))")
        assert db.execute_sql("SELECT count(*) FROM t").fetchone() == (1,)
        db.close()


def test_rollback_of_an_open_transaction_still_rolls_back(tmp_path: Path) -> None:
    db = open_database(tmp_path / "x.db")
    db.execute_sql("CREATE TABLE t (v INTEGER)")
    with pytest.raises(RuntimeError), db.atomic("IMMEDIATE"):
        db.execute_sql("INSERT INTO t VALUES (1)")
        raise RuntimeError("abort")
    assert db.execute_sql("SELECT count(*) FROM t").fetchone() == (0,)
    db.close()
