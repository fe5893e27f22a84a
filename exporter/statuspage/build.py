"""Builds a StatusSnapshot from the last cycle, the rollups and the incidents: pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from exporter.config import ServiceSpec
from exporter.cycle import Cycle, ServiceOutcome
from exporter.history.recorder import HOUR, day_of, from_row, hour_of
from exporter.history.rollup import Rollup
from exporter.statuspage.model import (
    DAYS_SHOWN,
    HOURS_SHOWN,
    DayBar,
    HostView,
    Incident,
    ServiceView,
    StatusSnapshot,
)
from hbmon.db import incidents as alerted
from hbmon.db.rollups import RollupRow
from hbmon.status import Status

WINDOW_DAYS = {"7d": 7, "30d": 30, "90d": 90}
INCIDENTS_SHOWN = 5
NOT_CHECKED = "not checked yet"


@dataclass(frozen=True)
class History:
    """What the database and the open hour hold for one snapshot."""

    now: float
    hours: Sequence[RollupRow] = ()  # closed hours of the last HOURS_SHOWN
    days: Sequence[tuple[str, str, int, int]] = ()  # (service, day, checks, failures)
    open_hour: Mapping[str, Rollup] = field(default_factory=dict)  # not yet written
    incidents: Mapping[str, Sequence[alerted.Incident]] = field(default_factory=dict)


@dataclass(frozen=True)
class PageSettings:
    title: str
    public: bool
    tz: ZoneInfo
    refresh_seconds: int = 30


def first_day(now: float, tz: ZoneInfo) -> str:
    """The oldest local day the page shows."""
    return (_today(now, tz) - timedelta(days=DAYS_SHOWN - 1)).isoformat()


def first_hour(now: float) -> int:
    return hour_of(now) - (HOURS_SHOWN - 1) * HOUR


def _today(now: float, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(now, tz).date()


class _Index:
    """The history regrouped per service, with the open hour added to today."""

    def __init__(self, history: History, tz: ZoneInfo) -> None:
        self.today = _today(history.now, tz)
        self.days: dict[str, dict[str, tuple[int, int]]] = {}
        for name, day, checks, failures in history.days:
            self.days.setdefault(name, {})[day] = (checks, failures)
        self.hours: dict[str, dict[int, RollupRow]] = {}
        for row in history.hours:
            self.hours.setdefault(row.service, {})[int(row.key)] = row
        today = day_of(history.now, tz)
        for name, r in history.open_hour.items():
            checks, failures = self.days.setdefault(name, {}).get(today, (0, 0))
            self.days[name][today] = (checks + r.checks, failures + r.failed)

    def day_bars(self, name: str) -> tuple[DayBar, ...]:
        counts = self.days.get(name, {})
        dates = (self.today - timedelta(days=n) for n in range(DAYS_SHOWN - 1, -1, -1))
        return tuple(DayBar(d, *counts.get(d, (0, 0))) for d in (x.isoformat() for x in dates))


def _fraction(checks: int, failures: int) -> float | None:
    return None if checks == 0 else (checks - failures) / checks


def _uptime(bars: tuple[DayBar, ...], hours: list[Rollup]) -> dict[str, float | None]:
    found = {"24h": _fraction(sum(r.checks for r in hours), sum(r.failed for r in hours))}
    for window, days in WINDOW_DAYS.items():
        chosen = bars[-days:]
        found[window] = _fraction(sum(b.checks for b in chosen), sum(b.failures for b in chosen))
    return found


def _hour_rollups(index: _Index, history: History, name: str) -> list[Rollup | None]:
    rows = index.hours.get(name, {})
    start = first_hour(history.now)
    slots: list[Rollup | None] = [
        from_row(rows[h]) if h in rows else None
        for h in range(start, start + HOURS_SHOWN * HOUR, HOUR)
    ]
    if name in history.open_hour:
        slots[-1] = history.open_hour[name]
    return slots


def _incidents(found: Sequence[alerted.Incident]) -> tuple[Incident, ...]:
    return tuple(Incident(i.started_at, i.ended_at, i.reason) for i in found[:INCIDENTS_SHOWN])


def _service(
    spec: ServiceSpec, outcome: ServiceOutcome | None, index: _Index, history: History
) -> ServiceView:
    status = Status.UNKNOWN if outcome is None else outcome.result.status
    reason = NOT_CHECKED if outcome is None else outcome.result.reason
    bars = index.day_bars(spec.name)
    hours = _hour_rollups(index, history, spec.name)
    return ServiceView(
        spec.name,
        spec.kind,
        status,
        reason,
        spec.display_target,
        _uptime(bars, [r for r in hours if r is not None]),
        bars,
        tuple(None if r is None else r.quantile(0.95) for r in hours),
        _incidents(history.incidents.get(spec.name, ())),
    )


def _host(cycle: Cycle) -> HostView:
    host = cycle.host
    disk = None if host.disk_ratio is None else host.disk_ratio * 100
    return HostView(host.cpu_ratio * 100, host.memory_ratio * 100, disk, cycle.container_count)


def build(
    services: Sequence[ServiceSpec], cycle: Cycle | None, history: History, page: PageSettings
) -> StatusSnapshot:
    """The snapshot, already stripped of internals when the page is public."""
    index = _Index(history, page.tz)
    outcomes = {} if cycle is None else {o.spec.name: o for o in cycle.services}
    offset = datetime.fromtimestamp(history.now, page.tz).utcoffset() or timedelta()
    snapshot = StatusSnapshot(
        title=page.title,
        generated_at=history.now,
        last_cycle_at=None if cycle is None else cycle.completed_at,
        services=tuple(_service(s, outcomes.get(s.name), index, history) for s in services),
        host=None if cycle is None else _host(cycle),
        refresh_seconds=page.refresh_seconds,
        utc_offset_minutes=int(offset.total_seconds() // 60),
    )
    return snapshot.for_public() if page.public else snapshot
