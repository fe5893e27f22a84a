"""/healthz: fresh while cycles complete, 503 once the last one is older than 3 intervals."""

from __future__ import annotations

import time
from pathlib import Path

from exporter.config import ExporterConfig
from exporter.runtime import Exporter
from exporter.store import Store
from tests.exporter.test_store import LIMA, make_cycle


def exporter(tmp_path: Path) -> Exporter:
    config = ExporterConfig.from_env({"LOOP_INTERVAL_SECONDS": "10"})
    return Exporter(config, Store(tmp_path / "m.db", LIMA))


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
