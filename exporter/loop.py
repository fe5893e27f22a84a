"""The exporter's grid loop: a cycle per tick, a backlog while the database refuses, pruning."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import peewee
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporter.config import ExporterConfig
from exporter.cycle import Cycle, CycleAborted
from exporter.exposition import Exposition
from exporter.metrics import CycleCollector
from exporter.schedule import after, first_tick
from exporter.store import Store
from hbmon import __version__
from hbmon.db.connection import limit_busy_timeout
from hbmon.db.retry import Backoff
from hbmon.db.storehealth import StoreHealth
from hbmon.db.trouble import describe
from hbmon.logs import get_logger

if TYPE_CHECKING:
    from exporter.app import Probing

log = get_logger("exporter")
PRUNE_EVERY_SECONDS = 600.0
STALE_AFTER_INTERVALS = 3
BACKLOG_CYCLES = 360  # cycles kept in memory while the database refuses writes
# While cycles cannot be stored, a write is retried after 1, then 2 intervals, never longer:
# cycles wait in memory, and a cleared condition must show within two intervals.
STORE_RETRY_CAP_INTERVALS = 2
STORE_PART = "cycles"
# A cycle write waits at most half an interval for a lock another connection holds: a held
# lock then shows as `locked` within two intervals, never first as `stale`, and the probing
# does not stall behind it.
LOCK_WAIT_INTERVALS = 0.5


class BacklogCollector(Collector):
    """`heartbeat_store_backlog_cycles`: the cycles waiting in memory for the database."""

    def __init__(self, backlog: deque[Cycle]) -> None:
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "heartbeat_store_backlog_cycles",
            "Cycles kept in memory, waiting for the database to accept them.",
            value=len(self._backlog),
        )


class GridLoop:
    """Runs cycles on the wall-clock grid until told to stop; stores, publishes and prunes them."""

    def __init__(self, config: ExporterConfig, store: Store) -> None:
        self.config = config
        self.store = store
        limit_busy_timeout(store.database, LOCK_WAIT_INTERVALS * config.interval)
        self.collector = CycleCollector(__version__)
        self.store_health = StoreHealth("exporter")
        self._retry = Backoff(config.interval, STORE_RETRY_CAP_INTERVALS * config.interval)
        self._backlog: deque[Cycle] = deque(maxlen=BACKLOG_CYCLES)
        self.exposition = Exposition(
            self.collector, self.store_health, BacklogCollector(self._backlog)
        )
        self._started = time.time()
        self._last_prune = 0.0

    def health(self) -> tuple[bool, Mapping[str, object]]:
        """`ok`, or why not: `store_failing` (the last cycle could not be stored) or `stale`."""
        cycle = self.collector.last_cycle
        last = cycle.completed_at if cycle is not None else self._started
        age = time.time() - last
        fresh = age <= STALE_AFTER_INTERVALS * self.config.interval
        failing = self.store_health.worst()
        status = "store_failing" if failing is not None else ("ok" if fresh else "stale")
        what = "last cycle" if cycle is not None else "started, no cycle yet"
        body: dict[str, object] = {
            "status": status,
            "detail": f"{what} {age:.1f}s ago",
            "last_cycle_age_s": round(age, 1),
            "backlog_cycles": len(self._backlog),
        }
        if failing is not None:
            body |= {"store_error": failing.trouble.value, "error": failing.error}
        return status == "ok", body

    def run(self, probes: Probing, stop: threading.Event) -> None:
        interval = self.config.interval
        tick, skipped = first_tick(time.time(), interval), 0
        while not stop.wait(self._until(tick)):
            if tick - time.time() > 0.001:  # woke early: the wall clock went back, realign
                tick = first_tick(time.time(), interval)
                continue
            try:
                cycle = probes.run_cycle(tick, skipped, stop)
            except CycleAborted:
                log.info("cycle.aborted", reason="stop requested while probing")
                break
            self.record(cycle)
            following = after(tick, time.time(), interval)
            if following.skipped:
                log.warning(
                    "cycle.overrun",
                    duration_s=round(cycle.duration_s, 3),
                    skipped_ticks=following.skipped,
                )
            tick, skipped = following.at, following.skipped

    def _until(self, tick: float) -> float:
        """Seconds to wait for `tick`; never more than one interval, even if the clock jumped."""
        return min(max(tick - time.time(), 0.0), self.config.interval)

    def record(self, cycle: Cycle) -> None:
        """Store (or keep for later), publish and log one completed cycle."""
        cycle_id = self._persist(cycle)
        self.collector.publish(cycle)
        self.exposition.cycle_published()
        failing = [o.spec.name for o in cycle.services if not o.result.healthy]
        log.info(
            "cycle.completed",
            cycle_id=cycle_id,
            duration_ms=round(cycle.duration_s * 1000, 1),
            services=len(cycle.services),
            failing=failing,
            internet=cycle.internet.status.value,
            skipped_ticks=cycle.skipped_ticks,
        )
        if cycle_id is not None:
            self._maybe_prune()

    def _persist(self, cycle: Cycle) -> int | None:
        """Write this cycle and any earlier ones the database refused; None if it still refuses."""
        if len(self._backlog) == self._backlog.maxlen:
            log.error("cycle.dropped", started_at=self._backlog[0].started_at)
        self._backlog.append(cycle)
        if not self._retry.due(time.monotonic()):
            return None
        cycle_id, written = None, 0
        try:
            while self._backlog:
                cycle_id = self.store.write(self._backlog[0])
                self._backlog.popleft()
                written += 1
        except peewee.DatabaseError as exc:
            self._store_failed(exc)
            return None
        self._retry.succeeded()
        failed_for = self.store_health.succeeded(STORE_PART)
        if failed_for is not None:
            log.info("cycle.store_recovered", cycles=written, failed_for_s=failed_for)
        return cycle_id

    def _store_failed(self, exc: peewee.DatabaseError) -> None:
        """Count the refusal, pace the retries, and log only a change of condition."""
        retry_in = self._retry.failed(time.monotonic())
        refusal = self.store_health.failed(STORE_PART, exc)
        if refusal.changed:
            log.error(
                "cycle.store_failed",
                reason=refusal.trouble.value,
                error=refusal.error,
                backlog=len(self._backlog),
                retry_in_s=retry_in,
            )

    def _maybe_prune(self) -> None:
        now = time.time()
        if now - self._last_prune < PRUNE_EVERY_SECONDS:
            return
        self._last_prune = now
        try:
            deleted = self.store.prune(now - self.config.retention_days * 86400.0)
        except peewee.DatabaseError as exc:  # a locked database must not stop the probing
            log.error("retention.failed", error=describe(exc), retry_in_s=PRUNE_EVERY_SECONDS)
            return
        if deleted:
            log.info("retention.pruned", cycles=deleted, retention_days=self.config.retention_days)
