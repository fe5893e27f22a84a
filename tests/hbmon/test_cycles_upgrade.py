"""Exporter databases of schema versions 1 and 2 are upgraded in place: their checks are set aside
at start, then moved into the compact storage in batches, reading the same all along."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import peewee
import pytest

from exporter.store import Store
from hbmon.db import cycles, upgrade_v3
from hbmon.db.checkwriter import CheckWriter
from hbmon.db.connection import open_database
from tests.exporter.test_store import http_outcome, make_cycle
from tests.hbmon import v2db

UTC = ZoneInfo("UTC")
_VIEW = f"SELECT {v2db.COLUMNS} FROM service_checks ORDER BY cycle_id, service_name, kind"


def old_database(path: Path, version: int, services: int = 10, cycles_: int = 120) -> list[tuple]:
    """A database of `version` with real-looking checks; returns its rows as the view must show."""
    conn = v2db.create(path)
    v2db.fill(conn, services, cycles_)
    if version == 1:
        conn.execute("ALTER TABLE service_checks DROP COLUMN depends_on")
        conn.execute("ALTER TABLE service_checks DROP COLUMN address_class")
        conn.execute("UPDATE schema_versions SET version = 1")
        expected = conn.execute(_VIEW.replace("depends_on, address_class", "NULL, NULL"))
    else:
        expected = conn.execute(_VIEW)
    rows = expected.fetchall()
    conn.close()
    return rows


def view(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as conn:
        return conn.execute(_VIEW).fetchall()


@pytest.mark.parametrize("version", [1, 2])
def test_checks_read_the_same_before_during_and_after_the_move(
    tmp_path: Path, version: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.db"
    expected = old_database(path, version)
    monkeypatch.setattr(upgrade_v3, "BATCH_ROWS", 100)
    db = open_database(path)
    cycles.migrate(db)
    assert upgrade_v3.pending(db)
    assert view(path) == expected
    before = cycles.cycles_after(db, 0, limit=500)
    writer, batches = CheckWriter(db), 0
    while upgrade_v3.pending(db):
        upgrade_v3.move_batch(db, writer)
        batches += 1
        if batches == 3:
            assert view(path) == expected  # half moved, half set aside
            assert cycles.cycles_after(db, 0, limit=500) == before
    assert batches == 1 + 1200 // 100  # and the one that finds nothing left
    assert view(path) == expected
    assert cycles.cycles_after(db, 0, limit=500) == before
    assert before[5].checks[0].tls_cert_expiry == 1.9e9
    assert {c.depends_on for c in before[5].checks} == (
        {None} if version == 1 else {None, "internet"}
    )
    db.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        version_now = conn.execute("SELECT version FROM schema_versions").fetchone()[0]
    assert version_now == cycles.SCHEMA_VERSION == 3


_MOVER = """
import sys
from hbmon.db import cycles, upgrade_v3
from hbmon.db.checkwriter import CheckWriter
from hbmon.db.connection import open_database
upgrade_v3.BATCH_ROWS = 100
db = open_database(sys.argv[1])
cycles.migrate(db)
writer, batches = CheckWriter(db), 0
while upgrade_v3.pending(db):
    upgrade_v3.move_batch(db, writer)
    batches += 1
    if batches == int(sys.argv[2]):
        print("moving", flush=True)  # and moves on, until killed
print("done", flush=True)
"""


def test_a_move_killed_at_random_points_resumes_and_loses_or_doubles_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.db"
    expected = old_database(path, 2, services=20, cycles_=300)
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for _ in range(4):
        batches = str(rng.randint(1, 3))
        with subprocess.Popen(
            [sys.executable, "-c", _MOVER, str(path), batches],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        ) as mover:
            assert mover.stdout is not None
            assert mover.stdout.readline() == "moving\n"
            time.sleep(rng.uniform(0, 0.02))  # inside a batch's transaction, or between two
            os.kill(mover.pid, signal.SIGKILL)
            mover.wait(timeout=30)
        assert view(path) == expected
    done = subprocess.run(
        [sys.executable, "-c", _MOVER, str(path), "0"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.stdout.endswith("done\n"), done.stderr
    assert view(path) == expected
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert upgrade_v3.PENDING not in tables


def test_the_exporter_moves_a_batch_after_each_cycle_and_reads_both_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.db"
    expected = old_database(path, 2, services=5, cycles_=40)
    monkeypatch.setattr(upgrade_v3, "BATCH_ROWS", 50)
    store = Store(path, UTC, interval=0.0)  # a budget of 0 s: one batch per cycle
    new_id = store.write(make_cycle(1_800_000_000.0, http_outcome()))
    assert upgrade_v3.pending(store.database)
    assert view(path)[: len(expected)] == expected
    newest = cycles.newest_cycle(store.database)
    assert newest is not None and newest.id == new_id
    assert [c.name for c in newest.checks] == ["api"]
    writes = 1
    while upgrade_v3.pending(store.database):
        store.write(make_cycle(1_800_000_000.0 + writes, http_outcome()))
        writes += 1
    assert writes == 200 // 50 + 1
    store.close()
    assert view(path)[: len(expected)] == expected
    assert len(view(path)) == len(expected) + writes


def test_retention_prunes_checks_still_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    old_database(path, 2, services=3, cycles_=30)
    store = Store(path, UTC)
    assert store.prune(1_700_000_000.0 + 10 * 20) == 20
    assert len(view(path)) == 3 * 10
    assert upgrade_v3.pending(store.database)
    store.close()


def test_an_empty_version_2_database_finishes_its_move_on_the_first_cycle(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    v2db.create(path).close()
    store = Store(path, UTC)
    store.write(make_cycle(1_800_000_000.0, http_outcome()))
    assert not upgrade_v3.pending(store.database)
    store.close()
    assert [r[1] for r in view(path)] == ["api"]


def test_a_refused_batch_changes_nothing_and_the_next_one_resumes(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    expected = old_database(path, 2, services=3, cycles_=5)
    db = open_database(path)
    cycles.migrate(db)
    writer = CheckWriter(db)
    db.execute_sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON checks BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    with pytest.raises(peewee.IntegrityError):
        upgrade_v3.move_batch(db, writer)
    assert view(path) == expected
    db.execute_sql("DROP TRIGGER refuse")
    upgrade_v3.move(db, writer, budget_s=60.0)
    assert not upgrade_v3.pending(db)
    db.close()
    assert view(path) == expected
