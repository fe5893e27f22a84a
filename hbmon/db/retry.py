"""Capped exponential pacing of the retries against a database that refuses writes."""

from __future__ import annotations

from dataclasses import dataclass

_MAX_DOUBLINGS = 32  # far past any cap; keeps 2**n a small number


@dataclass
class Backoff:
    """The first retry waits `base` seconds, each further one twice as long, never over `cap`."""

    base: float
    cap: float
    failures: int = 0
    next_at: float = float("-inf")

    def due(self, now: float) -> bool:
        return now >= self.next_at

    def failed(self, now: float) -> float:
        """Count a failure at `now`; returns the seconds until the next attempt is due."""
        self.failures += 1
        delay = min(self.base * 2.0 ** min(self.failures - 1, _MAX_DOUBLINGS), self.cap)
        self.next_at = now + delay
        return delay

    def succeeded(self) -> None:
        self.failures, self.next_at = 0, float("-inf")
