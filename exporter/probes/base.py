"""What every probe kind shares: its result type, its dependencies and its function shape."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from hbmon.status import Status

if TYPE_CHECKING:
    from exporter.config import ServiceSpec
    from exporter.dockerengine import DockerView
    from hbmon.net.client import HttpClient

FactValue = str | int | float | bool | None


class Fact(StrEnum):
    """Every key of ProbeResult.facts, declared once. A fact named like a column of the checks
    table is stored in that column; every other one goes into its `details` JSON."""

    IP_FAMILY = "ip_family"  # "ipv4" | "ipv6"
    CONNECTION_REUSED = "connection_reused"  # bool
    TLS_CERT_EXPIRY = "tls_cert_expiry"  # leaf notAfter, UTC epoch seconds
    REDIRECTS = "redirects"  # int: hops followed
    FINAL_URL = "final_url"  # the last hop's URL, without credentials or query string
    CONTAINER_STATE = "container_state"  # running, exited, paused, ...
    RESTART_COUNT = "restart_count"  # int
    EXIT_CODE = "exit_code"  # int, of a container that is not running
    ENGINE_ERROR = "engine_error"  # why the Docker engine could not be asked
    DEPENDS_ON = "depends_on"  # the parent item: "internet", "docker", a service name, or None
    ADDRESS_CLASS = "address_class"  # what a default parent was decided from: public, private, ...
    # Read and removed by the cycle layer (exporter/dependencies.py), which turns them into
    # ADDRESS_CLASS: never stored.
    PRIMARY_IP = "primary_ip"  # str: the address an HTTP probe connected to
    UNRESOLVED = "unresolved"  # True: the service's hostname did not resolve


PHASES = ("dns", "connect", "tls", "ttfb")  # keys of ProbeResult.phases, in seconds


@dataclass(frozen=True, slots=True)  # 10,000 per cycle, two cycles held at once
class ProbeResult:
    """Outcome of one probe. Expected failures are results; an exception is a bug."""

    status: Status
    latency_s: float | None = None
    reason: str | None = None
    status_code: int | None = None
    phases: Mapping[str, float] = field(default_factory=dict)
    facts: Mapping[str, FactValue] = field(default_factory=dict)

    @property
    def healthy(self) -> bool:
        return self.status is Status.HEALTHY


@dataclass(frozen=True)
class ProbeDeps:
    """Long-lived clients a probe may use; built once per process (docker view once per cycle)."""

    http: HttpClient
    docker: DockerView | None


class ProbeFn(Protocol):
    def __call__(self, spec: ServiceSpec, *, timeout: float, deps: ProbeDeps) -> ProbeResult: ...


class StartFn(Protocol):
    """A probe kind that runs on a shared engine instead of a thread: starts the probe and
    returns at once; `done` gets the result later, from the engine's thread. The budget
    starts when the engine takes the probe on; nothing runs past `not_after` (monotonic)."""

    def __call__(
        self,
        spec: ServiceSpec,
        *,
        timeout: float,
        deps: ProbeDeps,
        done: Callable[[ProbeResult], None],
        priority: bool = False,
        not_after: float | None = None,
    ) -> None: ...
