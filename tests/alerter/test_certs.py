"""Certificate notices are a pure fold: tables of observed notAfters, exact alert bodies."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from alerter.certs import DAY, CertNotice, advance, cycle_notices
from alerter.model import Event
from alerter.payload import Context
from hbmon.db.records import Check, Cycle

LIMA = ZoneInfo("America/Lima")
EN = Context("en", LIMA, "host-1", "1.2.3")
ES = Context("es", LIMA, "host-1", "1.2.3")
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z
WINDOW = 14 * DAY
FAR, SOON, SOONER = NOW + 90 * DAY, NOW + 3 * DAY, NOW + 2 * DAY
EXPIRING, RENEWED = Event.CERTIFICATE_EXPIRING, Event.CERTIFICATE_RENEWED

# name -> (notAfter seen by each cycle, events sent)
SEQUENCES: dict[str, tuple[list[float], list[Event | None]]] = {
    "far from expiry: nothing": ([FAR, FAR], [None, None]),
    "inside the window: one warning per certificate": ([SOON] * 3, [EXPIRING, None, None]),
    "exactly at the window's edge warns": ([NOW + WINDOW], [EXPIRING]),
    "just outside the window does not": ([NOW + WINDOW + 1], [None]),
    "already expired: a failing probe, not a notice": ([NOW - DAY, NOW], [None, None]),
    "renewed after a warning": ([SOON, FAR, FAR], [EXPIRING, RENEWED, None]),
    "renewed without a warning: nothing": ([FAR, FAR + 90 * DAY], [None, None]),
    "balancer serving old and new certificates: once each": (
        [SOON, FAR, SOON, FAR, SOON],
        [EXPIRING, RENEWED, None, None, None],
    ),
    "renewed to a certificate that also expires soon": (
        [SOONER, SOON, SOON],
        [EXPIRING, RENEWED, EXPIRING],
    ),
    "an older certificate than the one warned about is ignored": ([SOON, SOONER], [EXPIRING, None]),
}


@pytest.mark.parametrize(("seen", "events"), SEQUENCES.values(), ids=SEQUENCES.keys())
def test_notices_per_certificate(seen: list[float], events: list[Event | None]) -> None:
    notice: CertNotice | None = None
    sent = []
    for not_after in seen:
        notice, event = advance(notice, not_after, NOW, WINDOW)
        sent.append(event)
    assert sent == events


def test_a_restart_mid_sequence_resumes_from_the_saved_notice() -> None:
    saved, event = advance(None, SOON, NOW, WINDOW)
    assert event is EXPIRING
    assert saved is not None
    restored = CertNotice(saved.warned, saved.renewed)  # what the database gives back
    assert advance(restored, SOON, NOW + DAY, WINDOW) == (restored, None)
    assert advance(restored, FAR, NOW + DAY, WINDOW)[1] is RENEWED


def cycle(*checks: Check, cycle_id: int = 7) -> Cycle:
    return Cycle(cycle_id, NOW, NOW + 0.5, "healthy", checks)


def check(name: str, not_after: float | None) -> Check:
    return Check(name, "http", "healthy", 200, 12.0, None, not_after)


def test_alert_body_has_the_usual_fields_plus_expiry() -> None:
    effects = cycle_notices({}, cycle(check("api", SOON + 3600)), WINDOW, EN)
    (alert,) = effects.alerts
    assert effects.notices == {"api": CertNotice(SOON + 3600)}
    assert (alert.item, alert.event, alert.cycle_id) == ("api", EXPIRING, 7)
    assert alert.body == {
        "id": alert.alert_id,
        "event": "certificate_expiring",
        "title": "🔐 Certificate Expiring: api",
        "message": "**Item:** api\n**Status:** healthy\n**Reason:** certificate expires in 3 days"
        "\n**HTTP status:** 200\n**Host:** host-1\n**Time:** 2025-12-31T19:00:00-05:00"
        "\n**Certificate expires:** 2026-01-03T20:00:00-05:00",
        "item": "api",
        "kind": "http",
        "status": "healthy",
        "previous_status": None,
        "reason": "certificate expires in 3 days",
        "status_code": 200,
        "latency_ms": None,
        "timestamp": "2025-12-31T19:00:00-05:00",
        "occurred_at": NOW + 0.5,
        "cycle_id": 7,
        "host": "host-1",
        "version": "1.2.3",
        "expires_at": "2026-01-03T20:00:00-05:00",
        "days_left": 3,
    }


def test_spanish_titles_and_reasons() -> None:
    (expiring,) = cycle_notices({}, cycle(check("api", NOW + DAY + 60)), WINDOW, ES).alerts
    assert expiring.body["title"] == "🔐 Certificado por Vencer: api"
    assert expiring.body["reason"] == "el certificado vence en 1 día"
    assert expiring.body["message"].endswith("**El certificado vence:** 2026-01-01T19:01:00-05:00")
    notices = {"api": CertNotice(SOON)}
    (renewed,) = cycle_notices(notices, cycle(check("api", FAR)), WINDOW, ES).alerts
    assert renewed.body["title"] == "✅ Certificado Renovado: api"
    assert renewed.body["reason"] == "nuevo certificado válido hasta 2026-03-31T19:00:00-05:00"


def test_alert_id_is_the_certificates_not_the_cycles() -> None:
    first = cycle_notices({}, cycle(check("api", SOON), cycle_id=7), WINDOW, EN).alerts[0]
    again = cycle_notices({}, cycle(check("api", SOON), cycle_id=8), WINDOW, EN).alerts[0]
    other = cycle_notices({}, cycle(check("api", SOONER), cycle_id=8), WINDOW, EN).alerts[0]
    assert first.alert_id == again.alert_id != other.alert_id


def test_checks_without_a_certificate_do_nothing_and_removed_services_are_retired() -> None:
    notices = {"gone": CertNotice(SOON), "api": CertNotice(SOON)}
    effects = cycle_notices(notices, cycle(check("api", None), check("web", FAR)), WINDOW, EN)
    assert (effects.notices, effects.alerts, effects.retired) == ({}, [], ["gone"])
    assert not cycle_notices({}, cycle(check("web", FAR)), WINDOW, EN)
