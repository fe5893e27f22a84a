"""The exporter's tables read through their typed API, as the alerter reads them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from hbmon.db import cycles
from hbmon.db.records import Check
from tests.alerter.dbutil import exporter_db, insert_cycle


@pytest.fixture
def db(tmp_path: Path) -> Iterator[peewee.SqliteDatabase]:
    database = exporter_db(tmp_path / "metrics.db")
    yield database
    database.close()


def test_cycles_after_reads_checks_as_tuples_in_name_order(db: peewee.SqliteDatabase) -> None:
    first = insert_cycle(db, {"web": "healthy", "api": ("error", 503, "HTTP 503")}, interval=2.0)
    second = insert_cycle(db, {"api": "healthy"})
    read = cycles.cycles_after(db, 0)
    assert [c.id for c in read] == [first, second]
    assert read[0].checks == (
        Check("api", "http", "error", 503, 12.5, "HTTP 503"),
        Check("web", "http", "healthy", None, 12.5, None),
    )
    assert read[0].interval == 2.0
    assert read[1].interval is None
    assert [c.id for c in cycles.cycles_after(db, first)] == [second]
    assert [c.id for c in cycles.cycles_after(db, 0, limit=1)] == [first]


def test_newest_count_and_replay_start(db: peewee.SqliteDatabase) -> None:
    assert not cycles.tables_exist(peewee.SqliteDatabase(":memory:"))
    assert cycles.tables_exist(db)
    assert cycles.newest_cycle(db) is None
    assert cycles.cycle_id_before_newest(db, 2) == 0
    ids = [insert_cycle(db, {"api": "healthy"}) for _ in range(5)]
    newest = cycles.newest_cycle(db)
    assert newest is not None and newest.id == ids[-1]
    assert cycles.count_cycles_after(db, ids[1]) == 3
    assert cycles.cycle_id_before_newest(db, 2) == ids[2]
