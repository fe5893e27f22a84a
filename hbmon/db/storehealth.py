"""Which parts of one process cannot write the database, why, and the refusals by reason."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hbmon.db.trouble import Trouble, classify, describe


@dataclass(frozen=True)
class Refusal:
    """One refused write: its reason, SQLite's own words, and whether the condition changed."""

    trouble: Trouble
    error: str
    changed: bool


@dataclass(frozen=True)
class Failing:
    trouble: Trouble
    error: str
    since: float


class StoreHealth(Collector):
    """Thread-safe; shared by the parts of one process that write (each names itself a `part`),
    and the collector of `heartbeat_store_errors_total` and `heartbeat_store_failing`."""

    def __init__(self, process: str) -> None:
        self.process = process
        self._lock = threading.Lock()
        self.errors: Counter[Trouble] = Counter()
        self._failing: dict[str, Failing] = {}

    def count(self, exc: BaseException) -> Trouble:
        """Count a refusal of a write that health does not depend on (housekeeping)."""
        trouble = classify(exc)
        with self._lock:
            self.errors[trouble] += 1
        return trouble

    def failed(self, part: str, exc: BaseException) -> Refusal:
        """Count a refusal and mark `part` failing until it calls `succeeded`."""
        trouble, error = self.count(exc), describe(exc)
        with self._lock:
            before = self._failing.get(part)
            since = before.since if before is not None else time.time()
            self._failing[part] = Failing(trouble, error, since)
        return Refusal(trouble, error, before is None or before.trouble is not trouble)

    def succeeded(self, part: str) -> float | None:
        """The part wrote again; seconds it had been failing, or None when it was not."""
        with self._lock:
            before = self._failing.pop(part, None)
        return None if before is None else round(time.time() - before.since, 1)

    def worst(self) -> Failing | None:
        """The oldest condition still failing, or None when every part can write."""
        with self._lock:
            failing = sorted(self._failing.values(), key=lambda f: f.since)
        return failing[0] if failing else None

    def collect(self) -> Iterator[Metric]:
        errors = CounterMetricFamily(
            "heartbeat_store_errors",
            "Database writes refused, by reason.",
            labels=("process", "reason"),
        )
        with self._lock:
            counts = dict(self.errors)
        for trouble in Trouble:
            errors.add_metric((self.process, trouble.value), counts.get(trouble, 0))
        yield errors
        failing = GaugeMetricFamily(
            "heartbeat_store_failing",
            "1 while the last attempt of any part of the process to write the database failed.",
            labels=("process",),
        )
        failing.add_metric((self.process,), 0.0 if self.worst() is None else 1.0)
        yield failing
