"""The alerter's /healthz verdict: starting, healthy, stale, or a part that cannot write."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from alerter.metrics import health
from alerter.stats import Stats


def verdict(stats: Stats) -> tuple[bool, dict[str, object]]:
    ok, body = health(stats)
    return ok, json.loads(body)


def test_not_healthy_before_the_tail_loops_first_pass() -> None:
    """Until the first pass the cursor is not set: a cycle written by someone who trusted a 200
    then would fall before the first start's replay point and never be alerted."""
    assert verdict(Stats()) == (
        False,
        {"ok": False, "loop_age_seconds": None, "lag_cycles": 0, "reason": "starting"},
    )


def test_healthy_once_the_tail_loop_has_passed() -> None:
    stats = Stats()
    stats.loop_pass(3)
    ok, body = verdict(stats)
    assert ok
    assert body["lag_cycles"] == 3
    assert "reason" not in body


def test_a_part_that_cannot_write_before_the_first_pass_is_named_not_starting(
    tmp_path: Path,
) -> None:
    stats = Stats()
    with sqlite3.connect(tmp_path / "x.db", isolation_level=None) as holder:
        holder.execute("BEGIN IMMEDIATE")
        other = sqlite3.connect(tmp_path / "x.db", timeout=0, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError) as refused:
            other.execute("BEGIN IMMEDIATE")
        other.close()
        holder.execute("ROLLBACK")
    stats.store.failed("tail", refused.value)
    ok, body = verdict(stats)
    assert not ok
    assert body["reason"] == "store_failing: locked"
