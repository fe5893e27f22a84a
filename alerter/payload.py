"""Pure builders of the webhook alert body and the heartbeat body."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from alerter.model import Event

_ID_NAMESPACE = uuid.UUID("6f1d4c1e-7c1b-4f55-9d0a-6b8e1f0a2c33")


@dataclass(frozen=True)
class AlertFacts:
    """Everything an alert says, before rendering."""

    event: Event
    item: str
    kind: str  # http | docker | worker | exporter
    status: str
    previous_status: str | None
    reason: str | None
    status_code: int | None
    latency_ms: float | None
    occurred_at: float  # UTC epoch seconds of the cycle (or check) that confirmed it
    cycle_id: int | None
    failures: int | None = None  # degraded events: failed observations in the window
    window: int | None = None  # degraded events: DEGRADED_WINDOW
    affected: Sequence[str] | None = None  # a parent's down alert: its failing dependents


@dataclass(frozen=True)
class Context:
    language: str
    tz: ZoneInfo
    host: str
    version: str


def alert_id(facts: AlertFacts) -> str:
    """Stable for the same transition: a replayed cycle yields the same id."""
    key = f"{facts.event}|{facts.item}|{facts.kind}|{facts.cycle_id}|{facts.occurred_at!r}"
    return str(uuid.uuid5(_ID_NAMESPACE, key))


def local_timestamp(epoch: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")


_TITLES = {
    "en": {
        "down": "🔴 Service Down: {item}",
        "timeout": "⏱️ Service Timeout: {item}",
        "error": "⚠️ Service Error: {item}",
        "unknown": "❓ Service Status Unknown: {item}",
        Event.SERVICE_RECOVERED: "✅ Service Recovered: {item}",
        Event.WORKER_STATUS_CHANGED: "🔥 Worker Error",
        "worker_recovered": "✅ Worker Recovered",
        Event.EXPORTER_STALLED: "🛑 Exporter Stalled",
        Event.EXPORTER_RECOVERED: "✅ Exporter Recovered",
        Event.SERVICE_DEGRADED: "🟠 Service Degraded: {item}",
        Event.SERVICE_DEGRADED_CLEARED: "✅ Service No Longer Degraded: {item}",
        Event.SERVICE_FLAPPING: "🔁 Service Flapping: {item}",
        Event.SERVICE_FLAPPING_ENDED: "🟰 Service Stable Again: {item}",
        Event.INTERNET_DOWN: "🌐 Internet Down",
        Event.INTERNET_RECOVERED: "✅ Internet Recovered",
        Event.DOCKER_UNREACHABLE: "🐳 Docker Engine Unreachable",
        Event.DOCKER_RECOVERED: "✅ Docker Engine Recovered",
    },
    "es": {
        "down": "🔴 Servicio Caído: {item}",
        "timeout": "⏱️ Timeout en Servicio: {item}",
        "error": "⚠️ Error en Servicio: {item}",
        "unknown": "❓ Estado Desconocido: {item}",
        Event.SERVICE_RECOVERED: "✅ Servicio Recuperado: {item}",
        Event.WORKER_STATUS_CHANGED: "🔥 Error de Worker",
        "worker_recovered": "✅ Worker Recuperado",
        Event.EXPORTER_STALLED: "🛑 Exportador Detenido",
        Event.EXPORTER_RECOVERED: "✅ Exportador Recuperado",
        Event.SERVICE_DEGRADED: "🟠 Servicio Degradado: {item}",
        Event.SERVICE_DEGRADED_CLEARED: "✅ Servicio Ya No Degradado: {item}",
        Event.SERVICE_FLAPPING: "🔁 Servicio Oscilando: {item}",
        Event.SERVICE_FLAPPING_ENDED: "🟰 Servicio Estable de Nuevo: {item}",
        Event.INTERNET_DOWN: "🌐 Internet Caído",
        Event.INTERNET_RECOVERED: "✅ Internet Recuperado",
        Event.DOCKER_UNREACHABLE: "🐳 Motor Docker Inaccesible",
        Event.DOCKER_RECOVERED: "✅ Motor Docker Recuperado",
    },
}
_LABELS = {
    "en": (
        "Item",
        "Status",
        "Previous status",
        "Reason",
        "HTTP status",
        "Latency",
        "Failures",
        "Affected",
        "Host",
        "Time",
    ),
    "es": (
        "Elemento",
        "Estado",
        "Estado anterior",
        "Motivo",
        "Código HTTP",
        "Latencia",
        "Fallos",
        "Afectados",
        "Host",
        "Hora",
    ),
}


def title(facts: AlertFacts, language: str) -> str:
    titles = _TITLES[language]
    if facts.event == Event.SERVICE_DOWN:
        key = facts.status if facts.status in titles else "down"
    elif facts.event == Event.WORKER_STATUS_CHANGED and facts.status == "healthy":
        key = "worker_recovered"
    else:
        key = facts.event
    return titles[key].format(item=facts.item)


def message(facts: AlertFacts, context: Context, timestamp: str) -> str:
    """Markdown body, one `**Label:** value` line per known fact."""
    labels = _LABELS[context.language]
    latency = None if facts.latency_ms is None else f"{facts.latency_ms:.0f} ms"
    failures = None if facts.failures is None else f"{facts.failures}/{facts.window}"
    values = (
        facts.item,
        facts.status,
        facts.previous_status,
        facts.reason,
        facts.status_code,
        latency,
        failures,
        ", ".join(facts.affected) if facts.affected else None,
        context.host,
        timestamp,
    )
    lines = [
        f"**{label}:** {value}"
        for label, value in zip(labels, values, strict=True)
        if value is not None
    ]
    return "\n".join(lines)


def build_alert(facts: AlertFacts, context: Context) -> dict[str, Any]:
    """The webhook body: `title` and `message` for existing N8N flows, plus structured fields."""
    heading = title(facts, context.language)
    return alert_body(facts, context, key=alert_id(facts), heading=heading) | _extra_fields(facts)


def alert_body(facts: AlertFacts, context: Context, *, key: str, heading: str) -> dict[str, Any]:
    """The fields every alert carries, under the given id and title (an alert kind with ids
    and titles of its own, such as a certificate notice, builds its body here too)."""
    timestamp = local_timestamp(facts.occurred_at, context.tz)
    return {
        "id": key,
        "event": facts.event,
        "title": heading,
        "message": message(facts, context, timestamp),
        "item": facts.item,
        "kind": facts.kind,
        "status": facts.status,
        "previous_status": facts.previous_status,
        "reason": facts.reason,
        "status_code": facts.status_code,
        "latency_ms": facts.latency_ms,
        "timestamp": timestamp,
        "occurred_at": facts.occurred_at,
        "cycle_id": facts.cycle_id,
        "host": context.host,
        "version": context.version,
    }


def _extra_fields(facts: AlertFacts) -> dict[str, Any]:
    """The fields only some events carry: an event without them keeps its exact shape."""
    extra: dict[str, Any] = {}
    if facts.failures is not None:
        extra |= {"failures": facts.failures, "window": facts.window}
    if facts.affected is not None:
        extra["affected"] = list(facts.affected)
    return extra


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    kind: str
    status: str


def build_heartbeat(
    services: Iterable[ServiceStatus], *, cycle_id: int, started_at: float, context: Context
) -> dict[str, Any]:
    """The body the Worker reads: HTTP services then Docker ones, each group by name."""
    ordered = sorted(services, key=lambda s: (s.kind != "http", s.name))
    return {
        "services": {s.name: {"status": s.status} for s in ordered},
        "timestamp": local_timestamp(started_at, context.tz),
        "cycle_id": cycle_id,
        "host": context.host,
        "version": context.version,
    }


def encode(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON; the bytes that are signed are the bytes that are sent."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
