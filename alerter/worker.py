"""The meaning of the dead-man's-switch Worker's heartbeat replies, as debounce observations."""

from __future__ import annotations

from alerter.debounce import Observation

HEALTHY = "healthy"
BLIND = "blind"
PARTIAL = "partial_update_failure"
CRITICAL = "critical"
UNEXPECTED = "unexpected_reply"
UNREACHABLE = "unreachable"

_BY_CODE = {200: HEALTHY, 220: BLIND, 221: PARTIAL, 500: CRITICAL}

MEANINGS = {
    "en": {
        HEALTHY: "the worker accepted the heartbeat",
        BLIND: "the worker is blind: it cannot see this monitor's reports",
        PARTIAL: "the worker reported a partial update failure",
        CRITICAL: "the worker reported a critical error",
        UNEXPECTED: "the worker answered with an unexpected status",
        UNREACHABLE: "the worker did not answer",
    },
    "es": {
        HEALTHY: "el worker aceptó el heartbeat",
        BLIND: "el worker está ciego: no ve los reportes de este monitor",
        PARTIAL: "el worker informó un fallo parcial de actualización",
        CRITICAL: "el worker informó un error crítico",
        UNEXPECTED: "el worker respondió con un estado inesperado",
        UNREACHABLE: "el worker no respondió",
    },
}


def worker_status(status_code: int | None) -> str:
    """200 is healthy; 220/221/500 have their own meaning; anything else is unexpected."""
    if status_code is None:
        return UNREACHABLE
    return _BY_CODE.get(status_code, UNEXPECTED)


def worker_observation(status_code: int | None) -> Observation:
    status = worker_status(status_code)
    return Observation(status=status, failing=status != HEALTHY)


def worker_reason(
    status_code: int | None, error: str | None, internet_status: str, language: str
) -> str:
    """Human reason for a worker state; for no answer, says what the internet check saw."""
    meaning = MEANINGS[language][worker_status(status_code)]
    if status_code is not None:
        return f"{meaning} (HTTP {status_code})"
    if language == "es":
        internet = "correcta" if internet_status == "healthy" else f"fallida ({internet_status})"
        return f"{meaning} ({error or 'sin respuesta'}); verificación de internet: {internet}"
    internet = "passed" if internet_status == "healthy" else f"failed ({internet_status})"
    return f"{meaning} ({error or 'no answer'}); internet check {internet}"
