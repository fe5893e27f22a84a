"""One store health for both processes: parts failing and recovering, counts, the collector."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import peewee
from prometheus_client import CollectorRegistry, generate_latest

from hbmon.db.storehealth import StoreHealth
from hbmon.db.trouble import Trouble


def refused_write(path: Path, *, locked: bool) -> peewee.OperationalError:
    """A real refusal: a write under another connection's lock, or to a read-only open."""
    sqlite3.connect(path).execute("CREATE TABLE IF NOT EXISTS t (v)").connection.close()
    db = peewee.SqliteDatabase(str(path), timeout=0)
    holder = sqlite3.connect(path, isolation_level=None)
    if locked:
        holder.execute("BEGIN IMMEDIATE")
    else:
        db = peewee.SqliteDatabase(f"file:{path}?mode=ro", uri=True)
    try:
        db.execute_sql("INSERT INTO t VALUES (1)")
    except peewee.OperationalError as exc:
        return exc
    finally:
        holder.close()
        db.close()
    raise AssertionError("the write was not refused")


def scrape(health: StoreHealth) -> str:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(health)
    return generate_latest(registry).decode()


def test_a_part_is_failing_from_its_first_refusal_until_it_writes_again(tmp_path: Path) -> None:
    health = StoreHealth("exporter")
    locked = refused_write(tmp_path / "a.db", locked=True)
    first, again = health.failed("cycles", locked), health.failed("cycles", locked)
    assert (first.trouble, first.changed, again.changed) == (Trouble.LOCKED, True, False)
    assert first.error == "SQLITE_BUSY: database is locked"
    worst = health.worst()
    assert worst is not None and worst.trouble is Trouble.LOCKED
    read_only = health.failed("cycles", refused_write(tmp_path / "b.db", locked=False))
    assert (read_only.trouble, read_only.changed) == (Trouble.READ_ONLY, True)
    assert health.succeeded("cycles") is not None
    assert (health.worst(), health.succeeded("cycles")) == (None, None)


def test_the_oldest_failing_part_is_the_one_reported(tmp_path: Path) -> None:
    health = StoreHealth("alerter")
    health.failed("tail", refused_write(tmp_path / "a.db", locked=True))
    health.failed("heartbeat", refused_write(tmp_path / "b.db", locked=False))
    worst = health.worst()
    assert worst is not None and worst.trouble is Trouble.LOCKED
    health.succeeded("tail")
    worst = health.worst()
    assert worst is not None and worst.trouble is Trouble.READ_ONLY


def test_the_collector_labels_every_reason_with_its_process(tmp_path: Path) -> None:
    health = StoreHealth("alerter")
    health.count(refused_write(tmp_path / "a.db", locked=True))
    text = scrape(health)
    assert 'heartbeat_store_errors_total{process="alerter",reason="locked"} 1.0' in text
    assert 'heartbeat_store_errors_total{process="alerter",reason="disk_full"} 0.0' in text
    assert 'heartbeat_store_failing{process="alerter"} 0.0' in text  # counted, not failing
    health.failed("tail", refused_write(tmp_path / "a.db", locked=True))
    assert 'heartbeat_store_failing{process="alerter"} 1.0' in scrape(health)
