"""Checks storage benchmark (issue 12): moving a version-2 database into the compact storage, and
the alerter's tail read before and after; prints a table.

- a version-2 database of `--services` x `--cycles` checks (default 1,000 x 1,000: 1M rows) is
  built with the old DDL, then upgraded as the exporter does: `cycles.migrate` (the rename, in the
  start-up transaction) and `upgrade_v3.move` batches until none is left (wall time, the longest
  batch: what one cycle can wait at most, and the file size before and after);
- the tail read of the newest cycle as `Check` records: the old query on the version-2 table (as
  the read API did), and `newest_cycle` on the compact storage (best of 20), at `--services` and
  at 10,000 checks per cycle.

Usage: python bench/migration_bench.py [--services 1000] [--cycles 1000]
The machine is shared: /proc/loadavg is printed first and last.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import peewee

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hbmon.db import cycles, upgrade_v3
from hbmon.db.checkwriter import CheckWriter
from hbmon.db.connection import open_database
from hbmon.db.records import Check
from tests.hbmon import v2db

_OLD_TAIL = (
    "SELECT cycle_id, service_name, kind, status, status_code, latency_ms, error_message, "
    "tls_cert_expiry, depends_on FROM service_checks WHERE cycle_id BETWEEN ? AND ? "
    "ORDER BY service_name"
)


def best_ms(run: object, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def old_tail_ms(path: Path) -> float:
    with sqlite3.connect(path) as conn:
        newest = conn.execute("SELECT max(id) FROM monitoring_cycles").fetchone()[0]
        return best_ms(lambda: [Check._make(r[1:]) for r in conn.execute(_OLD_TAIL, (newest,) * 2)])


def new_tail_ms(db: peewee.SqliteDatabase) -> float:
    return best_ms(lambda: cycles.newest_cycle(db))


def migrate(path: Path) -> tuple[float, float, float, int, int]:
    """(start-up migrate s, move s, longest batch s, batches, rows moved)."""
    db = open_database(path)
    start = time.perf_counter()
    cycles.migrate(db)
    startup = time.perf_counter() - start
    writer, batches, moved, longest = CheckWriter(db), 0, 0, 0.0
    start = time.perf_counter()
    while upgrade_v3.pending(db):
        began = time.perf_counter()
        moved += upgrade_v3.move_batch(db, writer)
        longest = max(longest, time.perf_counter() - began)
        batches += 1
    spent = time.perf_counter() - start
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return startup, spent, longest, batches, moved


def tail_pair(workdir: Path, services: int, cycles_: int) -> tuple[float, float]:
    path = workdir / f"tail-{services}.db"
    v2db.fill(v2db.create(path), services, cycles_)
    old = old_tail_ms(path)
    db = open_database(path)
    cycles.migrate(db)
    upgrade_v3.move(db, CheckWriter(db), budget_s=3600.0)
    new = new_tail_ms(db)
    db.close()
    return old, new


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=1000)
    args = parser.parse_args()
    print(f"loadavg: {Path('/proc/loadavg').read_text().strip()}  cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        path = work / "v2.db"
        conn = v2db.create(path)
        v2db.fill(conn, args.services, args.cycles)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        size_before = path.stat().st_size
        rows = args.services * args.cycles
        startup, spent, longest, batches, moved = migrate(path)
        print(f"| version-2 database | {rows:,} checks, {size_before / 1e6:.1f} MB |")
        print(f"| start-up migration (set aside, one transaction) | {startup * 1000:.0f} ms |")
        print(f"| move of {moved:,} checks in {batches} batches | {spent:.1f} s |")
        print(f"| longest batch (a cycle waits at most this) | {longest * 1000:.0f} ms |")
        print(f"| checks moved per second | {moved / spent:,.0f} |")
        size_after = path.stat().st_size
        print(f"| file after the move (freed pages kept for reuse) | {size_after / 1e6:.1f} MB |")
        for n, c in ((args.services, 20), (10_000, 5)):
            old, new = tail_pair(work, n, c)
            label = f"newest cycle read as Check records, {n:,} checks: version 2 / compact"
            print(f"| {label} | {old:.1f} / {new:.1f} ms |")
    print(f"loadavg: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
