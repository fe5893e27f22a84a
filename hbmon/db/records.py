"""What the exporter's tables say, as plain immutable records (the typed read API's results)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class Check(NamedTuple):
    """One service check of a cycle; a tuple, so a cycle of 10,000 checks reads cheaply."""

    name: str
    kind: str
    status: str
    status_code: int | None
    latency_ms: float | None
    error_message: str | None
    tls_cert_expiry: float | None = None  # the leaf certificate's notAfter, UTC epoch seconds
    depends_on: str | None = None  # "internet", "docker", another service's name, or None


@dataclass(frozen=True)
class Cycle:
    id: int
    started_at: float
    completed_at: float
    internet_status: str
    checks: tuple[Check, ...]
    interval: float | None = None  # the exporter's interval, recorded with the cycle
    container_count: int | None = None  # None when the Docker engine could not be asked


def interval_of(cycle: Cycle | None, configured: float) -> float:
    """The exporter's own interval as recorded with its newest cycle; else the configured one."""
    return cycle.interval if cycle is not None and cycle.interval else configured
