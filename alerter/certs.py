"""Certificate expiry notices: a pure fold of each service's certificate notAfter into alerts.

`certificate_expiring` once per certificate (keyed by its notAfter) that expires within the
warning window; `certificate_renewed` once the notAfter moves past the one warned about. A
renewal nobody was warned about sends nothing (as in Uptime Kuma): routine renewals long before
expiry would otherwise alert every few weeks per service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from alerter.model import Event, NewAlert
from alerter.payload import AlertFacts, Context, alert_body, alert_id, local_timestamp
from hbmon.db.records import Check, Cycle

DAY = 86400.0
_TITLES = {
    "en": {
        Event.CERTIFICATE_EXPIRING: "🔐 Certificate Expiring: {item}",
        Event.CERTIFICATE_RENEWED: "✅ Certificate Renewed: {item}",
    },
    "es": {
        Event.CERTIFICATE_EXPIRING: "🔐 Certificado por Vencer: {item}",
        Event.CERTIFICATE_RENEWED: "✅ Certificado Renovado: {item}",
    },
}
_EXPIRES_LABEL = {"en": "Certificate expires", "es": "El certificado vence"}


class CertNotice(NamedTuple):
    """What was announced for a service: the notAfter (UTC epoch seconds) of the certificate
    warned about last, and whether its renewal was announced."""

    warned: float
    renewed: bool = False


def advance(
    notice: CertNotice | None, not_after: float, now: float, window: float
) -> tuple[CertNotice | None, Event | None]:
    """Fold one observed notAfter into a service's notice; `window` is in seconds (> 0).

    Certificates older than the one warned about (another backend behind a balancer still
    serving it) neither warn nor renew again; an already expired one is a failing probe.
    """
    if notice is not None and not notice.renewed and not_after > notice.warned:
        return notice._replace(renewed=True), Event.CERTIFICATE_RENEWED
    newer = notice is None or not_after > notice.warned
    if newer and now < not_after <= now + window:
        return CertNotice(not_after), Event.CERTIFICATE_EXPIRING
    return notice, None


@dataclass
class CertEffects:
    """Changed notices to save, notices of services no longer checked, and alerts to enqueue."""

    notices: dict[str, CertNotice] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    alerts: list[NewAlert] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.notices or self.retired)


def cycle_notices(
    notices: Mapping[str, CertNotice], cycle: Cycle, window: float, context: Context
) -> CertEffects:
    """Every check of the cycle that carries a certificate's notAfter, against `notices`."""
    effects = CertEffects()
    for check in cycle.checks:
        if check.tls_cert_expiry is None:
            continue
        notice, event = advance(
            notices.get(check.name), check.tls_cert_expiry, cycle.started_at, window
        )
        if event is not None and notice is not None:
            effects.notices[check.name] = notice
            alert = cert_alert(event, check, check.tls_cert_expiry, cycle, context)
            effects.alerts.append(alert)
    if notices:
        present = {check.name for check in cycle.checks}
        effects.retired = [name for name in notices if name not in present]
    return effects


def cert_alert(
    event: Event, check: Check, not_after: float, cycle: Cycle, context: Context
) -> NewAlert:
    """The alert, in the shape of every other alert plus `expires_at` and `days_left`."""
    expires_at = local_timestamp(not_after, context.tz)
    days_left = max(0, int((not_after - cycle.started_at) // DAY))
    facts = AlertFacts(
        event=event,
        item=check.name,
        kind=check.kind,
        status=check.status,
        previous_status=None,
        reason=_reason(event, days_left, expires_at, context.language),
        status_code=check.status_code,
        latency_ms=None,
        occurred_at=cycle.completed_at,
        cycle_id=cycle.id,
    )
    # Keyed by the certificate, not the cycle: the same notice enqueued again is a no-op.
    key = alert_id(replace(facts, cycle_id=None, occurred_at=not_after))
    heading = _TITLES[context.language][facts.event].format(item=facts.item)
    body = alert_body(facts, context, key=key, heading=heading)
    body |= {"expires_at": expires_at, "days_left": days_left}
    label = _EXPIRES_LABEL[context.language]
    body["message"] += f"\n**{label}:** {expires_at}"
    return NewAlert(key, check.name, event, cycle.id, body)


def _reason(event: Event, days_left: int, expires_at: str, language: str) -> str:
    if language == "es":
        if event is Event.CERTIFICATE_RENEWED:
            return f"nuevo certificado válido hasta {expires_at}"
        return f"el certificado vence en {days_left} {'día' if days_left == 1 else 'días'}"
    if event is Event.CERTIFICATE_RENEWED:
        return f"new certificate valid until {expires_at}"
    return f"certificate expires in {days_left} {'day' if days_left == 1 else 'days'}"
