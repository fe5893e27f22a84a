"""The alerter's /metrics (a custom collector on a private registry) and /healthz endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence

import peewee
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerter.delivery import outbox
from alerter.model import AlertResult, Event, HeartbeatResult, ReminderEvent
from alerter.stats import Snapshot, Stats
from hbmon.db import quiet

HEALTHY_LOOP_AGE = 5.0


class AlerterCollector(Collector):
    """Builds fresh families from the stats and the outbox on every scrape."""

    def __init__(self, stats: Stats, db: peewee.SqliteDatabase, channels: Sequence[str]) -> None:
        self.stats = stats
        self.db = db
        self.channels = tuple(channels)  # the configured kinds: their series exist from start

    def collect(self) -> Iterator[Metric]:
        snap = self.stats.snapshot()
        yield _alert_family(snap, self.channels)
        yield from self._database_families()
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
        yield from self.stats.store.collect()

    def _database_families(self) -> Iterator[Metric]:
        now = time.time()
        try:
            summary = outbox.pending_summary(self.db)
            silences = quiet.active_count(self.db, now)
        except peewee.DatabaseError:
            return  # unreadable now (read-only or immutable files): the rest is still served
        finally:
            self.db.close()  # each scrape runs on its own short-lived server thread
        pending = GaugeMetricFamily(
            "heartbeat_alert_outbox_pending", "Alerts waiting for delivery.", labels=["channel"]
        )
        age = GaugeMetricFamily(
            "heartbeat_alert_oldest_pending_age_seconds",
            "Age of the oldest undelivered alert (0 when none).",
            labels=["channel"],
        )
        for channel in sorted({*self.channels, *summary}):
            count, oldest = summary.get(channel, (0, now))
            pending.add_metric([channel], count)
            age.add_metric([channel], max(0.0, now - oldest))
        yield pending
        yield age
        yield GaugeMetricFamily(
            "heartbeat_silences_active",
            "Silences in effect now (heartbeat-alerter silence list).",
            value=silences,
        )


def _alert_family(snap: Snapshot, channels: Sequence[str]) -> CounterMetricFamily:
    alerts = CounterMetricFamily(
        "heartbeat_alerts",
        "Alert delivery outcomes by channel and event.",
        labels=["channel", "event", "result"],
    )
    seen = {key[0] for key in snap.alerts}
    for channel in sorted({*channels, *seen}):
        for event in (*Event, *ReminderEvent):
            for result in AlertResult:
                count = snap.alerts.get((channel, event, result), 0)
                alerts.add_metric([channel, event, result], count)
    return alerts


def _heartbeat_family(snap: Snapshot) -> CounterMetricFamily:
    beats = CounterMetricFamily("heartbeat_heartbeats", "Heartbeats by result.", labels=["result"])
    for result in HeartbeatResult:
        beats.add_metric([result], snap.heartbeats.get(result, 0))
    return beats


def build_registry(
    stats: Stats, db: peewee.SqliteDatabase, channels: Sequence[str]
) -> CollectorRegistry:
    """A private registry holding only the alerter's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AlerterCollector(stats, db, channels))
    return registry


def health(stats: Stats) -> tuple[bool, str]:
    """Healthy while the tail loop keeps polling and every part can write the database; the
    detail says how far behind it is, or why not (`store_failing: disk_full`).

    Not before the tail loop's first pass: until then the cursor is not set, and a cycle written
    meanwhile would fall before the first start's replay point (`starting`).
    """
    snap = stats.snapshot()
    failing = stats.store.worst()
    age = None if snap.last_loop is None else round(time.monotonic() - snap.last_loop, 3)
    ok = age is not None and age < HEALTHY_LOOP_AGE and failing is None
    body: dict[str, object] = {"ok": ok, "loop_age_seconds": age, "lag_cycles": snap.lag_cycles}
    if failing is not None:
        body |= {"reason": f"store_failing: {failing.trouble.value}", "error": failing.error}
    elif age is None:
        body["reason"] = "starting"
    elif not ok:
        body["reason"] = "stale"
    return ok, json.dumps(body)
