"""The payload of the alert-accuracy events: exact bodies, en/es titles, optional fields."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from alerter.model import Event
from alerter.payload import AlertFacts, Context, alert_id, build_alert

UTC = ZoneInfo("UTC")
EN = Context("en", UTC, "host-1", "1.2.3")
ES = Context("es", UTC, "host-1", "1.2.3")
AT = 1_767_225_600.0


def facts(event: Event, item: str = "api", **extra: object) -> AlertFacts:
    base: dict[str, object] = {
        "event": event,
        "item": item,
        "kind": "http",
        "status": "degraded",
        "previous_status": "healthy",
        "reason": None,
        "status_code": None,
        "latency_ms": None,
        "occurred_at": AT,
        "cycle_id": 42,
    }
    return AlertFacts(**(base | extra))  # type: ignore[arg-type]


def test_degraded_payload_is_exact() -> None:
    degraded = facts(
        Event.SERVICE_DEGRADED,
        reason="6 of the last 12 checks failed",
        status_code=503,
        failures=6,
        window=12,
    )
    assert build_alert(degraded, EN) == {
        "id": alert_id(degraded),
        "event": "service_degraded",
        "title": "🟠 Service Degraded: api",
        "message": "**Item:** api\n**Status:** degraded\n**Previous status:** healthy\n"
        "**Reason:** 6 of the last 12 checks failed\n**HTTP status:** 503\n"
        "**Failures:** 6/12\n**Host:** host-1\n**Time:** 2026-01-01T00:00:00+00:00",
        "item": "api",
        "kind": "http",
        "status": "degraded",
        "previous_status": "healthy",
        "reason": "6 of the last 12 checks failed",
        "status_code": 503,
        "latency_ms": None,
        "timestamp": "2026-01-01T00:00:00+00:00",
        "occurred_at": AT,
        "cycle_id": 42,
        "host": "host-1",
        "version": "1.2.3",
        "failures": 6,
        "window": 12,
    }


def test_internet_down_lists_the_affected_services() -> None:
    down = facts(
        Event.INTERNET_DOWN, "internet", kind="internet", status="down", affected=["a", "b"]
    )
    body = build_alert(down, EN)
    assert (body["item"], body["kind"], body["affected"]) == ("internet", "internet", ["a", "b"])
    assert "**Affected:** a, b\n" in body["message"]
    assert build_alert(down, ES)["message"].count("**Afectados:** a, b") == 1


def test_an_empty_affected_list_is_sent_but_not_written_in_the_message() -> None:
    body = build_alert(facts(Event.INTERNET_DOWN, "internet", affected=[]), EN)
    assert body["affected"] == [] and "Affected" not in body["message"]


def test_events_without_the_new_facts_keep_their_fields() -> None:
    body = build_alert(facts(Event.SERVICE_DOWN, status="down"), EN)
    assert not {"failures", "window", "affected"} & set(body)


TITLES = [
    (Event.SERVICE_DEGRADED, "🟠 Service Degraded: api", "🟠 Servicio Degradado: api"),
    (
        Event.SERVICE_DEGRADED_CLEARED,
        "✅ Service No Longer Degraded: api",
        "✅ Servicio Ya No Degradado: api",
    ),
    (Event.SERVICE_FLAPPING, "🔁 Service Flapping: api", "🔁 Servicio Oscilando: api"),
    (
        Event.SERVICE_FLAPPING_ENDED,
        "🟰 Service Stable Again: api",
        "🟰 Servicio Estable de Nuevo: api",
    ),
    (Event.INTERNET_DOWN, "🌐 Internet Down", "🌐 Internet Caído"),
    (Event.INTERNET_RECOVERED, "✅ Internet Recovered", "✅ Internet Recuperado"),
    (Event.DOCKER_UNREACHABLE, "🐳 Docker Engine Unreachable", "🐳 Motor Docker Inaccesible"),
    (Event.DOCKER_RECOVERED, "✅ Docker Engine Recovered", "✅ Motor Docker Recuperado"),
]


@pytest.mark.parametrize(("event", "en", "es"), TITLES, ids=[t[0].value for t in TITLES])
def test_titles_in_both_languages(event: Event, en: str, es: str) -> None:
    assert build_alert(facts(event), EN)["title"] == en
    assert build_alert(facts(event), ES)["title"] == es
