"""Process-lifetime counters and gauges the alerter's threads update and /metrics reads."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from alerter.model import SENT_RESULTS, AlertResult, HeartbeatResult
from hbmon.db.storehealth import StoreHealth


@dataclass(frozen=True)
class Snapshot:
    alerts: dict[tuple[str, str, AlertResult], int]  # (channel, event, result) -> count
    heartbeats: dict[HeartbeatResult, int]
    worker_status_code: int | None  # 0 = unreachable, None = no heartbeat sent yet
    lag_cycles: int
    last_loop: float | None  # monotonic time of the tail loop's last pass; None before the first


class Stats:
    """Thread-safe; one instance per running alerter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._alerts: Counter[tuple[str, str, AlertResult]] = Counter()
        self._heartbeats: Counter[HeartbeatResult] = Counter()
        self._worker_code: int | None = None
        self._lag = 0
        self._last_loop: float | None = None
        self.store = StoreHealth("alerter")  # thread-safe itself: every part reports its writes

    def alert(self, event: str, result: AlertResult, channel: str) -> None:
        with self._lock:
            self._alerts[(channel, event, result)] += 1

    def heartbeat(self, result: HeartbeatResult, status_code: int | None = None) -> None:
        with self._lock:
            self._heartbeats[result] += 1
            if result in SENT_RESULTS:
                self._worker_code = status_code or 0

    def loop_pass(self, lag: int) -> None:
        with self._lock:
            self._lag = lag
            self._last_loop = time.monotonic()

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                dict(self._alerts),
                dict(self._heartbeats),
                self._worker_code,
                self._lag,
                self._last_loop,
            )
