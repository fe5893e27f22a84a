"""/healthz: fresh while cycles complete, 503 once the last one is older than 3 intervals."""

from __future__ import annotations

import time
from pathlib import Path

from exporter.app import ExporterApp
from exporter.config import ExporterConfig
from exporter.loop import GridLoop
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
    assert detail.startswith("ok: last cycle")


def test_cycle_older_than_three_intervals_is_stale(tmp_path: Path) -> None:
    process = exporter(tmp_path)
    process.collector.publish(make_cycle(time.time() - 31))
    healthy, detail = process.health()
    assert not healthy
    assert detail.startswith("stale: last cycle 3")


def test_just_started_without_a_cycle_is_healthy(tmp_path: Path) -> None:
    healthy, detail = exporter(tmp_path).health()
    assert healthy
    assert "no cycle yet" in detail
