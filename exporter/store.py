"""Writes each cycle to SQLite in one transaction and prunes old history in small batches."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from exporter.cycle import Cycle, ServiceOutcome
from exporter.probes import base
from hbmon.db.connection import open_database
from hbmon.db.cycles import MonitoringCycle, ServiceCheck
from hbmon.db.schema import migrate

PRUNE_BATCH = 200  # cycles per delete transaction: short locks, so the alerter never waits long
PRUNE_MAX_BATCHES = 25  # per prune call; the rest waits for the next call
_COLUMN_FACTS = {
    base.FACT_IP_FAMILY: "ip_family",
    base.FACT_CONNECTION_REUSED: "connection_reused",
    base.FACT_TLS_CERT_EXPIRY: "tls_cert_expiry",
    base.FACT_CONTAINER_STATE: "container_state",
    base.FACT_RESTART_COUNT: "restart_count",
}

_CHECK_COLUMNS = (
    "cycle_id",
    "service_name",
    "kind",
    "status",
    "status_code",
    "latency_ms",
    "error_message",
    *(f"{phase}_ms" for phase in base.PHASES),
    *_COLUMN_FACTS.values(),
    "details",
)
# Only our own column names are interpolated; values go through placeholders.
_INSERT_CHECK = (
    f"INSERT INTO service_checks ({', '.join(_CHECK_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in _CHECK_COLUMNS)})"
)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


class Store:
    """The exporter's only way into the database (it is the sole writer of its tables)."""

    def __init__(self, path: Path, tz: ZoneInfo, interval: float | None = None) -> None:
        self._tz = tz
        self._interval = interval
        self.database: peewee.SqliteDatabase = open_database(path)
        migrate(self.database, tz)

    def close(self) -> None:
        self.database.close()

    def write(self, cycle: Cycle) -> int:
        """Store a cycle and all its checks atomically; returns the new cycle id."""
        with self.database.atomic("IMMEDIATE"):
            row = MonitoringCycle.create(**self._cycle_row(cycle))
            checks = [self._check_row(row.id, outcome) for outcome in cycle.services]
            if checks:
                # executemany on plain tuples: peewee's insert_many costs ~0.2 ms per row here.
                values = [tuple(check[c] for c in _CHECK_COLUMNS) for check in checks]
                self.database.cursor().executemany(_INSERT_CHECK, values)
        return int(row.id)

    def _cycle_row(self, cycle: Cycle) -> dict[str, Any]:
        host = cycle.host
        local = datetime.fromtimestamp(cycle.started_at, self._tz)
        return {
            "started_at": cycle.started_at,
            "timestamp_local": local.isoformat(timespec="seconds"),
            "cpu_percent": round(host.cpu_ratio * 100.0, 2),
            "ram_percent": round(host.memory_ratio * 100.0, 2),
            "ram_used_mb": round(host.memory_used_bytes / 1_048_576, 1),
            "disk_percent": None if host.disk_ratio is None else round(host.disk_ratio * 100, 2),
            "uptime_seconds": int(host.uptime_seconds),
            "container_count": cycle.container_count,
            "internet_status": cycle.internet.status.value,
            "ping_ms": _ms(cycle.internet.latency_s),
            "cycle_duration_ms": _ms(cycle.duration_s),
            "skipped_ticks": cycle.skipped_ticks,
            "interval_seconds": self._interval,
            "completed_at": cycle.completed_at,
        }

    @staticmethod
    def _check_row(cycle_id: int, outcome: ServiceOutcome) -> dict[str, Any]:
        result = outcome.result
        row: dict[str, Any] = {
            "cycle_id": cycle_id,
            "service_name": outcome.spec.name,
            "kind": outcome.spec.kind,
            "status": result.status.value,
            "status_code": result.status_code,
            "latency_ms": _ms(result.latency_s),
            "error_message": result.reason,
        }
        for phase in base.PHASES:
            row[f"{phase}_ms"] = _ms(result.phases.get(phase))
        extra = {}
        for key, value in result.facts.items():
            if key in _COLUMN_FACTS:
                row[_COLUMN_FACTS[key]] = value
            else:
                extra[key] = value
        for column in _COLUMN_FACTS.values():
            row.setdefault(column, None)
        row["details"] = json.dumps(extra, sort_keys=True) if extra else None
        return row

    def prune(self, cutoff: float) -> int:
        """Delete cycles started before `cutoff` (and their checks); returns cycles deleted."""
        deleted = 0
        for _ in range(PRUNE_MAX_BATCHES):
            with self.database.atomic("IMMEDIATE"):
                ids = [
                    r.id
                    for r in MonitoringCycle.select(MonitoringCycle.id)
                    .where(MonitoringCycle.started_at < cutoff)
                    .order_by(MonitoringCycle.id)
                    .limit(PRUNE_BATCH)
                ]
                if not ids:
                    break
                ServiceCheck.delete().where(ServiceCheck.cycle.in_(ids)).execute()
                MonitoringCycle.delete().where(MonitoringCycle.id.in_(ids)).execute()
            deleted += len(ids)
        return deleted
