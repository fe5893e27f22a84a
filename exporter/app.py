"""Wiring of one running exporter: probing clients, cycle runner, store, grid loop and HTTP."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from exporter.config import ExporterConfig, ServiceSpec
from exporter.cycle import Cycle, CyclePlan, CycleRunner, internet_check
from exporter.dockerengine import DockerEngine
from exporter.host import HostSampler
from exporter.loop import GridLoop
from exporter.probes.base import ProbeDeps
from exporter.probes.registry import PROBES, STARTERS
from exporter.statuspage.serve import status_routes
from exporter.store import Store
from hbmon.httpserver import serve
from hbmon.net.client import HttpClient
from hbmon.net.policy import NetPolicy

MIN_TRANSFERS = 256  # HTTP checks in flight at once on the engine (PROBE_MAX_WORKERS if more)


@dataclass
class Probing:
    """The long-lived clients and the cycle runner: everything needed to run a cycle."""

    http: HttpClient
    docker: DockerEngine
    host: HostSampler
    runner: CycleRunner

    def run_cycle(self, tick: float, skipped: int, stop: threading.Event) -> Cycle:
        deps = ProbeDeps(http=self.http, docker=self.docker.view())
        return self.runner.run(
            tick=tick, skipped_ticks=skipped, host=self.host.sample, deps=deps, stop=stop
        )


@contextmanager
def probing(config: ExporterConfig) -> Iterator[Probing]:
    internet = internet_check(config.ping_url)
    net = _override_services_only(config.net, (*config.services, internet))
    plan = CyclePlan(
        services=config.services,
        internet=internet,
        probes=PROBES,
        service_timeout=config.service_timeout,
        deadline_s=config.cycle_deadline(),
        starters=STARTERS,
        dns_override=net.dns_override,
    )
    http = _http_client(config, net, (*plan.services, plan.internet))
    docker = DockerEngine(config.docker_host, timeout=config.service_timeout)
    runner = CycleRunner(plan, config.max_workers)
    # The configuration and everything wired here live as long as the process: moved out of
    # the collector's generations, no garbage collection rescans them (10,000 services make
    # each full collection of a cycle's garbage several times dearer otherwise).
    gc.freeze()
    try:
        yield Probing(http, docker, HostSampler(config.disk_path), runner)
    finally:
        runner.close()
        http.close()
        docker.close()


def _http_client(
    config: ExporterConfig, net: NetPolicy, checks: tuple[ServiceSpec, ...]
) -> HttpClient:
    """The engine for every HTTP check: one idle connection kept per origin (and per transfer
    slot, as many may open to one origin), so keep-alive spans cycles."""
    origins = {_origin(spec.target) for spec in checks if spec.kind == "http"}
    transfers = max(config.max_workers, MIN_TRANSFERS)
    return HttpClient(
        net,
        max_redirects=config.max_redirects,
        max_body_bytes=config.max_body_bytes,
        ca_bundle=config.ca_bundle,
        max_transfers=transfers,
        max_connects=len(origins) + transfers,
    )


def _origin(url: str) -> tuple[str, str | None, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme, parts.hostname, parts.port
    except ValueError:
        return ("", url, None)


def _override_services_only(policy: NetPolicy, checks: tuple[ServiceSpec, ...]) -> NetPolicy:
    """An override naming no hosts pins the services' own hostnames, never a redirect's
    third-party host (a login page elsewhere resolves normally)."""
    override = policy.dns_override
    if override is None or override.hosts:
        return policy
    hosts = {urlsplit(s.target).hostname for s in checks if s.kind == "http" and s.dns_override}
    names = tuple(sorted({h.lower().rstrip(".") for h in hosts if h}))
    pinned = replace(override, hosts=names) if names else None  # no hosts: none is in scope
    return replace(policy, dns_override=pinned)


class ExporterApp:
    """One exporter over one database: `serve()` the HTTP endpoint, then `run(stop)`."""

    def __init__(self, config: ExporterConfig) -> None:
        self.config = config
        # SchemaError: unusable
        self.store = Store(config.db_path, config.tz, config.interval, config.history_days)
        self.loop = GridLoop(config, self.store)

    def serve(self) -> None:
        """Bind EXPORTER_LISTEN (OSError when taken) and answer /metrics, /healthz and the
        status page."""
        pages = status_routes(self.config, self.store, lambda: self.loop.collector.last_cycle)
        serve(self.config.listen, self.loop.exposition.scrape, self.loop.health, pages)

    def run(self, stop: threading.Event) -> None:
        with probing(self.config) as probes:
            self.loop.run(probes, stop)

    def close(self) -> None:
        self.store.close()
