"""The exporter's grid loop: a cycle per tick, a backlog while the database refuses, pruning."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING

import peewee

from exporter.config import ExporterConfig
from exporter.cycle import Cycle, CycleAborted
from exporter.exposition import Exposition
from exporter.metrics import CycleCollector
from exporter.schedule import after, first_tick
from exporter.store import Store
from exporter.storehealth import StoreCollector, StoreHealth
from hbmon import __version__
from hbmon.db.trouble import describe
from hbmon.logs import get_logger

if TYPE_CHECKING:
    from exporter.app import Probing

log = get_logger("exporter")
PRUNE_EVERY_SECONDS = 600.0
STALE_AFTER_INTERVALS = 3
BACKLOG_CYCLES = 360  # cycles kept in memory while the database refuses writes


class GridLoop:
    """Runs cycles on the wall-clock grid until told to stop; stores, publishes and prunes them."""

    def __init__(self, config: ExporterConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.collector = CycleCollector(__version__)
        self.store_health = StoreHealth(config.interval)
        self.exposition = Exposition(self.collector, StoreCollector(self.store_health))
        self._started = time.time()
        self._last_prune = 0.0
        self._backlog: deque[Cycle] = deque(maxlen=BACKLOG_CYCLES)

    def health(self) -> tuple[bool, Mapping[str, object]]:
        """`ok`, or why not: `store_failing` (the last cycle could not be stored) or `stale`."""
        cycle = self.collector.last_cycle
        last = cycle.completed_at if cycle is not None else self._started
        age = time.time() - last
        fresh = age <= STALE_AFTER_INTERVALS * self.config.interval
        trouble = self.store_health.trouble
        status = "store_failing" if trouble is not None else ("ok" if fresh else "stale")
        what = "last cycle" if cycle is not None else "started, no cycle yet"
        body: dict[str, object] = {
            "status": status,
            "detail": f"{what} {age:.1f}s ago",
            "last_cycle_age_s": round(age, 1),
            "backlog_cycles": len(self._backlog),
        }
        if trouble is not None:
            body |= {"store_error": trouble.value, "error": self.store_health.error}
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
        if not self.store_health.backoff.due(time.monotonic()):
            self.store_health.waiting(len(self._backlog))
            return None
        cycle_id, written = None, 0
        try:
            while self._backlog:
                cycle_id = self.store.write(self._backlog[0])
                self._backlog.popleft()
                written += 1
        except peewee.DatabaseError as exc:
            self.store_health.failed(exc, len(self._backlog))
            return None
        self.store_health.stored(written)
        return cycle_id

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
