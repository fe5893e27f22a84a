"""Payload building is pure: exact dicts for the alert body and the heartbeat body."""

from __future__ import annotations

import json
from zoneinfo import ZoneInfo

from alerter.payload import (
    AlertFacts,
    Context,
    ServiceStatus,
    alert_id,
    build_alert,
    build_heartbeat,
    encode,
)

LIMA = ZoneInfo("America/Lima")
EN = Context("en", LIMA, "host-1", "1.2.3")
ES = Context("es", LIMA, "host-1", "1.2.3")
AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z = 2025-12-31T19:00:00-05:00


def facts(**overrides: object) -> AlertFacts:
    base: dict[str, object] = {
        "event": "service_down",
        "item": "api",
        "kind": "http",
        "status": "down",
        "previous_status": "healthy",
        "reason": "connection refused",
        "status_code": None,
        "latency_ms": None,
        "occurred_at": AT,
        "cycle_id": 42,
    }
    base.update(overrides)
    return AlertFacts(**base)  # type: ignore[arg-type]


def test_service_down_payload_in_english_is_exact() -> None:
    body = build_alert(facts(), EN)
    assert body == {
        "id": alert_id(facts()),
        "event": "service_down",
        "title": "🔴 Service Down: api",
        "message": "**Item:** api\n**Status:** down\n**Previous status:** healthy\n"
        "**Reason:** connection refused\n**Host:** host-1\n"
        "**Time:** 2025-12-31T19:00:00-05:00",
        "item": "api",
        "kind": "http",
        "status": "down",
        "previous_status": "healthy",
        "reason": "connection refused",
        "status_code": None,
        "latency_ms": None,
        "timestamp": "2025-12-31T19:00:00-05:00",
        "occurred_at": AT,
        "cycle_id": 42,
        "host": "host-1",
        "version": "1.2.3",
    }


def test_spanish_titles_reproduce_the_previous_agent() -> None:
    assert build_alert(facts(), ES)["title"] == "🔴 Servicio Caído: api"
    assert build_alert(facts(status="timeout"), ES)["title"] == "⏱️ Timeout en Servicio: api"
    recovered = facts(event="service_recovered", status="healthy", previous_status="down")
    assert build_alert(recovered, ES)["title"] == "✅ Servicio Recuperado: api"
    worker = facts(event="worker_status_changed", item="worker", kind="worker", status="blind")
    assert build_alert(worker, ES)["title"] == "🔥 Error de Worker"
    assert build_alert(facts(), ES)["message"].startswith("**Elemento:** api\n**Estado:** down")


def test_recovery_payload_carries_latency_and_status_code() -> None:
    recovered = facts(
        event="service_recovered",
        status="healthy",
        previous_status="error",
        reason=None,
        status_code=200,
        latency_ms=12.5,
    )
    body = build_alert(recovered, EN)
    assert body["title"] == "✅ Service Recovered: api"
    assert (body["latency_ms"], body["status_code"], body["reason"]) == (12.5, 200, None)
    assert "**Latency:** 12 ms" in body["message"]
    assert "**HTTP status:** 200" in body["message"]


def test_timestamp_follows_tz() -> None:
    utc = Context("en", ZoneInfo("UTC"), "h", "v")
    assert build_alert(facts(), utc)["timestamp"] == "2026-01-01T00:00:00+00:00"


def test_alert_id_is_stable_and_distinct() -> None:
    assert alert_id(facts()) == alert_id(facts())
    assert alert_id(facts()) != alert_id(facts(cycle_id=43))
    assert alert_id(facts()) != alert_id(facts(event="service_recovered"))


def test_heartbeat_body_orders_http_then_docker_each_by_name() -> None:
    services = [
        ServiceStatus("zeta", "http", "healthy"),
        ServiceStatus("db", "docker", "down"),
        ServiceStatus("alpha", "http", "timeout"),
        ServiceStatus("cache", "docker", "healthy"),
    ]
    body = build_heartbeat(services, cycle_id=7, started_at=AT, context=EN)
    assert body == {
        "services": {
            "alpha": {"status": "timeout"},
            "zeta": {"status": "healthy"},
            "cache": {"status": "healthy"},
            "db": {"status": "down"},
        },
        "timestamp": "2025-12-31T19:00:00-05:00",
        "cycle_id": 7,
        "host": "host-1",
        "version": "1.2.3",
    }
    assert list(json.loads(encode(body))["services"]) == ["alpha", "zeta", "cache", "db"]
