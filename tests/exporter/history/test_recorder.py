"""Rollups written as hours close, rebuilt from raw rows after a restart, kept past retention."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from structlog.testing import capture_logs

from exporter.history import recorder
from exporter.history.recorder import HOUR, Recorder, day_of, from_row, hour_of
from exporter.history.rollup import uptime
from exporter.store import Store
from hbmon.db import rollups
from hbmon.db.connection import sql
from hbmon.status import Status
from tests.exporter.test_store import http_outcome, make_cycle

LIMA = ZoneInfo("America/Lima")
T0 = 1_764_590_400  # an hour start: 2025-12-01 12:00 UTC


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "m.db", LIMA)
    yield opened
    opened.close()


def write(store: Store, started_at: float, *statuses: Status) -> None:
    store.write(make_cycle(started_at, *(http_outcome(f"s{i}", s) for i, s in enumerate(statuses))))


def hour_rows(store: Store) -> dict[tuple[str, int | str], tuple[int, int]]:
    found = rollups.hours_since(store.database, 0)
    return {(r.service, r.key): (r.checks, r.error) for r in found}


def test_an_hour_is_written_with_its_day_when_the_next_hour_opens(store: Store) -> None:
    write(store, T0 + 10, Status.HEALTHY, Status.ERROR)
    write(store, T0 + 20, Status.ERROR, Status.ERROR)
    assert hour_rows(store) == {}  # the hour is still open
    write(store, T0 + HOUR + 5, Status.HEALTHY, Status.HEALTHY)
    assert hour_rows(store) == {("s0", T0): (2, 1), ("s1", T0): (2, 2)}
    days = rollups.days_of(store.database, day_of(T0, LIMA))
    assert {n: (r.checks, r.error) for n, r in days.items()} == {"s0": (2, 1), "s1": (2, 2)}
    hour, open_rollups = store.history.open_hour()
    assert hour == T0 + HOUR
    assert {n: r.checks for n, r in open_rollups.items()} == {"s0": 1, "s1": 1}


def test_hours_of_one_day_add_up_in_its_day_row(store: Store) -> None:
    for offset in (10, HOUR + 10, 2 * HOUR + 10):
        write(store, T0 + offset, Status.HEALTHY, Status.DOWN)
    day = rollups.days_of(store.database, day_of(T0, LIMA))["s1"]
    assert (day.checks, day.down) == (2, 2)
    assert from_row(day).quantile(0.5) == pytest.approx(42.1)


def test_hours_without_cycles_leave_no_row_and_no_data_is_not_downtime(store: Store) -> None:
    write(store, T0 + 10, Status.HEALTHY)
    write(store, T0 + 5 * HOUR + 10, Status.DOWN)  # four silent hours in between
    write(store, T0 + 6 * HOUR + 10, Status.HEALTHY)
    assert sorted(hour_rows(store)) == [("s0", T0), ("s0", T0 + 5 * HOUR)]
    rows = rollups.hours_since(store.database, T0)
    assert uptime(from_row(r) for r in rows) == 0.5
    assert uptime(from_row(r) for r in rollups.hours_since(store.database, T0 + HOUR)) == 0.0
    assert uptime(from_row(r) for r in rollups.hours_since(store.database, T0 + 9 * HOUR)) is None


def test_restart_mid_hour_reopens_the_hour_from_raw_rows(store: Store) -> None:
    write(store, T0 + 10, Status.HEALTHY)
    write(store, T0 + 20, Status.DOWN)
    restarted = Recorder(store.database, LIMA)  # the first process died with the hour open
    assert restarted.recover(now=T0 + 1800) == 0
    assert {n: (r.checks, r.failed) for n, r in restarted.open_hour()[1].items()} == {"s0": (2, 1)}
    restarted.observe(T0 + 30, [("s0", Status.HEALTHY, 5.0)])
    restarted.observe(T0 + HOUR, [("s0", Status.HEALTHY, 5.0)])
    assert hour_rows(store) == {("s0", T0): (3, 0)}
    assert rollups.hours_since(store.database, T0)[0].down == 1


def test_a_crash_before_hours_closed_is_rebuilt_from_raw_rows(store: Store) -> None:
    for offset in (10, HOUR + 10, HOUR + 20, 3 * HOUR + 10):
        write(store, T0 + offset, Status.HEALTHY, Status.TIMEOUT)
    store.database.execute_sql("DELETE FROM service_hours")  # as if the hours never closed
    store.database.execute_sql("DELETE FROM service_days")
    restarted = Recorder(store.database, LIMA)
    assert restarted.recover(now=T0 + 4 * HOUR + 1) == 3  # T0+2h had no cycle
    assert hour_rows(store)[("s1", T0 + HOUR)] == (2, 0)
    hours = [r.key for r in rollups.hours_since(store.database, 0)]
    assert hours[::2] == [T0, T0 + HOUR, T0 + 3 * HOUR]
    day = rollups.days_of(store.database, day_of(T0, LIMA))["s1"]
    assert (day.checks, day.timeout) == (4, 4)


def test_uptime_over_a_window_that_crosses_raw_retention(tmp_path: Path) -> None:
    now = time.time()
    store = Store(tmp_path / "m.db", LIMA, history_days=30)
    old = hour_of(now) - 20 * 86400  # far past the 7 days of raw cycles
    write(store, old + 10, Status.DOWN)
    write(store, old + 20, Status.HEALTHY)
    write(store, hour_of(now) - 2 * HOUR, Status.HEALTHY)
    write(store, hour_of(now) - HOUR, Status.HEALTHY)  # closes the hour before
    assert store.prune(now - 7 * 86400) == 2  # the raw cycles of 20 days ago
    month = rollups.days_since(store.database, day_of(now - 30 * 86400, LIMA))
    assert uptime(from_row(r) for r in month) == pytest.approx(2 / 3)
    week = rollups.days_since(store.database, day_of(now - 7 * 86400, LIMA))
    assert uptime(from_row(r) for r in week) == 1.0
    store.close()
    store = Store(tmp_path / "m.db", LIMA, history_days=10)
    store.prune(now - 7 * 86400)
    assert uptime(from_row(r) for r in rollups.days_since(store.database, "2000-01-01")) == 1.0
    store.close()


def test_first_start_over_an_old_database_aggregates_at_most_a_week(store: Store) -> None:
    now = time.time()
    write(store, now - 10 * 86400, Status.HEALTHY)
    write(store, now - 2 * HOUR, Status.HEALTHY)
    store.database.execute_sql("DELETE FROM service_hours")  # raw rows only, as before rollups
    assert Recorder(store.database, LIMA).recover(now) == 1
    assert list(hour_rows(store)) == [("s0", hour_of(now - 2 * HOUR))]


def test_a_cycle_from_an_earlier_hour_joins_the_open_hour(store: Store) -> None:
    recorder = Recorder(store.database, LIMA)
    recorder.observe(T0 + HOUR + 5, [("s0", Status.HEALTHY, 1.0)])
    recorder.observe(T0 + 10, [("s0", Status.DOWN, 1.0)])  # the wall clock went back
    assert hour_rows(store) == {}
    recorder.observe(T0 + 2 * HOUR, [("s0", Status.HEALTHY, 1.0)])
    assert hour_rows(store) == {("s0", T0 + HOUR): (2, 0)}


def test_a_refused_hour_is_logged_once_kept_and_retried_after_a_backoff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder, "RETRY_BASE_S", 0.5)
    store = Store(tmp_path / "m.db", LIMA)
    sql(store.database, "PRAGMA busy_timeout = 20")
    holder = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    sample = [("s0", Status.HEALTHY, 10.0)]
    with capture_logs() as logs:
        store.history.observe(T0 + 10, sample)
        for offset in (HOUR + 10, HOUR + 20, HOUR + 30):  # the first closes hour T0: refused
            store.history.observe(T0 + offset, sample)
        holder.execute("ROLLBACK")
        store.history.observe(T0 + HOUR + 40, sample)
        assert hour_rows(store) == {}  # the retry is not due yet
        time.sleep(0.6)
        store.history.observe(T0 + HOUR + 50, sample)
    assert hour_rows(store) == {("s0", T0): (1, 0)}
    failed = [line for line in logs if line["event"] == "history.write_failed"]
    assert [(line["reason"], line["error"]) for line in failed] == [
        ("locked", "SQLITE_BUSY: database is locked")
    ]
    store.close()
