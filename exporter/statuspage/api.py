"""The status page's data as JSON (`/api/status`) and its SVG badges, from the same snapshot."""

from __future__ import annotations

import json
from typing import Any

from exporter.statuspage import svg
from exporter.statuspage.model import ServiceView, StatusSnapshot
from hbmon.status import Status

BADGE_WINDOWS = ("24h", "7d", "30d", "90d")


def _service(service: ServiceView) -> dict[str, Any]:
    return {
        "name": service.name,
        "kind": service.kind,
        "status": service.status.value,
        "reason": service.reason,
        "target": service.target,
        "uptime": dict(service.uptime),
        "days": [
            {"day": d.day, "checks": d.checks, "failures": d.failures, "uptime": d.uptime}
            for d in service.days
        ],
        "latency_p95_ms": list(service.latency_p95_ms),
        "incidents": [
            {"started_at": i.started_at, "ended_at": i.ended_at, "reason": i.reason}
            for i in service.incidents
        ],
    }


def status_json(snapshot: StatusSnapshot) -> bytes:
    host = snapshot.host
    document = {
        "title": snapshot.title,
        "generated_at": snapshot.generated_at,
        "last_cycle_at": snapshot.last_cycle_at,
        "overall": snapshot.overall.value,
        "services": [_service(s) for s in snapshot.services],
        "host": None
        if host is None
        else {
            "cpu_percent": host.cpu_percent,
            "ram_percent": host.ram_percent,
            "disk_percent": host.disk_percent,
            "container_count": host.container_count,
        },
    }
    return json.dumps(document, separators=(",", ":")).encode()


def status_badge(service: ServiceView) -> str:
    if service.status is Status.HEALTHY:
        return svg.badge(service.name, "up", svg.GREEN)
    if service.status is Status.STARTING:
        return svg.badge(service.name, "starting", svg.GREY)
    return svg.badge(service.name, "down", svg.RED)


def uptime_badge(service: ServiceView, window: str) -> str:
    """`window` must be one of BADGE_WINDOWS (the router answers 404 otherwise)."""
    value = service.uptime.get(window)
    return svg.badge(f"uptime {window}", svg.percent(value), svg.uptime_colour(value))
