"""Keeps the open hour's rollups in memory and writes each hour, and its day, as the hour closes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import datetime
from zoneinfo import ZoneInfo

import peewee

from exporter.history.rollup import Rollup, decode_buckets, encode_buckets
from hbmon.db import cycles, rollups
from hbmon.db.retry import Backoff
from hbmon.db.rollups import RollupRow
from hbmon.db.trouble import TroubleLog, classify, describe
from hbmon.logs import get_logger
from hbmon.status import Status

log = get_logger("exporter.history")
HOUR = 3600
# On the first start over an older database (raw cycles, no rollups yet), the raw rows of at
# most this many hours are aggregated before the first cycle: startup stays bounded.
MAX_REBUILD_HOURS = 7 * 24
# A closed hour the database refused is retried after 10 s, doubling up to 5 minutes: it stays
# in memory (and on the status page) meanwhile.
RETRY_BASE_S, RETRY_CAP_S = 10.0, 300.0
Sample = tuple[str, Status, float | None]  # service, status, latency in ms
_FAILURE_COLUMNS = (Status.ERROR, Status.TIMEOUT, Status.DOWN, Status.UNKNOWN)


def hour_of(ts: float) -> int:
    return int(ts // HOUR) * HOUR


def day_of(ts: float, tz: ZoneInfo) -> str:
    """The local date an hour belongs to: the date of its start in `tz`."""
    return datetime.fromtimestamp(ts, tz).date().isoformat()


def to_row(service: str, key: int | str, r: Rollup) -> RollupRow:
    failed = r.failures.get
    return RollupRow(
        service,
        key,
        r.checks,
        failed(Status.ERROR, 0),
        failed(Status.TIMEOUT, 0),
        failed(Status.DOWN, 0),
        failed(Status.UNKNOWN, 0),
        r.latency_count,
        r.latency_sum_ms,
        r.latency_min_ms,
        r.latency_max_ms,
        encode_buckets(r.buckets),
    )


def from_row(row: RollupRow) -> Rollup:
    failures = zip(_FAILURE_COLUMNS, (row.error, row.timeout, row.down, row.unknown), strict=True)
    return Rollup(
        checks=row.checks,
        failures={status: count for status, count in failures if count},
        latency_count=row.latency_count,
        latency_sum_ms=row.latency_sum_ms,
        latency_min_ms=row.latency_min_ms,
        latency_max_ms=row.latency_max_ms,
        buckets=decode_buckets(row.buckets),
    )


def _copy(r: Rollup) -> Rollup:
    copy = Rollup()
    copy.merge(r)
    return copy


class Recorder:
    """Adds each stored cycle to the open hour; a closed hour is written with its day's total."""

    def __init__(self, db: peewee.SqliteDatabase, tz: ZoneInfo) -> None:
        self._db = db
        self._tz = tz
        self._lock = threading.Lock()  # the status page reads the open hour from another thread
        self._hour: int | None = None
        self._open: dict[str, Rollup] = {}
        self._closed: list[tuple[int, dict[str, Rollup]]] = []  # waiting for the database
        self._retry = Backoff(RETRY_BASE_S, RETRY_CAP_S)
        self._trouble = TroubleLog()

    def recover(self, now: float) -> int:
        """Rebuild from raw rows each hour closed since the last one written (a crash or a stop
        loses the open hour) and reopen the current hour; returns the hours rebuilt."""
        current = hour_of(now)
        last = rollups.last_hour(self._db)
        oldest = cycles.oldest_cycle_start(self._db)
        start = last + HOUR if last is not None else hour_of(oldest or now)
        start = max(start, current - MAX_REBUILD_HOURS * HOUR)
        rebuilt = 0
        for hour in range(start, current, HOUR):
            found = self._from_raw(hour)
            if found:
                with self._db.atomic("IMMEDIATE"):
                    self._write(hour, found)
                rebuilt += 1
        reopened = self._from_raw(current)
        with self._lock:  # no check yet this hour: the first cycle observed opens its hour
            self._hour, self._open = (current if reopened else None), reopened
        return rebuilt

    def _from_raw(self, hour: int) -> dict[str, Rollup]:
        found: dict[str, Rollup] = {}
        for _, name, status, latency in cycles.check_samples(self._db, hour, hour + HOUR):
            found.setdefault(name, Rollup()).add(Status(status), latency)
        return found

    def observe(self, started_at: float, samples: Iterable[Sample]) -> None:
        """Add a stored cycle's checks; the first cycle of a new hour writes the hour before."""
        hour = hour_of(started_at)
        with self._lock:
            # A cycle from an earlier hour (the wall clock went back) joins the open hour:
            # closing a written hour twice would count it twice in its day.
            if self._hour is None or hour > self._hour:
                if self._hour is not None and self._open:
                    self._closed.append((self._hour, self._open))
                self._hour, self._open = hour, {}
            hour_rollups = self._open
            for name, status, latency in samples:
                found = hour_rollups.get(name)
                if found is None:
                    found = hour_rollups[name] = Rollup()
                found.add(status, latency)
        if self._closed and self._retry.due(time.monotonic()):
            self._flush()

    def _flush(self) -> None:
        while self._closed:
            hour, hour_rollups = self._closed[0]
            try:
                with self._db.atomic("IMMEDIATE"):
                    self._write(hour, hour_rollups)
            except peewee.DatabaseError as exc:  # kept in memory; retried after a backoff
                self._failed(hour, exc)
                return
            self._closed.pop(0)
            log.info("history.hour_closed", hour=hour, services=len(hour_rollups))
        self._retry.succeeded()
        self._trouble.observe(None)

    def _failed(self, hour: int, exc: peewee.DatabaseError) -> None:
        retry_in = self._retry.failed(time.monotonic())
        trouble = classify(exc)
        if self._trouble.observe(trouble):
            log.error(
                "history.write_failed",
                hour=hour,
                reason=trouble.value,
                error=describe(exc),
                retry_in_s=retry_in,
            )

    def _write(self, hour: int, hour_rollups: dict[str, Rollup]) -> None:
        day = day_of(hour, self._tz)
        days = {name: from_row(row) for name, row in rollups.days_of(self._db, day).items()}
        for name, r in hour_rollups.items():
            days.setdefault(name, Rollup()).merge(r)
        rollups.write_hours(self._db, (to_row(n, hour, r) for n, r in hour_rollups.items()))
        rollups.write_days(self._db, (to_row(n, day, days[n]) for n in hour_rollups))

    def open_hour(self) -> tuple[int | None, dict[str, Rollup]]:
        """The open hour's start and a copy of its rollups (and of any hour not yet written)."""
        with self._lock:
            copies = {name: _copy(r) for name, r in self._open.items()}
            pending = [r for _, closed in self._closed for r in closed.items()]
            hour = self._hour
        for name, r in pending:
            copies.setdefault(name, Rollup()).merge(r)
        return hour, copies
