"""Writes each cycle to SQLite in one transaction, feeds the rollups, prunes old history, moves
an older database's checks into the compact storage between cycles."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import peewee

from exporter.cycle import Cycle, ServiceOutcome
from exporter.history.recorder import Recorder
from exporter.probes import base
from hbmon.db import cycles, rollups, upgrade_v3
from hbmon.db.checks import FACT_COLUMNS
from hbmon.db.checkwriter import ROW_COLUMNS, CheckWriter, Entry
from hbmon.db.connection import open_database
from hbmon.db.cycles import MonitoringCycle
from hbmon.db.trouble import describe
from hbmon.logs import get_logger

log = get_logger("exporter.store")

PRUNE_BATCH = 200  # cycles per delete transaction: short locks, so the alerter never waits long
PRUNE_MAX_BATCHES = 25  # per prune call; the rest waits for the next call
# Checks of a version-2 database are moved in batches after a cycle is stored, for at most this
# share of the interval (or MIGRATE_BUDGET_S without one): a batch never delays the next cycle.
MIGRATE_SHARE, MIGRATE_BUDGET_S = 0.25, 1.0
# The stored columns, filled straight from a result (issue 14: no wide row per check first).
assert ROW_COLUMNS == (
    "status_code",
    "latency",
    "error_message",
    "connection_reused",
    "dns",
    "connect",
    "tls",
    "ttfb",
    "restart_count",
), ROW_COLUMNS
assert ROW_COLUMNS[4:8] == base.PHASES, base.PHASES
assert FACT_COLUMNS == (
    "ip_family",
    "tls_cert_expiry",
    "container_state",
    "details",
    "depends_on",
    "address_class",
), FACT_COLUMNS
# A probe fact named like a column is stored in it; every other one goes into `details`.
_COLUMN_FACTS = frozenset(f for f in base.Fact if f in ROW_COLUMNS or f in FACT_COLUMNS)
# Plain strings: an Enum member looked up on its class costs a descriptor call, 10,000 x 6 a cycle.
_REUSED, _RESTARTS, _FAMILY, _EXPIRY, _STATE, _PARENT, _CLASS = (
    str(fact)
    for fact in (
        base.Fact.CONNECTION_REUSED,
        base.Fact.RESTART_COUNT,
        base.Fact.IP_FAMILY,
        base.Fact.TLS_CERT_EXPIRY,
        base.Fact.CONTAINER_STATE,
        base.Fact.DEPENDS_ON,
        base.Fact.ADDRESS_CLASS,
    )
)
# json.dumps(..., sort_keys=True) builds a new encoder on every call; this one is made once.
_DETAILS_JSON = json.JSONEncoder(sort_keys=True).encode
# Details texts remembered per store: a service's extra facts (final URL, redirects) rarely
# change from cycle to cycle, and encoding them was a fifth of building a row.
_DETAILS_CACHE_SIZE = 65536


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 3)


def _us(seconds: float | None) -> int | None:
    """Seconds as the integer microseconds the checks table stores."""
    return None if seconds is None else round(seconds * 1_000_000.0)


class Store:
    """The exporter's only way into the database (it is the sole writer of its tables)."""

    def __init__(
        self,
        path: Path,
        tz: ZoneInfo,
        interval: float | None = None,
        history_days: float = 400.0,
    ) -> None:
        self._tz = tz
        self._interval = interval
        self._history_days = history_days
        self._details_cache: dict[tuple[object, ...], str] = {}
        self.database: peewee.SqliteDatabase = open_database(path)
        cycles.migrate(self.database, tz)
        rollups.migrate(self.database)
        self._checks = CheckWriter(self.database)
        self._migrating = upgrade_v3.pending(self.database)
        if self._migrating:
            log.info("store.migration_started", table=upgrade_v3.PENDING)
        self.history = Recorder(self.database, tz)
        self.history.recover(time.time())

    def close(self) -> None:
        self.database.close()

    def write(self, cycle: Cycle) -> int:
        """Store a cycle and all its checks atomically; returns the new cycle id."""
        try:
            with self.database.atomic("IMMEDIATE"):
                cycle_id = cycles.insert_cycle(self._cycle_row(cycle))
                self._checks.insert_entries([self._entry(cycle_id, o) for o in cycle.services])
        except BaseException:
            self._checks.forget()  # the ids and facts it remembered may have been rolled back
            raise
        self.history.observe(
            cycle.started_at,
            ((o.spec.name, o.result.status, _ms(o.result.latency_s)) for o in cycle.services),
        )
        if self._migrating:
            self._migrate()
        return cycle_id

    def _migrate(self) -> None:
        """Move a share of an older database's checks; a refusal is retried after the next cycle."""
        budget = MIGRATE_BUDGET_S if self._interval is None else MIGRATE_SHARE * self._interval
        try:
            moved = upgrade_v3.move(self.database, self._checks, budget)
        except peewee.DatabaseError as exc:
            log.error("store.migration_failed", error=describe(exc))
            return
        self._migrating = upgrade_v3.pending(self.database)
        if self._migrating:
            log.info("store.migration_started", table=upgrade_v3.PENDING)
        if not self._migrating:
            log.info("store.migration_completed", moved=moved)

    def _cycle_row(self, cycle: Cycle) -> dict[peewee.Field, Any]:
        host = cycle.host
        local = datetime.fromtimestamp(cycle.started_at, self._tz)
        disk = None if host.disk_ratio is None else round(host.disk_ratio * 100, 2)
        return {
            MonitoringCycle.started_at: cycle.started_at,
            MonitoringCycle.timestamp_local: local.isoformat(timespec="seconds"),
            MonitoringCycle.cpu_percent: round(host.cpu_ratio * 100.0, 2),
            MonitoringCycle.ram_percent: round(host.memory_ratio * 100.0, 2),
            MonitoringCycle.ram_used_mb: round(host.memory_used_bytes / 1_048_576, 1),
            MonitoringCycle.disk_percent: disk,
            MonitoringCycle.uptime_seconds: int(host.uptime_seconds),
            MonitoringCycle.container_count: cycle.container_count,
            MonitoringCycle.internet_status: cycle.internet.status.value,
            MonitoringCycle.ping_ms: _ms(cycle.internet.latency_s),
            MonitoringCycle.cycle_duration_ms: _ms(cycle.duration_s),
            MonitoringCycle.skipped_ticks: cycle.skipped_ticks,
            MonitoringCycle.interval_seconds: self._interval,
            MonitoringCycle.completed_at: cycle.completed_at,
        }

    def _entry(self, cycle_id: int, outcome: ServiceOutcome) -> Entry:
        """The check as stored: its ROW_COLUMNS and FACT_COLUMNS values (a fact nothing names
        goes into `details`)."""
        result = outcome.result
        facts, phase = result.facts, result.phases.get
        extra = {key: value for key, value in facts.items() if key not in _COLUMN_FACTS}
        values = (
            result.status_code,
            _us(result.latency_s),
            result.reason,
            facts.get(_REUSED),
            _us(phase("dns")),
            _us(phase("connect")),
            _us(phase("tls")),
            _us(phase("ttfb")),
            facts.get(_RESTARTS),
        )
        stored = (
            facts.get(_FAMILY),
            facts.get(_EXPIRY),
            facts.get(_STATE),
            self._details(extra) if extra else None,
            facts.get(_PARENT),
            facts.get(_CLASS),
        )
        return cycle_id, outcome.spec.name, outcome.spec.kind, result.status.value, values, stored

    def _details(self, extra: dict[str, base.FactValue]) -> str:
        # The types are part of the key: True == 1 == 1.0, but their JSON differs.
        key = (*extra.items(), *map(type, extra.values()))
        text = self._details_cache.get(key)
        if text is None:
            if len(self._details_cache) >= _DETAILS_CACHE_SIZE:
                self._details_cache.clear()
            text = self._details_cache[key] = _DETAILS_JSON(extra)
        return text

    def prune(self, cutoff: float) -> int:
        """Delete cycles started before `cutoff` (and their checks) and rollups older than
        `history_days`; returns cycles deleted."""
        self._prune_history(time.time() - self._history_days * 86400.0)
        deleted = 0
        for _ in range(PRUNE_MAX_BATCHES):
            with self.database.atomic("IMMEDIATE"):
                removed = cycles.delete_cycles_before(cutoff, PRUNE_BATCH)
            if not removed:
                break
            deleted += removed
        with self.database.atomic("IMMEDIATE"):
            cycles.delete_superseded_facts(self.database)
        return deleted

    def _prune_history(self, cutoff: float) -> None:
        day = datetime.fromtimestamp(cutoff, self._tz).date().isoformat()
        with self.database.atomic("IMMEDIATE"):
            rollups.delete_before(self.database, int(cutoff), day)
