"""The exporter's view of its database: the current trouble, error counts and retry pacing."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hbmon.db.retry import Backoff
from hbmon.db.trouble import Trouble, TroubleLog, classify, describe
from hbmon.logs import get_logger

log = get_logger("exporter")
# While cycles cannot be stored, a write is retried after 1, then 2 intervals, never longer:
# cycles wait in memory, and a cleared condition must show within two intervals.
STORE_RETRY_CAP_INTERVALS = 2


class StoreHealth:
    """Counts refused writes by reason and logs a line only when the condition changes."""

    def __init__(self, interval: float) -> None:
        self._lock = threading.Lock()
        self._log = TroubleLog()
        self.errors: Counter[Trouble] = Counter()
        self.backoff = Backoff(interval, STORE_RETRY_CAP_INTERVALS * interval)
        self.error: str | None = None
        self.since: float | None = None
        self.backlog = 0

    @property
    def trouble(self) -> Trouble | None:
        return self._log.current

    def failed(self, exc: BaseException, backlog: int) -> None:
        trouble, error, now = classify(exc), describe(exc), time.time()
        with self._lock:
            self.errors[trouble] += 1
            self.error, self.backlog = error, backlog
            if self.since is None:
                self.since = now
        retry_in = self.backoff.failed(time.monotonic())
        if self._log.observe(trouble):
            log.error(
                "cycle.store_failed",
                reason=trouble.value,
                error=error,
                backlog=backlog,
                retry_in_s=retry_in,
            )

    def waiting(self, backlog: int) -> None:
        """A write was not attempted (backing off): only the backlog grew."""
        with self._lock:
            self.backlog = backlog

    def stored(self, cycles: int) -> None:
        with self._lock:
            failing_since, self.since, self.error, self.backlog = self.since, None, None, 0
        self.backoff.succeeded()
        if self._log.observe(None) and failing_since is not None:
            log.info(
                "cycle.store_recovered",
                cycles=cycles,
                failed_for_s=round(time.time() - failing_since, 1),
            )


class StoreCollector(Collector):
    """`heartbeat_store_errors_total` by reason (every reason, zeros included) and the gauges
    an operator alerts on."""

    def __init__(self, health: StoreHealth) -> None:
        self._health = health

    def collect(self) -> Iterator[Metric]:
        health = self._health
        errors = CounterMetricFamily(
            "heartbeat_store_errors",
            "Cycle writes the database refused, by reason.",
            labels=("process", "reason"),
        )
        for trouble in Trouble:
            errors.add_metric(("exporter", trouble.value), health.errors[trouble])
        yield errors
        failing = GaugeMetricFamily(
            "heartbeat_store_failing",
            "1 while the last attempt to store a cycle failed.",
            labels=("process",),
        )
        failing.add_metric(("exporter",), 1.0 if health.trouble is not None else 0.0)
        yield failing
        yield GaugeMetricFamily(
            "heartbeat_store_backlog_cycles",
            "Cycles kept in memory, waiting for the database to accept them.",
            value=health.backlog,
        )
