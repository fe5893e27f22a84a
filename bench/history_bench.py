"""History and status page benchmark (issue 12): prints a table.

- store CPU per check, rollups on and off: the exporter's `Store.write` of N = 1,000 checks per
  cycle over 100 cycles (process CPU time), once with the hourly recorder and once without;
- bytes per check row and per service per day: file growth after a WAL checkpoint over those
  100 cycles (cycle ids from 1,000,000, as after months of running; the first cycle, which
  stores every service and its facts once, is written before measuring), and the rollups of one
  service at steady state (HISTORY_DAYS of hours and days);
- status page build + render time at 100 and 1,000 services, from full rollup tables (90 days of
  days, 24 hours of hours) and a last cycle, as `StatusPage` does once per cycle.

Usage: python bench/history_bench.py [--services 1000] [--cycles 100]
The machine is shared: /proc/loadavg is printed first; CPU times are process CPU, not wall.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import peewee

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from exporter.config import ExporterConfig
from exporter.cycle import Cycle, ServiceOutcome
from exporter.history.recorder import HOUR, Recorder, day_of, hour_of, to_row
from exporter.history.rollup import Rollup
from exporter.probes.base import ProbeResult
from exporter.statuspage.serve import StatusPage
from exporter.store import Store
from hbmon.db import rollups
from hbmon.status import Status
from tests.exporter.test_store import HOST

UTC = ZoneInfo("UTC")
INTERVAL = 10.0
FIRST_ID = 1_000_000


def outcomes(config: ExporterConfig) -> tuple[ServiceOutcome, ...]:
    return tuple(
        ServiceOutcome(
            spec,
            ProbeResult(
                Status.HEALTHY if random.random() > 0.01 else Status.DOWN,
                latency_s=random.uniform(0.001, 0.05),
                status_code=200,
                phases={"dns": 0.0, "connect": 0.0002, "ttfb": 0.001},
                facts={"ip_family": "ipv4", "connection_reused": True},
            ),
        )
        for spec in config.services
    )


def config_of(n: int, db: Path) -> ExporterConfig:
    env = {f"SERVICE_URL_svc{i:05d}": f"http://127.0.0.1:8080/s/{i}" for i in range(n)}
    return ExporterConfig.from_env({**env, "SQLITE_DB_PATH": str(db)})


def cycle(config: ExporterConfig, started_at: float) -> Cycle:
    return Cycle(
        started_at=started_at,
        completed_at=started_at + 0.5,
        duration_s=0.5,
        skipped_ticks=0,
        host=HOST,
        container_count=3,
        internet=ProbeResult(Status.HEALTHY, latency_s=0.01),
        services=outcomes(config),
    )


def file_bytes(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db.stat().st_size


def write_cost(workdir: Path, n: int, cycles: int, with_rollups: bool) -> tuple[float, float]:
    """(CPU ms per check written, bytes of file growth per check row)."""
    db = workdir / f"write-{with_rollups}.db"
    config = config_of(n, db)
    store = Store(db, UTC, INTERVAL)
    # Cycle ids of a database that has run for months (4 months at 10 s): 3 bytes, not 1.
    store.database.execute_sql(
        "INSERT INTO sqlite_sequence (name, seq) VALUES ('monitoring_cycles', ?)", (FIRST_ID,)
    )
    if not with_rollups:
        store.history.observe = lambda started_at, samples: None  # type: ignore[method-assign]
    start = hour_of(time.time()) - 2 * HOUR
    store.write(cycle(config, start))
    before = file_bytes(db)
    prepared = [cycle(config, start + (i + 1) * INTERVAL) for i in range(cycles)]
    cpu = time.process_time()
    for c in prepared:
        store.write(c)
    spent = time.process_time() - cpu
    store.close()
    return spent * 1000 / (n * cycles), (file_bytes(db) - before) / (n * cycles)


def observe_ms(n: int, cycles: int = 200) -> float:
    """CPU of adding one check to the open hour: what the rollups add to a cycle."""
    recorder = Recorder(peewee.SqliteDatabase(":memory:"), UTC)
    samples = [(f"svc{i:05d}", Status.HEALTHY, random.uniform(1, 50)) for i in range(n)]
    start = hour_of(time.time())
    cpu = time.process_time()
    for i in range(cycles):
        recorder.observe(start + i, samples)
    return (time.process_time() - cpu) * 1000 / (n * cycles)


def fill_rollups(store: Store, names: list[str], days: int, hours: int) -> None:
    now = time.time()
    sample = Rollup()
    for _ in range(360):
        sample.add(Status.HEALTHY, random.uniform(1, 40))
    sample.add(Status.DOWN, None)
    oldest = date.fromisoformat(day_of(now, UTC)) - timedelta(days=days - 1)  # walk forward
    with store.database.atomic():
        for d in range(days):
            day = (oldest + timedelta(days=d)).isoformat()
            rollups.write_days(store.database, (to_row(n, day, sample) for n in names))
        for h in range(hours):
            hour = hour_of(now) - (h + 1) * HOUR
            rollups.write_hours(store.database, (to_row(n, hour, sample) for n in names))


def render_ms(workdir: Path, n: int) -> tuple[float, float]:
    """(first build + render after start, best build + render of a following cycle) in ms."""
    db = workdir / f"page-{n}.db"
    config = config_of(n, db)
    store = Store(db, UTC, INTERVAL)
    fill_rollups(store, [s.name for s in config.services], 90, 24)
    last = cycle(config, time.time())
    page = StatusPage(config, store, lambda: last)
    times = []
    for i in range(6):
        last = cycle(config, time.time() + i)  # a new cycle: the page is built again
        start = time.perf_counter()
        page.respond("/")
        times.append(time.perf_counter() - start)
    store.close()
    return times[0] * 1000, min(times[1:]) * 1000


def steady_rollup_bytes(workdir: Path, services: int, history_days: int) -> float:
    db = workdir / "steady.db"
    config = config_of(services, db)
    store = Store(db, UTC, INTERVAL)
    before = file_bytes(db)
    names = [s.name for s in config.services]
    fill_rollups(store, names, history_days, history_days * 24)
    store.close()
    return (file_bytes(db) - before) / services


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=100)
    args = parser.parse_args()
    random.seed(12)
    print(f"loadavg: {Path('/proc/loadavg').read_text().strip()}  cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        off_ms, row_bytes = write_cost(work, args.services, args.cycles, with_rollups=False)
        on_ms, _ = write_cost(work, args.services, args.cycles, with_rollups=True)
        print(f"| store CPU per check, rollups off | {off_ms:.4f} ms |")
        print(f"| store CPU per check, rollups on | {on_ms:.4f} ms |")
        print(f"| recorder CPU per check (observe alone) | {observe_ms(args.services):.4f} ms |")
        print(f"| bytes per check row (file growth) | {row_bytes:.1f} |")
        per_day = row_bytes * 86400 / INTERVAL
        print(f"| raw bytes per service per day (interval {INTERVAL:g} s) | {per_day:,.0f} |")
        rollup_bytes = steady_rollup_bytes(work, 20, 400)
        print(f"| rollup bytes per service at 400 days | {rollup_bytes:,.0f} |")
        total = per_day * 7 + rollup_bytes
        print(f"| steady state per service (7 d raw + 400 d rollups) | {total / 1e6:.2f} MB |")
        for n in (100, 1000):
            first, then = render_ms(work, n)
            print(f"| status page build + render, {n} services, first | {first:.1f} ms |")
            print(f"| status page build + render, {n} services, each cycle | {then:.1f} ms |")
    print(f"loadavg: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
