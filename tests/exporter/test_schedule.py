"""The wall-clock grid: first tick, on-time ticks, and counting the ticks an overrun skips."""

from __future__ import annotations

import pytest

from exporter.schedule import LATE_GRACE, NextTick, after, first_tick


@pytest.mark.parametrize(
    ("now", "interval", "expected"),
    [
        (1000.0, 10.0, 1010.0),
        (1003.2, 10.0, 1010.0),
        (1009.999, 10.0, 1010.0),
        (1000.4, 0.5, 1000.5),
        (59.0, 60.0, 60.0),
    ],
)
def test_first_tick_is_the_next_grid_point(now: float, interval: float, expected: float) -> None:
    assert first_tick(now, interval) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (1003.0, NextTick(1010.0, 0)),  # finished early: next tick
        (1010.0 + LATE_GRACE * 10 - 0.01, NextTick(1010.0, 0)),  # a little late still counts
        (1011.5, NextTick(1020.0, 1)),  # overran one tick
        (1027.0, NextTick(1030.0, 2)),  # overran two ticks
        (1030.5, NextTick(1030.0, 2)),  # within grace of the third tick
    ],
)
def test_after_skips_and_counts_missed_ticks(now: float, expected: NextTick) -> None:
    following = after(1000.0, now, 10.0)
    assert following.skipped == expected.skipped
    assert following.at == pytest.approx(expected.at)
