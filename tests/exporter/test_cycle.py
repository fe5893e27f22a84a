"""The cycle orchestrator: one deadline, hung and crashing probes, stop requests.

These use probe functions registered through our own registry interface (CyclePlan.probes)
to produce behaviours no real target produces on demand (a probe that ignores its budget, a
probe bug). The real HTTP and Docker probes are exercised end to end elsewhere.
"""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from exporter.config import ServiceSpec
from exporter.cycle import CycleAborted, CyclePlan, CycleRunner
from exporter.probes.base import ProbeDeps, ProbeResult
from hbmon.status import Status
from tests.exporter.test_store import HOST

release = threading.Event()


def healthy(spec: ServiceSpec, *, timeout: float, deps: ProbeDeps) -> ProbeResult:
    return ProbeResult(Status.HEALTHY, latency_s=0.001)


def ignores_budget(spec: ServiceSpec, *, timeout: float, deps: ProbeDeps) -> ProbeResult:
    release.wait(30)
    return ProbeResult(Status.HEALTHY)


hung_once: set[str] = set()


def hangs_first_time(spec: ServiceSpec, *, timeout: float, deps: ProbeDeps) -> ProbeResult:
    if spec.name not in hung_once:
        hung_once.add(spec.name)
        release.wait(30)
    return ProbeResult(Status.HEALTHY)


def crashes(spec: ServiceSpec, *, timeout: float, deps: ProbeDeps) -> ProbeResult:
    raise RuntimeError("bug in probe")


def spec(name: str, kind: str) -> ServiceSpec:
    return ServiceSpec(name=name, kind=kind, target=name)


def runner(*specs: ServiceSpec, deadline: float = 0.5, workers: int = 8) -> CycleRunner:
    plan = CyclePlan(
        services=specs,
        internet=spec("internet", "ok"),
        probes={"ok": healthy, "hang": ignores_budget, "once": hangs_first_time, "crash": crashes},
        service_timeout=0.2,
        deadline_s=deadline,
    )
    return CycleRunner(plan, workers)


DEPS = ProbeDeps(http=cast(Any, None), docker=None)


@pytest.fixture(autouse=True)
def _release_hung_probes() -> Any:
    release.clear()
    yield
    release.set()


def run(cycles: CycleRunner, stop: threading.Event | None = None) -> Any:
    return cycles.run(
        tick=100.0, skipped_ticks=0, host=lambda: HOST, deps=DEPS, stop=stop or threading.Event()
    )


def test_probe_still_running_at_deadline_is_a_timeout_and_the_cycle_ends_on_time() -> None:
    cycles = runner(spec("a", "ok"), spec("stuck", "hang"), deadline=0.5)
    started = time.monotonic()
    cycle = run(cycles)
    elapsed = time.monotonic() - started
    by_name = {o.spec.name: o.result for o in cycle.services}
    assert by_name["a"].status is Status.HEALTHY
    assert by_name["stuck"].status is Status.TIMEOUT
    assert by_name["stuck"].reason == "probe still running at the cycle deadline"
    assert 0.45 <= elapsed < 1.5
    cycles.close()


def test_hung_probes_never_exhaust_the_pool_for_the_next_cycle() -> None:
    cycles = runner(*(spec(f"h{i}", "once") for i in range(4)), spec("ok", "ok"), workers=4)
    first = run(cycles)  # four workers, all four stuck: nothing else even starts
    assert {o.result.status for o in first.services} == {Status.TIMEOUT}
    second = run(cycles)  # the old workers are still stuck; the new pool is free
    assert second.internet.status is Status.HEALTHY
    assert {o.result.status for o in second.services} == {Status.HEALTHY}
    cycles.close()


def test_a_crashing_probe_becomes_unknown_and_others_still_report() -> None:
    cycles = runner(spec("buggy", "crash"), spec("fine", "ok"))
    cycle = run(cycles)
    by_name = {o.spec.name: o.result for o in cycle.services}
    assert by_name["buggy"].status is Status.UNKNOWN
    assert by_name["buggy"].reason == "probe error: RuntimeError: bug in probe"
    assert by_name["fine"].status is Status.HEALTHY
    assert [o.spec.name for o in cycle.services] == ["buggy", "fine"]  # configured order
    cycles.close()


def test_stop_request_aborts_a_cycle_within_a_fraction_of_a_second() -> None:
    cycles = runner(spec("stuck", "hang"), deadline=5.0)
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(CycleAborted):
        run(cycles, stop)
    assert time.monotonic() - started < 1.0
    cycles.close()


def test_container_count_is_none_without_docker() -> None:
    cycle = run(runner(spec("a", "ok")))
    assert cycle.container_count is None
    assert cycle.all_healthy
