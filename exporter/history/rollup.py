"""Hourly and daily aggregates of one service's checks: counts, failures, a latency histogram."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from hbmon.status import FAILURE_STATUSES, Status

# Fixed upper bounds (ms) of the latency buckets; one more bucket takes everything above.
# Dense where loopback and LAN services answer, coarse where only "slow" matters.
BOUNDS_MS: tuple[float, ...] = (
    1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750,
    1000, 1500, 2000, 3000, 5000, 10000,
)  # fmt: skip
BUCKETS = len(BOUNDS_MS) + 1


@dataclass
class Rollup:
    """Mutable while its hour is open; merged hours make a day."""

    checks: int = 0
    failures: dict[Status, int] = field(default_factory=dict)
    latency_count: int = 0
    latency_sum_ms: float = 0.0
    latency_min_ms: float | None = None
    latency_max_ms: float | None = None
    buckets: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def add(self, status: Status, latency_ms: float | None) -> None:
        self.checks += 1
        if status in FAILURE_STATUSES:
            self.failures[status] = self.failures.get(status, 0) + 1
        if latency_ms is None:
            return
        self.latency_count += 1
        self.latency_sum_ms += latency_ms
        self.latency_min_ms = _pick(min, self.latency_min_ms, latency_ms)
        self.latency_max_ms = _pick(max, self.latency_max_ms, latency_ms)
        self.buckets[bisect.bisect_left(BOUNDS_MS, latency_ms)] += 1

    def merge(self, other: Rollup) -> None:
        self.checks += other.checks
        for status, count in other.failures.items():
            self.failures[status] = self.failures.get(status, 0) + count
        self.latency_count += other.latency_count
        self.latency_sum_ms += other.latency_sum_ms
        self.latency_min_ms = _pick(min, self.latency_min_ms, other.latency_min_ms)
        self.latency_max_ms = _pick(max, self.latency_max_ms, other.latency_max_ms)
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]

    def quantile(self, q: float) -> float | None:
        """Linear within the bucket that holds the q-th sample, clamped to the seen min/max."""
        if self.latency_count == 0 or self.latency_min_ms is None or self.latency_max_ms is None:
            return None
        rank = q * self.latency_count
        seen = 0
        for index, count in enumerate(self.buckets):
            if count and seen + count >= rank:
                low = BOUNDS_MS[index - 1] if index > 0 else 0.0
                high = BOUNDS_MS[index] if index < len(BOUNDS_MS) else self.latency_max_ms
                estimate = low + (high - low) * (rank - seen) / count
                return min(max(estimate, self.latency_min_ms), self.latency_max_ms)
            seen += count
        return self.latency_max_ms


def _pick(
    choose: Callable[[float, float], float], a: float | None, b: float | None
) -> float | None:
    if a is None or b is None:
        return a if b is None else b
    return choose(a, b)


def combined(rollups: Iterable[Rollup]) -> Rollup:
    total = Rollup()
    for rollup in rollups:
        total.merge(rollup)
    return total


def uptime(rollups: Iterable[Rollup]) -> float | None:
    """Share of checks that did not fail; None when the window holds no check at all."""
    total = combined(rollups)
    return None if total.checks == 0 else (total.checks - total.failed) / total.checks


def encode_buckets(buckets: list[int]) -> bytes:
    """Sparse (index, count) pairs as unsigned varints: most hours fill two or three buckets."""
    out = bytearray()
    for index, count in enumerate(buckets):
        if count:
            _varint(out, index)
            _varint(out, count)
    return bytes(out)


def decode_buckets(blob: bytes) -> list[int]:
    buckets = [0] * BUCKETS
    values: list[int] = []
    value = shift = 0
    for byte in blob:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            values.append(value)
            value = shift = 0
    if shift or len(values) % 2:
        raise ValueError("truncated latency histogram")
    for index, count in zip(values[::2], values[1::2], strict=True):
        if index >= BUCKETS:
            raise ValueError(f"latency bucket {index} out of range")
        buckets[index] += count
    return buckets


def _varint(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
