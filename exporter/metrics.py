"""Prometheus collector that builds every metric family from the last completed cycle."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from exporter.cycle import Cycle, ServiceOutcome
from exporter.probes import base
from hbmon.status import Status


@dataclass(frozen=True)
class Published:
    """What the collector exports: the last cycle plus process-lifetime counters."""

    cycle: Cycle | None = None
    cycles_total: int = 0
    skipped_ticks_total: int = 0


class CycleCollector(Collector):
    """Holds a reference to the latest cycle; a removed service vanishes by construction."""

    def __init__(self, version: str) -> None:
        self._version = version
        self._lock = threading.Lock()
        self._published = Published()

    def publish(self, cycle: Cycle) -> None:
        with self._lock:
            current = self._published
            self._published = Published(
                cycle=cycle,
                cycles_total=current.cycles_total + 1,
                skipped_ticks_total=current.skipped_ticks_total + cycle.skipped_ticks,
            )

    @property
    def last_cycle(self) -> Cycle | None:
        return self._published.cycle

    @property
    def version(self) -> int:
        """Changes with every published cycle (the cycle counter serves)."""
        return self._published.cycles_total

    def collect(self) -> Iterator[Metric]:
        published = self._published
        info = InfoMetricFamily("heartbeat_build", "heartbeat-monitor build information.")
        info.add_metric([], {"version": self._version})
        yield info
        yield CounterMetricFamily(
            "heartbeat_cycles", "Monitoring cycles completed.", value=published.cycles_total
        )
        yield CounterMetricFamily(
            "heartbeat_skipped_ticks",
            "Grid ticks skipped because a cycle overran.",
            value=published.skipped_ticks_total,
        )
        if published.cycle is not None:
            yield from _cycle_metrics(published.cycle)
            yield from _service_metrics(published.cycle.services)


def registry_for(collector: CycleCollector) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return registry


def _gauge(name: str, doc: str, value: float | None) -> Iterable[Metric]:
    if value is None:
        return []
    return [GaugeMetricFamily(name, doc, value=value)]


def _cycle_metrics(cycle: Cycle) -> Iterator[Metric]:
    host = cycle.host
    internet = cycle.internet
    yield from _gauge("heartbeat_internet_up", "1 if the internet check passed.", internet.healthy)
    yield from _gauge(
        "heartbeat_internet_latency_seconds", "Internet check latency.", internet.latency_s
    )
    yield from _gauge("heartbeat_host_cpu_usage_ratio", "Host CPU usage (0-1).", host.cpu_ratio)
    yield from _gauge(
        "heartbeat_host_memory_usage_ratio", "Host memory usage (0-1).", host.memory_ratio
    )
    yield from _gauge(
        "heartbeat_host_memory_used_bytes", "Host memory in use.", host.memory_used_bytes
    )
    yield from _gauge(
        "heartbeat_host_disk_usage_ratio", "Usage of DISK_PATH (0-1).", host.disk_ratio
    )
    yield from _gauge("heartbeat_host_uptime_seconds", "Host uptime.", host.uptime_seconds)
    yield from _gauge(
        "heartbeat_docker_containers_running",
        "Running containers (absent when the Docker engine is unreachable).",
        cycle.container_count,
    )
    yield from _gauge(
        "heartbeat_cycle_duration_seconds", "Duration of the last cycle.", cycle.duration_s
    )
    yield from _gauge(
        "heartbeat_last_cycle_timestamp_seconds",
        "Grid tick (UTC epoch) of the last completed cycle.",
        cycle.started_at,
    )


def _service_metrics(outcomes: tuple[ServiceOutcome, ...]) -> Iterator[Metric]:
    up = GaugeMetricFamily(
        "heartbeat_service_up", "1 if the service is healthy.", labels=["service", "kind"]
    )
    status = GaugeMetricFamily(
        "heartbeat_service_status", "Current status, one-hot.", labels=["service", "status"]
    )
    latency = GaugeMetricFamily(
        "heartbeat_service_latency_seconds", "Probe latency.", labels=["service"]
    )
    code = GaugeMetricFamily(
        "heartbeat_service_http_status_code", "Final HTTP status code.", labels=["service"]
    )
    phases = GaugeMetricFamily(
        "heartbeat_service_phase_seconds",
        "HTTP probe latency by phase.",
        labels=["service", "phase"],
    )
    family = GaugeMetricFamily(
        "heartbeat_service_ip_family",
        "IP version used by the probe's connection (4 or 6).",
        labels=["service"],
    )
    expiry = GaugeMetricFamily(
        "heartbeat_service_tls_cert_expiry_timestamp_seconds",
        "notAfter of the leaf certificate seen in the latest TLS handshake.",
        labels=["service"],
    )
    for outcome in outcomes:
        name, result = outcome.spec.name, outcome.result
        up.add_metric([name, outcome.spec.kind], float(result.healthy))
        for candidate in Status:
            status.add_metric([name, candidate.value], float(result.status is candidate))
        if result.latency_s is not None:
            latency.add_metric([name], result.latency_s)
        if result.status_code is not None:
            code.add_metric([name], result.status_code)
        for phase in base.PHASES:
            if phase in result.phases:
                phases.add_metric([name, phase], result.phases[phase])
        _add_facts(name, result, family, expiry)
    yield from (up, status, latency, code, phases, family, expiry)


def _add_facts(
    name: str,
    result: base.ProbeResult,
    family: GaugeMetricFamily,
    expiry: GaugeMetricFamily,
) -> None:
    ip_family = result.facts.get(base.FACT_IP_FAMILY)
    if ip_family in ("ipv4", "ipv6"):
        family.add_metric([name], 4.0 if ip_family == "ipv4" else 6.0)
    cert_expiry = result.facts.get(base.FACT_TLS_CERT_EXPIRY)
    if isinstance(cert_expiry, int | float) and not isinstance(cert_expiry, bool):
        expiry.add_metric([name], float(cert_expiry))
