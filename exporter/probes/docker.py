"""The docker probe: a container's state and health check, read through the cycle's DockerView."""

from __future__ import annotations

import time

from exporter.config import ServiceSpec
from exporter.dockerengine import ContainerDetails, DockerView, EngineUnreachable
from exporter.probes.base import (
    Fact,
    FactValue,
    ProbeDeps,
    ProbeResult,
)
from hbmon.status import Status

UNREACHABLE = "docker engine unreachable"
NOT_FOUND = "container not found"
MAX_OUTPUT_CHARS = 200  # of health-check output kept in the reason: it lands in alerts and the DB


def probe(spec: ServiceSpec, *, timeout: float, deps: ProbeDeps) -> ProbeResult:
    """Judge the container named by `spec.target`; never raises for engine trouble.

    Each engine call is bounded by the engine client's own timeout, which the runtime sets to
    the same service timeout, so `timeout` needs no separate enforcement here.
    """
    if deps.docker is None:
        return ProbeResult(Status.UNKNOWN, reason=UNREACHABLE)
    started = time.monotonic()
    try:
        details = _look_up(deps.docker, spec.target)
    except EngineUnreachable as error:
        elapsed = time.monotonic() - started
        facts: dict[str, FactValue] = {Fact.ENGINE_ERROR: error.cause}
        return ProbeResult(Status.UNKNOWN, latency_s=elapsed, reason=UNREACHABLE, facts=facts)
    elapsed = time.monotonic() - started
    if details is None:
        return ProbeResult(Status.DOWN, latency_s=elapsed, reason=NOT_FOUND)
    status, reason = judge(details)
    return ProbeResult(status, latency_s=elapsed, reason=reason, facts=_facts(details))


def judge(details: ContainerDetails) -> tuple[Status, str | None]:
    """Healthy means running and, when there is a health check, reported healthy."""
    if details.state != "running":
        return Status.DOWN, _not_running_reason(details)
    if details.health in (None, "healthy"):
        return Status.HEALTHY, None
    if details.health == "starting":
        return Status.STARTING, "health check starting"
    output = one_line(details.health_output or "")
    return Status.DOWN, f"{details.health}: {output}" if output else details.health


def one_line(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    """Printable characters only, whitespace runs collapsed, cut to `limit` with an ellipsis."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    collapsed = " ".join(printable.split())
    return collapsed if len(collapsed) <= limit else collapsed[: limit - 1] + "…"


def _look_up(view: DockerView, target: str) -> ContainerDetails | None:
    summary = view.find(target)
    return None if summary is None else view.inspect(summary.id)


def _not_running_reason(details: ContainerDetails) -> str:
    reason = details.state or "unknown state"
    if details.state == "exited":
        reason += f" (code {details.exit_code})"
    # OOMKilled stays set until the next start, so it also explains a restarting container.
    return reason + ", OOM-killed" if details.oom_killed else reason


def _facts(details: ContainerDetails) -> dict[str, FactValue]:
    facts: dict[str, FactValue] = {
        Fact.CONTAINER_STATE: details.state,
        Fact.RESTART_COUNT: details.restart_count,
        "health": details.health,
        "oom_killed": details.oom_killed,
    }
    if details.state != "running":
        facts[Fact.EXIT_CODE] = details.exit_code
    return facts
