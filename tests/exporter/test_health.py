"""/healthz: fresh while cycles complete, 503 once the last one is older than 3 intervals."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from exporter.app import ExporterApp
from exporter.config import ExporterConfig
from exporter.loop import GridLoop
from hbmon.db.connection import sql
from tests.exporter.test_store import make_cycle


def exporter(tmp_path: Path) -> GridLoop:
    """Built as the process builds it: the app over a database file of its own."""
    env = {"LOOP_INTERVAL_SECONDS": "10", "SQLITE_DB_PATH": str(tmp_path / "m.db")}
    return ExporterApp(ExporterConfig.from_env(env)).loop


def test_fresh_cycle_is_healthy(tmp_path: Path) -> None:
    process = exporter(tmp_path)
    process.collector.publish(make_cycle(time.time() - 1))
    healthy, detail = process.health()
    assert healthy
    assert detail["status"] == "ok"
    assert str(detail["detail"]).startswith("last cycle")


def test_cycle_older_than_three_intervals_is_stale(tmp_path: Path) -> None:
    process = exporter(tmp_path)
    process.collector.publish(make_cycle(time.time() - 31))
    healthy, detail = process.health()
    assert not healthy
    assert detail["status"] == "stale"
    assert str(detail["detail"]).startswith("last cycle 3")


def test_just_started_without_a_cycle_is_healthy(tmp_path: Path) -> None:
    healthy, detail = exporter(tmp_path).health()
    assert healthy
    assert "no cycle yet" in str(detail["detail"])


def test_an_unstored_cycle_is_store_failing_with_the_reason_until_one_is_stored(
    tmp_path: Path,
) -> None:
    env = {"LOOP_INTERVAL_SECONDS": "1", "SQLITE_DB_PATH": str(tmp_path / "m.db")}
    process = ExporterApp(ExporterConfig.from_env(env)).loop
    sql(process.store.database, "PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    process.record(make_cycle(time.time()))
    healthy, detail = process.health()
    assert not healthy
    assert detail["status"] == "store_failing"
    assert (detail["store_error"], detail["error"]) == ("locked", "SQLITE_BUSY: database is locked")
    assert detail["backlog_cycles"] == 1
    metrics = process.exposition.scrape().decode()
    assert 'heartbeat_store_errors_total{process="exporter",reason="locked"} 1.0' in metrics
    assert 'heartbeat_store_failing{process="exporter"} 1.0' in metrics
    holder.execute("ROLLBACK")
    time.sleep(1.1)  # the retry is due one interval after the failure
    process.record(make_cycle(time.time()))
    healthy, detail = process.health()
    assert (healthy, detail["status"], detail["backlog_cycles"]) == (True, "ok", 0)
    assert 'heartbeat_store_failing{process="exporter"} 0.0' in process.exposition.scrape().decode()
