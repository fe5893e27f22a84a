"""One monitoring cycle: every probe at once (engine or bounded pool), under one deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from exporter.config import ServiceSpec
from exporter.dependencies import ParentTracker
from exporter.host import HostSample
from exporter.probes.base import ProbeDeps, ProbeFn, ProbeResult, StartFn
from hbmon.logs import get_logger, redact_text
from hbmon.net.policy import DnsOverride
from hbmon.status import Status

log = get_logger("exporter.cycle")
INTERNET = "internet"
_WAIT_SLICE = 0.1  # how often a waiting cycle looks at the stop event and tags what came in
_RUNNING = ProbeResult(Status.TIMEOUT, reason="probe still running at the cycle deadline")


@dataclass(frozen=True, slots=True)
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
    dns_override: DnsOverride | None = None  # as the HTTP client applies it to the services

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
        self._parents = ParentTracker(plan.services, plan.dns_override)

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
        checks = (*self._plan.services, self._plan.internet)
        board = _Board(len(checks), deadline)
        pooled = self._launch_all(checks, deps, deadline, board)
        count = self._pool.submit(_container_count, deps)
        count.add_done_callback(board.count_down)
        early = _EarlyOutcomes(self._outcome, self._plan.services, board)
        _wait_until(board, stop, early.catch_up)
        reported = list(board.results)  # a report arriving from now on is too late
        late_threads = sum(not f.done() for f in pooled.values()) + (not count.done())
        late_engine = sum(r is None for i, r in enumerate(reported) if i not in pooled)
        results = [
            _result(pooled[i]) if i in pooled else r or _RUNNING for i, r in enumerate(reported)
        ]
        cycle = Cycle(
            started_at=tick,
            completed_at=time.time(),
            duration_s=time.monotonic() - start,
            skipped_ticks=skipped_ticks,
            host=host_sample,
            container_count=count.result() if _finished(count) else None,
            internet=results[-1],
            services=early.finish(results),
        )
        if late_threads or late_engine:
            self._abandon(late_threads + late_engine, threads=late_threads > 0)
        return cycle

    def _outcome(self, spec: ServiceSpec, result: ProbeResult) -> ServiceOutcome:
        return ServiceOutcome(spec, self._parents.annotate(spec, result))

    def _abandon(self, stragglers: int, *, threads: bool) -> None:
        """Threads still probing past the deadline would starve the next cycle: give it a fresh
        pool and let the stragglers finish on their own (each probe has its own budget). The
        engine ends its own stragglers at the deadline, so they need nothing."""
        log.warning("cycle.probes_abandoned", count=stragglers)
        if threads:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()

    def _launch_all(
        self, checks: tuple[ServiceSpec, ...], deps: ProbeDeps, deadline: float, board: _Board
    ) -> dict[int, Future[ProbeResult]]:
        """Start every check; returns the ones running on the pool, by index."""
        pooled: dict[int, Future[ProbeResult]] = {}
        plan = self._plan
        for index, spec in enumerate(checks):
            starter = plan.starters.get(spec.kind)
            if starter is not None:
                self._start(starter, index, spec, deps=deps, board=board)
                continue
            probe = plan.probes[spec.kind]
            future = self._pool.submit(_guarded, probe, spec, deps, deadline, plan.service_timeout)
            future.add_done_callback(board.count_down)
            pooled[index] = future
        return pooled

    def _start(
        self, starter: StartFn, index: int, spec: ServiceSpec, *, deps: ProbeDeps, board: _Board
    ) -> None:
        """One engine check; nothing of it runs past the cycle's deadline (`board.deadline`)."""
        try:
            starter(
                spec,
                timeout=self._plan.service_timeout,
                deps=deps,
                done=partial(board.report, index),
                priority=spec is self._plan.internet,
                not_after=board.deadline,
            )
        except Exception as exc:
            board.report(index, _crashed(spec, exc))


class _EarlyOutcomes:
    """The outcomes of the engine checks that reported while the cycle still waits for the
    others: tagging 10,000 results with their parents after the last one came in took 50-150 ms
    of an alert's latency; done meanwhile, only the last slice's remain (issue 14)."""

    def __init__(
        self,
        outcome: Callable[[ServiceSpec, ProbeResult], ServiceOutcome],
        services: tuple[ServiceSpec, ...],
        board: _Board,
    ) -> None:
        self._outcome = outcome
        self._services = services
        self._board = board
        # index -> (the reported result, its outcome)
        self._done: dict[int, tuple[ProbeResult, ServiceOutcome]] = {}
        self._seen = 0  # reports of `board.arrived` already handled

    def catch_up(self) -> None:
        arrived, results, services = self._board.arrived, self._board.results, self._services
        while self._seen < len(arrived):
            index = arrived[self._seen]
            self._seen += 1
            result = results[index]
            if index < len(services) and result is not None:
                self._done[index] = (result, self._outcome(services[index], result))

    def finish(self, results: list[ProbeResult]) -> tuple[ServiceOutcome, ...]:
        """Every service's outcome, made now unless it was made early from the same result
        (`results` ends with the internet check's)."""
        done, outcome = self._done, self._outcome
        return tuple(
            early[1]
            if (early := done.get(i)) is not None and early[0] is result
            else outcome(spec, result)
            for i, (spec, result) in enumerate(zip(self._services, results, strict=False))
        )


class _Board:
    """Where the checks of one cycle report, from any thread: engine checks leave their result
    in a slot (no Future, no Condition each: 10,000 of those cost more than the probes' own
    Python), pool checks only count down. `all_done` is set when every check and the container
    count have reported."""

    __slots__ = ("_left", "_lock", "all_done", "arrived", "deadline", "results")

    def __init__(self, checks: int, deadline: float) -> None:
        self.deadline = deadline
        self.results: list[ProbeResult | None] = [None] * checks
        self.arrived: list[int] = []  # indices in the order their results came in
        self._left = checks + 1  # and the container count
        self._lock = threading.Lock()
        self.all_done = threading.Event()

    def report(self, index: int, result: ProbeResult) -> None:
        self.results[index] = result
        self.arrived.append(index)  # after the result: a reader of `arrived` finds it set
        self.count_down()

    def count_down(self, _: object = None) -> None:
        with self._lock:
            self._left -= 1
            if self._left == 0:
                self.all_done.set()


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


def _wait_until(board: _Board, stop: threading.Event, meanwhile: Callable[[], None]) -> None:
    """Wait for every report, the deadline or a stop request (raises CycleAborted); run
    `meanwhile` every slice."""
    while not board.all_done.wait(min(max(board.deadline - time.monotonic(), 0.0), _WAIT_SLICE)):
        meanwhile()
        if stop.is_set():
            raise CycleAborted
        if time.monotonic() >= board.deadline:
            return


def _finished(future: Future[Any]) -> bool:
    return future.done() and not future.cancelled()


def _result(future: Future[ProbeResult]) -> ProbeResult:
    if _finished(future):
        return future.result()
    never_started = future.cancel()
    if not never_started:
        return _RUNNING
    reason = "probe never started: every probe worker was busy until the cycle deadline"
    return ProbeResult(Status.TIMEOUT, reason=reason)
