"""Wires the exporter's parts together and runs cycles on the grid until told to stop."""

from __future__ import annotations

import gc
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import peewee

from exporter.config import ExporterConfig, ServiceSpec
from exporter.cycle import Cycle, CycleAborted, CyclePlan, CycleRunner, internet_check
from exporter.dockerengine import DockerEngine
from exporter.exposition import Exposition
from exporter.host import HostSampler
from exporter.metrics import CycleCollector
from exporter.probes.base import ProbeDeps
from exporter.probes.registry import PROBES, STARTERS
from exporter.schedule import after, first_tick
from exporter.store import Store
from hbmon import __version__
from hbmon.httpserver import serve
from hbmon.logs import get_logger
from hbmon.net.client import HttpClient
from hbmon.net.policy import NetPolicy

log = get_logger("exporter")
PRUNE_EVERY_SECONDS = 600.0
STALE_AFTER_INTERVALS = 3
BACKLOG_CYCLES = 360  # cycles kept in memory while the database refuses writes
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
    plan = CyclePlan(
        services=config.services,
        internet=internet_check(config.ping_url),
        probes=PROBES,
        service_timeout=config.service_timeout,
        deadline_s=config.cycle_deadline(),
        starters=STARTERS,
    )
    http = _http_client(config, (*plan.services, plan.internet))
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


def _http_client(config: ExporterConfig, checks: tuple[ServiceSpec, ...]) -> HttpClient:
    """The engine for every HTTP check: one idle connection kept per origin (and per transfer
    slot, as many may open to one origin), so keep-alive spans cycles."""
    origins = {_origin(spec.target) for spec in checks if spec.kind == "http"}
    transfers = max(config.max_workers, MIN_TRANSFERS)
    return HttpClient(
        _override_services_only(config.net, checks),
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


class Exporter:
    """The long-running process: grid loop, store, retention and the /metrics endpoint."""

    def __init__(self, config: ExporterConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.collector = CycleCollector(__version__)
        self.exposition = Exposition(self.collector)
        self._started = time.time()
        self._last_prune = 0.0
        self._backlog: deque[Cycle] = deque(maxlen=BACKLOG_CYCLES)

    def health(self) -> tuple[bool, str]:
        cycle = self.collector.last_cycle
        last = cycle.completed_at if cycle is not None else self._started
        age = time.time() - last
        fresh = age <= STALE_AFTER_INTERVALS * self.config.interval
        what = "last cycle" if cycle is not None else "started, no cycle yet"
        return fresh, f"{'ok' if fresh else 'stale'}: {what} {age:.1f}s ago"

    def serve(self) -> None:
        serve(self.config.listen, self.exposition.scrape, self.health)

    def run(self, probes: Probing, stop: threading.Event) -> None:
        interval = self.config.interval
        tick, skipped = first_tick(time.time(), interval), 0
        while not stop.wait(self._until(tick)):
            if tick - time.time() > 0.001:  # woke early: the wall clock went back, realign
                tick = first_tick(time.time(), interval)
                continue
            try:
                cycle = probes.run_cycle(tick, skipped, stop)
            except CycleAborted:
                log.info("cycle.aborted", reason="stop requested while probing")
                break
            self._record(cycle)
            following = after(tick, time.time(), interval)
            if following.skipped:
                log.warning(
                    "cycle.overrun",
                    duration_s=round(cycle.duration_s, 3),
                    skipped_ticks=following.skipped,
                )
            tick, skipped = following.at, following.skipped

    def _until(self, tick: float) -> float:
        """Seconds to wait for `tick`; never more than one interval, even if the clock jumped."""
        return min(max(tick - time.time(), 0.0), self.config.interval)

    def _record(self, cycle: Cycle) -> None:
        cycle_id = self._persist(cycle)
        self.collector.publish(cycle)
        self.exposition.cycle_published()
        failing = [o.spec.name for o in cycle.services if not o.result.healthy]
        log.info(
            "cycle.completed",
            cycle_id=cycle_id,
            duration_ms=round(cycle.duration_s * 1000, 1),
            services=len(cycle.services),
            failing=failing,
            internet=cycle.internet.status.value,
            skipped_ticks=cycle.skipped_ticks,
        )
        if cycle_id is not None:
            self._maybe_prune()

    def _persist(self, cycle: Cycle) -> int | None:
        """Write this cycle and any earlier ones the database refused; None if it still refuses."""
        if len(self._backlog) == self._backlog.maxlen:
            log.error("cycle.dropped", started_at=self._backlog[0].started_at)
        self._backlog.append(cycle)
        cycle_id = None
        try:
            while self._backlog:
                cycle_id = self.store.write(self._backlog[0])
                self._backlog.popleft()
        except peewee.DatabaseError as exc:
            log.error("cycle.store_failed", error=str(exc), backlog=len(self._backlog))
            return None
        return cycle_id

    def _maybe_prune(self) -> None:
        now = time.time()
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        try:
            deleted = self.store.prune(now - self.config.retention_days * 86400.0)
        except peewee.DatabaseError as exc:  # a locked database must not stop the probing
            log.error("retention.failed", error=str(exc))
            return
        if deleted:
            log.info("retention.pruned", cycles=deleted, retention_days=self.config.retention_days)
