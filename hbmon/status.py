"""The probe status vocabulary shared by the exporter (writer) and the alerter (reader)."""

from enum import StrEnum


class Status(StrEnum):
    """Outcome of one probe; stored verbatim in `service_checks.status`."""

    HEALTHY = "healthy"
    ERROR = "error"  # the target answered with an unhealthy HTTP status
    TIMEOUT = "timeout"  # the probe's total budget ran out
    DOWN = "down"  # refused, DNS/TLS failure, reset, container not running or unhealthy
    UNKNOWN = "unknown"  # we could not tell (probe bug, Docker engine unreachable)
    STARTING = "starting"  # container health check still in its start period: neither up nor down


FAILURE_STATUSES = frozenset({Status.ERROR, Status.TIMEOUT, Status.DOWN, Status.UNKNOWN})
