"""Builds a StatusSnapshot from the last cycle, the cached rollups, the open hour, the incidents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from exporter.config import ServiceSpec
from exporter.cycle import Cycle, ServiceOutcome
from exporter.history.recorder import HOUR, day_of
from exporter.history.rollup import Rollup
from exporter.statuspage.history import HourFacts, RollupCache, first_hour
from exporter.statuspage.model import (
    HOURS_SHOWN,
    DayBar,
    HostView,
    Incident,
    ServiceView,
    StatusSnapshot,
)
from hbmon.db import incidents as alerted
from hbmon.status import Status

INCIDENTS_SHOWN = 5
NOT_CHECKED = "not checked yet"


@dataclass(frozen=True)
class History:
    """The closed history (cached), the open hour and the incidents for one snapshot."""

    now: float
    closed: RollupCache
    open_start: int | None = None  # the open hour of the recorder
    open_hour: Mapping[str, Rollup] = field(default_factory=dict)
    incidents: Mapping[str, Sequence[alerted.Incident]] = field(default_factory=dict)


@dataclass(frozen=True)
class PageSettings:
    title: str
    public: bool
    tz: ZoneInfo
    refresh_seconds: int = 30


def _fraction(counts: tuple[int, int]) -> float | None:
    checks, failures = counts
    return None if checks == 0 else (checks - failures) / checks


class _Slots:
    """The 24 hours of the window, and which of them belong to today."""

    def __init__(self, history: History, tz: ZoneInfo) -> None:
        start = first_hour(history.now)
        self.hours = range(start, start + HOURS_SHOWN * HOUR, HOUR)
        self.today = day_of(history.now, tz)
        self.of_today = [day_of(h, tz) == self.today for h in self.hours]
        self.facts = [history.closed.hours.get(h, {}) for h in self.hours]
        opened = history.open_start
        self.open_at = None if opened not in self.hours else self.hours.index(opened or 0)

    def of(self, name: str, history: History) -> list[HourFacts | None]:
        found = [facts.get(name) for facts in self.facts]
        r = history.open_hour.get(name)
        if r is not None and self.open_at is not None:
            found[self.open_at] = (r.checks, r.failed, r.quantile(0.95))
        return found


def _service(
    spec: ServiceSpec, outcome: ServiceOutcome | None, slots: _Slots, history: History
) -> ServiceView:
    hours = slots.of(spec.name, history)
    known = [h for h in hours if h is not None]
    today = [h for h, mine in zip(hours, slots.of_today, strict=True) if h is not None and mine]
    today_counts = (sum(h[0] for h in today), sum(h[1] for h in today))
    closed = history.closed.closed_days(spec.name)
    uptime = {"24h": _fraction((sum(h[0] for h in known), sum(h[1] for h in known)))}
    for window, (checks, failures) in closed.windows.items():
        uptime[window] = _fraction((checks + today_counts[0], failures + today_counts[1]))
    return ServiceView(
        spec.name,
        spec.kind,
        Status.UNKNOWN if outcome is None else outcome.result.status,
        NOT_CHECKED if outcome is None else outcome.result.reason,
        spec.display_target,
        uptime,
        (*closed.bars, DayBar(slots.today, *today_counts)),
        tuple(None if h is None else h[2] for h in hours),
        _incidents(history.incidents.get(spec.name, ())),
    )


def _incidents(found: Sequence[alerted.Incident]) -> tuple[Incident, ...]:
    return tuple(Incident(i.started_at, i.ended_at, i.reason) for i in found[:INCIDENTS_SHOWN])


def _host(cycle: Cycle) -> HostView:
    host = cycle.host
    disk = None if host.disk_ratio is None else host.disk_ratio * 100
    return HostView(host.cpu_ratio * 100, host.memory_ratio * 100, disk, cycle.container_count)


def build(
    services: Sequence[ServiceSpec], cycle: Cycle | None, history: History, page: PageSettings
) -> StatusSnapshot:
    """The snapshot, already stripped of internals when the page is public."""
    slots = _Slots(history, page.tz)
    outcomes = {} if cycle is None else {o.spec.name: o for o in cycle.services}
    offset = datetime.fromtimestamp(history.now, page.tz).utcoffset() or timedelta()
    snapshot = StatusSnapshot(
        title=page.title,
        generated_at=history.now,
        last_cycle_at=None if cycle is None else cycle.completed_at,
        services=tuple(_service(s, outcomes.get(s.name), slots, history) for s in services),
        host=None if cycle is None else _host(cycle),
        refresh_seconds=page.refresh_seconds,
        utc_offset_minutes=int(offset.total_seconds() // 60),
    )
    return snapshot.for_public() if page.public else snapshot
