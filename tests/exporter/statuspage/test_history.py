"""The status page's cache of closed hours and days: read incrementally, sums per window."""

from __future__ import annotations

import time
from pathlib import Path
from zoneinfo import ZoneInfo

from exporter.history.recorder import HOUR, day_of, hour_of, to_row
from exporter.history.rollup import Rollup
from exporter.statuspage.history import RollupCache
from exporter.store import Store
from hbmon.db import rollups
from hbmon.status import Status

UTC = ZoneInfo("UTC")


def rollup(healthy: int, down: int) -> Rollup:
    r = Rollup()
    for _ in range(healthy):
        r.add(Status.HEALTHY, 10.0)
    for _ in range(down):
        r.add(Status.DOWN, None)
    return r


def test_closed_days_and_hours_feed_the_windows_and_new_hours_are_read_once(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "m.db", UTC)
    db, now = store.database, time.time()
    days = {n: day_of(now - n * 86400, UTC) for n in (1, 6, 7, 40)}
    rollups.write_days(db, [to_row("web", days[n], rollup(9, 1)) for n in days])
    rollups.write_hours(db, [to_row("web", hour_of(now) - 2 * HOUR, rollup(3, 1))])
    cache = RollupCache(UTC)
    cache.refresh(db, now)
    closed = cache.closed_days("web")
    assert closed.windows == {"7d": (20, 2), "30d": (30, 3), "90d": (40, 4)}
    assert [b.day for b in closed.bars][-1] == days[1]
    assert cache.hours == {hour_of(now) - 2 * HOUR: {"web": (4, 1, 10.0)}}
    assert cache.closed_days("nobody").windows["90d"] == (0, 0)

    rollups.write_hours(db, [to_row("web", hour_of(now) - HOUR, rollup(1, 0))])
    db.execute_sql("DELETE FROM service_hours WHERE hour < ?", (hour_of(now) - HOUR,))
    cache.refresh(db, now)  # only the new hour is read; the one cached earlier stays
    assert sorted(cache.hours) == [hour_of(now) - 2 * HOUR, hour_of(now) - HOUR]
    store.close()
