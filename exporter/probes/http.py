"""The HTTP probe: one request through the shared HttpClient's engine, mapped onto a result."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from exporter.probes.base import (
    Fact,
    FactValue,
    ProbeDeps,
    ProbeResult,
)
from hbmon.net.reply import ErrorKind, HttpReply
from hbmon.status import Status

if TYPE_CHECKING:
    from exporter.config import ServiceSpec


# A redirect that goes nowhere is an answer from the service, not a transport failure.
_ERROR_KINDS = {ErrorKind.TIMEOUT: Status.TIMEOUT, ErrorKind.REDIRECT: Status.ERROR}


def probe(spec: ServiceSpec, *, timeout: float, deps: ProbeDeps) -> ProbeResult:
    """Healthy when the final answer (redirects followed) is 200-399 within `timeout` in total."""
    reply = deps.http.exchange(
        spec.target,
        method=spec.method,
        headers=spec.headers,
        timeout=timeout,
        dns_override=spec.dns_override,
    )
    return result_of(reply)


def start(
    spec: ServiceSpec,
    *,
    timeout: float,
    deps: ProbeDeps,
    done: Callable[[ProbeResult], None],
    priority: bool = False,
    not_after: float | None = None,
) -> None:
    """`probe` on the engine: returns at once, and `done` gets the result (no thread waits)."""
    deps.http.submit(
        spec.target,
        lambda reply: done(result_of(reply)),
        method=spec.method,
        headers=spec.headers,
        timeout=timeout,
        dns_override=spec.dns_override,
        priority=priority,
        not_after=not_after,
    )


def result_of(reply: HttpReply) -> ProbeResult:
    status, reason = _verdict(reply)
    return ProbeResult(
        status=status,
        latency_s=reply.elapsed_s,
        reason=reason,
        status_code=reply.status_code,
        phases=reply.phases,
        facts=_facts(reply),
    )


def _verdict(reply: HttpReply) -> tuple[Status, str | None]:
    if reply.error is not None:
        return _ERROR_KINDS.get(reply.error.kind, Status.DOWN), reply.error.reason
    code = reply.status_code
    if code is not None and 200 <= code < 400:
        return Status.HEALTHY, None
    return Status.ERROR, f"HTTP {code}"


def _facts(reply: HttpReply) -> dict[str, FactValue]:
    facts: dict[str, FactValue] = {
        Fact.CONNECTION_REUSED: reply.connection_reused,
        Fact.REDIRECTS: reply.redirects,
        Fact.FINAL_URL: reply.final_url,
    }
    if reply.ip_family is not None:
        facts[Fact.IP_FAMILY] = reply.ip_family
    if reply.tls_cert_expiry is not None:
        facts[Fact.TLS_CERT_EXPIRY] = reply.tls_cert_expiry
    if reply.primary_ip is not None:
        facts[Fact.PRIMARY_IP] = reply.primary_ip
    elif reply.error is not None and reply.error.kind is ErrorKind.DNS:
        facts[Fact.UNRESOLVED] = True
    return facts
