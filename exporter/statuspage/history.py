"""The closed part of every service's history, read from the rollups only when an hour closes.

A cycle changes only the open hour; closed hours change once an hour and closed days once a day,
so the status page reads the tables then, incrementally, and not on every cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import peewee

from exporter.history.recorder import HOUR, day_of, from_row, hour_of
from exporter.statuspage.model import DAYS_SHOWN, HOURS_SHOWN, DayBar
from hbmon.db import rollups

WINDOW_DAYS = {"7d": 7, "30d": 30, "90d": 90}
Counts = tuple[int, int]  # checks, failures
HourFacts = tuple[int, int, float | None]  # checks, failures, p95 latency (ms)


@dataclass(frozen=True)
class ClosedDays:
    """One service's days before today: the bars and each window's sums."""

    bars: tuple[DayBar, ...]  # DAYS_SHOWN - 1 days, oldest first
    windows: dict[str, Counts]  # window -> sums over its days before today


def first_hour(now: float) -> int:
    """The oldest hour of the 24-hour window (the open hour is its last)."""
    return hour_of(now) - (HOURS_SHOWN - 1) * HOUR


def _today(now: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(now, tz).date()


def _closed_days(counts: dict[str, Counts], today: date) -> ClosedDays:
    days = [(today - timedelta(days=n)).isoformat() for n in range(DAYS_SHOWN - 1, 0, -1)]
    bars = tuple(DayBar(d, *counts.get(d, (0, 0))) for d in days)
    windows = {
        window: (sum(b.checks for b in bars[1 - n :]), sum(b.failures for b in bars[1 - n :]))
        for window, n in WINDOW_DAYS.items()
    }
    return ClosedDays(bars, windows)


class RollupCache:
    """Closed hours (last 24 h) and closed days (last 90) of every service, kept up to date."""

    def __init__(self, tz: ZoneInfo) -> None:
        self._tz = tz
        self._key: tuple[int, int | None] | None = None
        self._days_key: tuple[date, str | None] | None = None
        self.hours: dict[int, dict[str, HourFacts]] = {}
        self.days: dict[str, ClosedDays] = {}
        self.empty_days = _closed_days({}, date.today())

    def refresh(self, db: peewee.SqliteDatabase, now: float) -> None:
        """Read what closed since the last call; nothing when no hour closed meanwhile."""
        last = rollups.last_hour(db)
        key = (hour_of(now), last)
        if key == self._key:
            return
        self._key = key
        self._load_hours(db, now)
        today = _today(now, self._tz)
        days_key = (today, None if last is None else day_of(last, self._tz))
        if days_key != self._days_key:  # a new day, or a closed day got its last hour
            self._days_key = days_key
            self._load_days(db, now, today)

    def _load_hours(self, db: peewee.SqliteDatabase, now: float) -> None:
        start = first_hour(now)
        self.hours = {h: facts for h, facts in self.hours.items() if h >= start}
        since = max(self.hours, default=start - HOUR) + HOUR
        for row in rollups.hours_since(db, since):
            failures = row.error + row.timeout + row.down + row.unknown
            p95 = from_row(row).quantile(0.95)
            self.hours.setdefault(int(row.key), {})[row.service] = (row.checks, failures, p95)

    def _load_days(self, db: peewee.SqliteDatabase, now: float, today: date) -> None:
        counts: dict[str, dict[str, Counts]] = {}
        oldest = (today - timedelta(days=DAYS_SHOWN - 1)).isoformat()
        for service, day, checks, failures in rollups.day_counts_since(db, oldest):
            if day < today.isoformat():
                counts.setdefault(service, {})[day] = (checks, failures)
        self.days = {name: _closed_days(found, today) for name, found in counts.items()}
        self.empty_days = _closed_days({}, today)

    def closed_days(self, name: str) -> ClosedDays:
        return self.days.get(name, self.empty_days)
