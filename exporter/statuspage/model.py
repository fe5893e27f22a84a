"""What the status page shows, as plain immutable data: built from the database, rendered pure."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from hbmon.status import FAILURE_STATUSES, Status

UPTIME_WINDOWS: tuple[str, ...] = ("24h", "7d", "30d", "90d")
DAYS_SHOWN = 90
HOURS_SHOWN = 24


class Overall(StrEnum):
    """The banner: the same three words Uptime Kuma's status pages use."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded"  # some, not all, services failing now
    OUTAGE = "outage"  # every service failing now


@dataclass(frozen=True)
class DayBar:
    """One day of the 90-day bar; `checks == 0` means no data for that day."""

    day: str  # ISO date, local to the page's time zone
    checks: int
    failures: int

    @property
    def uptime(self) -> float | None:
        return None if self.checks == 0 else (self.checks - self.failures) / self.checks


@dataclass(frozen=True)
class Incident:
    """An alerted outage from the alerter's tables; `ended_at` is None while it lasts."""

    started_at: float
    ended_at: float | None
    reason: str | None


@dataclass(frozen=True)
class ServiceView:
    name: str
    kind: str  # http | docker
    status: Status
    reason: str | None
    target: str | None  # the configured URL or container, never with credentials
    uptime: dict[str, float | None]  # window (UPTIME_WINDOWS) -> fraction, None = no data
    days: tuple[DayBar, ...] = ()  # oldest first, DAYS_SHOWN long when complete
    latency_p95_ms: tuple[float | None, ...] = ()  # per hour, oldest first, HOURS_SHOWN long
    incidents: tuple[Incident, ...] = ()  # newest first

    @property
    def failing(self) -> bool:
        return self.status in FAILURE_STATUSES


@dataclass(frozen=True)
class HostView:
    cpu_percent: float | None
    ram_percent: float | None
    disk_percent: float | None
    container_count: int | None


@dataclass(frozen=True)
class StatusSnapshot:
    title: str
    generated_at: float  # UTC epoch seconds
    last_cycle_at: float | None
    services: tuple[ServiceView, ...]
    host: HostView | None
    refresh_seconds: int = 30
    public: bool = False
    utc_offset_minutes: int = 0  # how the page shows times: the exporter's TZ

    @property
    def overall(self) -> Overall:
        failing = sum(1 for s in self.services if s.failing)
        if failing == 0:
            return Overall.OPERATIONAL
        return Overall.OUTAGE if failing == len(self.services) else Overall.DEGRADED

    def for_public(self) -> StatusSnapshot:
        """What may be shown to users: no URLs, reasons, host metrics or other internals."""
        services = tuple(
            replace(
                s,
                reason=None,
                target=None,
                incidents=tuple(replace(i, reason=None) for i in s.incidents),
            )
            for s in self.services
        )
        return replace(self, services=services, host=None, public=True)
