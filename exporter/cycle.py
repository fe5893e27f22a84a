"""One monitoring cycle: every probe at once (engine or bounded pool), under one deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from exporter.config import ServiceSpec
from exporter.host import HostSample
from exporter.probes.base import ProbeDeps, ProbeFn, ProbeResult, StartFn
from hbmon.logs import get_logger, redact_text
from hbmon.status import Status

log = get_logger("exporter.cycle")
INTERNET = "internet"
_WAIT_SLICE = 0.1  # how often a waiting cycle looks at the stop event


@dataclass(frozen=True)
class ServiceOutcome:
    spec: ServiceSpec
    result: ProbeResult


@dataclass(frozen=True)
class Cycle:
    """Everything one cycle observed; immutable once built."""

    started_at: float  # wall-clock grid tick, UTC epoch seconds
    completed_at: float
    duration_s: float
    skipped_ticks: int
    host: HostSample
    container_count: int | None
    internet: ProbeResult
    services: tuple[ServiceOutcome, ...]

    @property
    def all_healthy(self) -> bool:
        results = [o.result for o in self.services] + [self.internet]
        return all(r.healthy for r in results)


class CycleAborted(Exception):
    """The stop event was set while probes were still running: nothing is stored."""


def internet_check(ping_url: str) -> ServiceSpec:
    """The internet check: an HTTP probe of PING_URL that the DNS override never applies to."""
    return ServiceSpec(name=INTERNET, kind="http", target=ping_url, dns_override=False)


@dataclass(frozen=True)
class CyclePlan:
    """What a cycle runs; fixed for the life of the process.

    `starters` name the kinds that run on a shared engine (no thread each); the rest run on
    the pool. The internet check is one more check, whose name lookups go first.
    """

    services: tuple[ServiceSpec, ...]
    internet: ServiceSpec
    probes: Mapping[str, ProbeFn]
    service_timeout: float
    deadline_s: float
    starters: Mapping[str, StartFn] = field(default_factory=dict)

    @property
    def pooled(self) -> int:
        """How many checks of a cycle need a pool thread."""
        checks = (*self.services, self.internet)
        return sum(spec.kind not in self.starters for spec in checks)


class CycleRunner:
    """Runs cycles on a thread pool that is replaced whenever probes are left hanging."""

    def __init__(self, plan: CyclePlan, max_workers: int) -> None:
        self._plan = plan
        self._workers = max(1, min(max_workers, plan.pooled + 1))  # +1: the container count
        self._pool = self._new_pool()

    def _new_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="probe")

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def run(
        self,
        *,
        tick: float,
        skipped_ticks: int,
        host: Callable[[], HostSample],
        deps: ProbeDeps,
        stop: threading.Event,
    ) -> Cycle:
        start = time.monotonic()
        deadline = start + self._plan.deadline_s
        host_sample = host()
        services = [(spec, self._launch(spec, deps, deadline)) for spec in self._plan.services]
        internet = self._launch(self._plan.internet, deps, deadline)
        count = self._pool.submit(_container_count, deps)
        pending = _wait_until({f for _, f in services} | {internet, count}, deadline, stop)
        cycle = Cycle(
            started_at=tick,
            completed_at=time.time(),
            duration_s=time.monotonic() - start,
            skipped_ticks=skipped_ticks,
            host=host_sample,
            container_count=count.result() if _finished(count) else None,
            internet=_result(internet),
            services=tuple(ServiceOutcome(spec, _result(future)) for spec, future in services),
        )
        if pending:
            checks = [*services, (self._plan.internet, internet)]
            on_engine = {f for spec, f in checks if spec.kind in self._plan.starters}
            self._abandon(len(pending), threads=any(f not in on_engine for f in pending))
        return cycle

    def _abandon(self, stragglers: int, *, threads: bool) -> None:
        """Threads still probing past the deadline would starve the next cycle: give it a fresh
        pool and let the stragglers finish on their own (each probe has its own budget). The
        engine ends its own stragglers at the deadline, so they need nothing."""
        log.warning("cycle.probes_abandoned", count=stragglers)
        if threads:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    def _launch(self, spec: ServiceSpec, deps: ProbeDeps, deadline: float) -> Future[ProbeResult]:
        starter = self._plan.starters.get(spec.kind)
        if starter is None:
            probe = self._plan.probes[spec.kind]
            budget = self._plan.service_timeout
            return self._pool.submit(_guarded, probe, spec, deps, deadline, budget)
        future: Future[ProbeResult] = Future()
        future.set_running_or_notify_cancel()  # running on the engine: it cannot be cancelled
        try:
            starter(
                spec,
                timeout=self._plan.service_timeout,
                deps=deps,
                done=future.set_result,
                priority=spec is self._plan.internet,
                not_after=deadline,
            )
        except Exception as exc:
            future.set_result(_crashed(spec, exc))
        return future


def _guarded(
    probe: ProbeFn, spec: ServiceSpec, deps: ProbeDeps, deadline: float, budget: float
) -> ProbeResult:
    """Run one probe; an exception is a bug, so it becomes `unknown` plus a logged traceback."""
    try:
        return probe(spec, timeout=_budget(budget, deadline), deps=deps)
    except Exception as exc:
        return _crashed(spec, exc)


def _budget(budget: float, deadline: float) -> float:
    return min(budget, max(deadline - time.monotonic(), 0.001))


def _crashed(spec: ServiceSpec, exc: Exception) -> ProbeResult:
    log.exception("probe.crashed", service=spec.name, kind=spec.kind)
    detail = redact_text(str(exc))[:200]
    return ProbeResult(Status.UNKNOWN, reason=f"probe error: {type(exc).__name__}: {detail}")


def _container_count(deps: ProbeDeps) -> int | None:
    """Running containers, or None (unknown) — never an exception that would end the cycle."""
    try:
        return None if deps.docker is None else deps.docker.running_count()
    except Exception:
        log.exception("docker.count_failed")
        return None


def _wait_until(
    futures: set[Future[Any]], deadline: float, stop: threading.Event
) -> list[Future[Any]]:
    """Wait for every future, the deadline or a stop request; returns the unfinished ones.

    A countdown set by done-callbacks keeps this O(N): `wait(FIRST_COMPLETED)` in a loop
    re-registers a waiter on every pending future each time one finishes, O(N^2) per cycle.
    """
    remaining = len(futures)
    lock = threading.Lock()
    all_done = threading.Event()

    def one_done(_: Future[Any]) -> None:
        nonlocal remaining
        with lock:
            remaining -= 1
            if remaining == 0:
                all_done.set()

    for future in futures:
        future.add_done_callback(one_done)
    while not all_done.wait(min(max(deadline - time.monotonic(), 0.0), _WAIT_SLICE)):
        if stop.is_set():
            raise CycleAborted
        if time.monotonic() >= deadline:
            break
    return [f for f in futures if not f.done()]


def _finished(future: Future[Any]) -> bool:
    return future.done() and not future.cancelled()


def _result(future: Future[ProbeResult]) -> ProbeResult:
    if _finished(future):
        return future.result()
    never_started = future.cancel()
    reason = (
        "probe never started: every probe worker was busy until the cycle deadline"
        if never_started
        else "probe still running at the cycle deadline"
    )
    return ProbeResult(Status.TIMEOUT, reason=reason)
