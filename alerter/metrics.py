"""The alerter's /metrics (a custom collector on a private registry) and /healthz endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import peewee
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerter import outbox
from alerter.model import AlertResult, Event, HeartbeatResult
from alerter.stats import Snapshot, Stats

HEALTHY_LOOP_AGE = 5.0


class AlerterCollector(Collector):
    """Builds fresh families from the stats and the outbox on every scrape."""

    def __init__(self, stats: Stats, db: peewee.SqliteDatabase) -> None:
        self.stats = stats
        self.db = db

    def collect(self) -> Iterator[Metric]:
        snap = self.stats.snapshot()
        yield _alert_family(snap)
        yield from self._outbox_families()
        yield _heartbeat_family(snap)
        if snap.worker_status_code is not None:
            yield GaugeMetricFamily(
                "heartbeat_worker_status_code",
                "Last heartbeat reply code (0 = unreachable).",
                value=snap.worker_status_code,
            )
        yield GaugeMetricFamily(
            "heartbeat_alerter_lag_cycles",
            "Cycles written by the exporter and not yet processed.",
            value=snap.lag_cycles,
        )

    def _outbox_families(self) -> Iterator[Metric]:
        try:
            pending, oldest = outbox.pending_summary(self.db)
        finally:
            self.db.close()  # each scrape runs on its own short-lived server thread
        yield GaugeMetricFamily(
            "heartbeat_alert_outbox_pending", "Alerts waiting for delivery.", value=pending
        )
        age = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        yield GaugeMetricFamily(
            "heartbeat_alert_oldest_pending_age_seconds",
            "Age of the oldest undelivered alert (0 when none).",
            value=age,
        )


def _alert_family(snap: Snapshot) -> CounterMetricFamily:
    alerts = CounterMetricFamily(
        "heartbeat_alerts", "Alert delivery outcomes by event.", labels=["event", "result"]
    )
    for event in Event:
        for result in AlertResult:
            alerts.add_metric([event, result], snap.alerts.get((event, result), 0))
    return alerts


def _heartbeat_family(snap: Snapshot) -> CounterMetricFamily:
    beats = CounterMetricFamily("heartbeat_heartbeats", "Heartbeats by result.", labels=["result"])
    for result in HeartbeatResult:
        beats.add_metric([result], snap.heartbeats.get(result, 0))
    return beats


def build_registry(stats: Stats, db: peewee.SqliteDatabase) -> CollectorRegistry:
    """A private registry holding only the alerter's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AlerterCollector(stats, db))
    return registry


def health(stats: Stats) -> tuple[bool, str]:
    """Healthy while the tail loop keeps polling; the detail says how far behind it is."""
    snap = stats.snapshot()
    loop_age = time.monotonic() - snap.last_loop
    ok = loop_age < HEALTHY_LOOP_AGE
    return ok, json.dumps(
        {"ok": ok, "loop_age_seconds": round(loop_age, 3), "lag_cycles": snap.lag_cycles}
    )
