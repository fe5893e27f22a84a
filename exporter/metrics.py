"""The /metrics families of the last completed cycle: a collector, and per-service text."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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
    """Holds a reference to the latest cycle; a removed service vanishes by construction.

    `collect` yields the process and cycle families; the per-service ones (15 samples a
    service) are written as text by `service_chunks`, which `Exposition` appends.
    """

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
    def published(self) -> Published:
        return self._published

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


Samples = Iterable[tuple[tuple[str, ...], float]]


def _up(outcome: ServiceOutcome) -> Samples:
    yield (outcome.spec.kind,), float(outcome.result.healthy)


# The one-hot samples of each status, built once: six lines a service, every render.
_ONE_HOT = {
    status: tuple(((candidate.value,), float(status is candidate)) for candidate in Status)
    for status in Status
}


def _status(outcome: ServiceOutcome) -> Samples:
    return _ONE_HOT[outcome.result.status]


def _latency(outcome: ServiceOutcome) -> Samples:
    if outcome.result.latency_s is not None:
        yield (), outcome.result.latency_s


def _status_code(outcome: ServiceOutcome) -> Samples:
    if outcome.result.status_code is not None:
        yield (), float(outcome.result.status_code)


def _phases(outcome: ServiceOutcome) -> Samples:
    for phase in base.PHASES:
        if phase in outcome.result.phases:
            yield (phase,), outcome.result.phases[phase]


def _ip_family(outcome: ServiceOutcome) -> Samples:
    family = outcome.result.facts.get(base.Fact.IP_FAMILY)
    if family in ("ipv4", "ipv6"):
        yield (), 4.0 if family == "ipv4" else 6.0


def _cert_expiry(outcome: ServiceOutcome) -> Samples:
    expiry = outcome.result.facts.get(base.Fact.TLS_CERT_EXPIRY)
    if isinstance(expiry, int | float) and not isinstance(expiry, bool):
        yield (), float(expiry)


# name, help, labels after `service`, samples of one service
_SERVICE_FAMILIES: tuple[
    tuple[str, str, tuple[str, ...], Callable[[ServiceOutcome], Samples]], ...
] = (
    ("heartbeat_service_up", "1 if the service is healthy.", ("kind",), _up),
    ("heartbeat_service_status", "Current status, one-hot.", ("status",), _status),
    ("heartbeat_service_latency_seconds", "Probe latency.", (), _latency),
    ("heartbeat_service_http_status_code", "Final HTTP status code.", (), _status_code),
    ("heartbeat_service_phase_seconds", "HTTP probe latency by phase.", ("phase",), _phases),
    (
        "heartbeat_service_ip_family",
        "IP version used by the probe's connection (4 or 6).",
        (),
        _ip_family,
    ),
    (
        "heartbeat_service_tls_cert_expiry_timestamp_seconds",
        "notAfter of the leaf certificate seen in the latest TLS handshake.",
        (),
        _cert_expiry,
    ),
)


_go_float: Callable[[float], str] = (
    floatToGoString  # 1.0, 1.9e+09, +Inf: what generate_latest writes
)


def service_chunks(outcomes: Sequence[ServiceOutcome]) -> Iterator[bytes]:
    """The per-service families in the text format, exactly as prometheus_client writes them
    (labels sorted by name), but without a Sample and a label dict per line: at N = 10,000
    that was ~1.2 s of CPU and ~40 MB for each render of 150,000 lines. One chunk per family,
    made when asked for: each copy of 10,000 services' text held at once is ~10 MB of RSS.

    Service names are escaped; the other label values (kinds, statuses, phases) are
    identifiers, with nothing to escape.
    """
    services = [(_escape(outcome.spec.name), outcome) for outcome in outcomes]
    for name, doc, labels, samples in _SERVICE_FAMILIES:
        line = _line_template(name, labels).format
        lines = [f"# HELP {name} {_escape_doc(doc)}\n# TYPE {name} gauge\n"]
        lines.extend(
            line(service, *values, _float_text(value))
            for service, outcome in services
            for values, value in samples(outcome)
        )
        yield "".join(lines).encode()


def _line_template(name: str, labels: tuple[str, ...]) -> str:
    """`name{a="{0}",b="{1}"} {2}` with the labels sorted by name, service first in fields."""
    fields = sorted([("service", 0), *((label, i + 1) for i, label in enumerate(labels))])
    pairs = ",".join(f'{label}="{{{index}}}"' for label, index in fields)
    return f"{name}{{{{{pairs}}}}} {{{len(labels) + 1}}}\n"


def _float_text(value: float) -> str:
    """floatToGoString's answer; Python's repr is that answer below a million (bar -Inf)."""
    if type(value) is float and -1e308 < value < 1e6:
        return repr(value)
    return _go_float(value)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _escape_doc(doc: str) -> str:
    return doc.replace("\\", r"\\").replace("\n", r"\n")
