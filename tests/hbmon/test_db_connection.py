"""A failed COMMIT on a really full disk raises SQLite's own error, not a rollback error; a
-shm file that cannot be written is refused, not mapped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import peewee
import pytest

from hbmon.db.connection import open_database
from tests.mounts import fill, tmpfs, unsupported


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


def test_an_immutable_shm_file_is_refused_as_read_only_not_a_sigbus(tmp_path: Path) -> None:
    """SQLite writes to its mapping of `-shm`; once the file is immutable that write is a
    SIGBUS. A child process does the work, so a regression fails this test, not the run."""
    script = f"""
import subprocess, sys
from hbmon.db.connection import open_database
from hbmon.db.trouble import classify, describe
db = open_database({str(tmp_path / "x.db")!r})
db.execute_sql("CREATE TABLE t (v INTEGER)")
shm = {str(tmp_path / "x.db-shm")!r}
if subprocess.run(["chattr", "+i", shm], check=False).returncode:
    sys.exit(77)
refused = []
try:
    for statement in ("INSERT INTO t VALUES (1)", "SELECT count(*) FROM t"):
        try:
            db.execute_sql(statement)
        except Exception as exc:
            refused.append((classify(exc).value, describe(exc)))
    db.close()
finally:
    subprocess.run(["chattr", "-i", shm], check=False)
db.execute_sql("INSERT INTO t VALUES (2)")
print(refused, db.execute_sql("SELECT v FROM t").fetchall())
db.close()
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode == 77:
        unsupported("chattr +i is not supported here")
    assert done.returncode == 0, done.stderr
    refusal = ("read_only", f"EPERM: Operation not permitted ({tmp_path / 'x.db-shm'})")
    assert done.stdout.strip() == f"{[refusal, refusal]} [(2,)]"
