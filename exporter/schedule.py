"""The wall-clock grid: when the next cycle starts and how many ticks an overrun skipped."""

from __future__ import annotations

import math
from dataclasses import dataclass

# A cycle may start this late (as a share of the interval) and still count as on its tick;
# later than that, the tick is skipped rather than run off the grid.
LATE_GRACE = 0.1


@dataclass(frozen=True)
class NextTick:
    at: float  # UTC epoch seconds on the grid
    skipped: int  # grid ticks that passed while the previous cycle was still running


def first_tick(now: float, interval: float) -> float:
    """The next grid point strictly after `now` (grid: multiples of `interval` since the epoch)."""
    return (math.floor(now / interval) + 1) * interval


def after(tick: float, now: float, interval: float) -> NextTick:
    """The tick following `tick`, skipping those too far in the past at `now` to start on time."""
    candidate = tick + interval
    late = now - candidate - LATE_GRACE * interval
    if late <= 0:
        return NextTick(candidate, 0)
    skipped = math.ceil(late / interval)
    return NextTick(candidate + skipped * interval, skipped)
