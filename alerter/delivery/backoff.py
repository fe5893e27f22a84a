"""The retry schedule: exponential backoff with jitter, and the destination's Retry-After."""

from __future__ import annotations

import email.utils
import math


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds from a Retry-After header given as delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


def backoff_delay(
    attempts: int, *, base: float, cap: float, retry_after: float | None, jitter: float
) -> float:
    """Exponential backoff with jitter (`jitter` in [0, 1)); Retry-After is a floor, not a cap."""
    exponent = min(max(attempts - 1, 0), 62)
    delay = min(cap, base * math.pow(2, exponent)) * (0.5 + jitter / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
