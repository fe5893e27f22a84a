"""Per-cycle cost of issue 10's exporter-side dependencies and alerter-side certificate notices.

For N checks: the exporter's ParentTracker.annotate over one cycle of HTTP outcomes (addresses
learnt, then remembered), and the alerter's CertWatch.step on a real SQLite file for a cycle
where nothing is due (every certificate far from expiry, notices held in memory) and for a cycle
where 1 % of the certificates enter the warning window (their notices and alerts committed).
Prints CPU milliseconds per cycle and microseconds per check (process CPU time: the machine may
be shared). No network traffic at all.

Usage: python bench/certs_deps_bench.py [--sizes 1000,10000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from alerter.certs import DAY  # noqa: E402
from alerter.certwatch import CertWatch  # noqa: E402
from alerter.payload import Context  # noqa: E402
from alerter.stats import Stats  # noqa: E402
from exporter.config import ServiceSpec  # noqa: E402
from exporter.dependencies import ParentTracker  # noqa: E402
from exporter.probes.base import Fact, ProbeResult  # noqa: E402
from hbmon.db import alerts, certnotices, cycles  # noqa: E402
from hbmon.db.connection import open_database  # noqa: E402
from hbmon.db.records import Check, Cycle  # noqa: E402
from hbmon.logs import configure  # noqa: E402
from hbmon.status import Status  # noqa: E402

CONTEXT = Context("en", ZoneInfo("UTC"), "bench", "0")


def cpu_ms(run: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.process_time()
        run()
        samples.append((time.process_time() - start) * 1000)
    return statistics.median(samples)


def tracker_ms(size: int, repeat: int) -> tuple[float, float]:
    specs = tuple(
        ServiceSpec(name=f"s{i}", kind="http", target=f"https://s{i}.test/") for i in range(size)
    )
    seen = ProbeResult(Status.HEALTHY, facts={Fact.PRIMARY_IP: "10.0.0.7", Fact.REDIRECTS: 0})
    failed = ProbeResult(Status.DOWN, facts={Fact.REDIRECTS: 0})
    tracker = ParentTracker(specs, None)

    def annotate(result: ProbeResult) -> Callable[[], object]:
        return lambda: [tracker.annotate(spec, result) for spec in specs]

    return cpu_ms(annotate(seen), repeat), cpu_ms(annotate(failed), repeat)


def certs_ms(size: int, repeat: int, folder: Path) -> tuple[float, float]:
    db = open_database(folder / f"bench-{size}.db")
    cycles.migrate(db)
    alerts.migrate(db)
    certnotices.migrate(db)
    watch = CertWatch(
        db, warn_days=14, context=CONTEXT, stats=Stats(), destinations=(), on_alerts=lambda: None
    )
    now = time.time()
    far = tuple(check(i, now + 90 * DAY) for i in range(size))
    quiet = cpu_ms(lambda: watch.step(Cycle(1, now, now, "healthy", far)), repeat)
    due = [Cycle(2 + r, now, now, "healthy", soon(far, r, size, now)) for r in range(repeat)]
    steps = iter(due)
    busy = cpu_ms(lambda: watch.step(next(steps)), repeat)
    db.close()
    return quiet, busy


def check(index: int, not_after: float) -> Check:
    return Check(f"s{index}", "http", "healthy", 200, 5.0, None, not_after)


def soon(far: tuple[Check, ...], round_: int, size: int, now: float) -> tuple[Check, ...]:
    """1 % of the checks (a different 1 % each round) now expire in 3 days."""
    step = 100
    due = {i for i in range(round_, size, step)}
    return tuple(check(i, now + 3 * DAY) if i in due else c for i, c in enumerate(far))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    configure("error", "json", process="bench")  # no alert.would_send line per notice
    print(f"{'checks':>7} | {'what':<40} | {'ms/cycle':>9} | {'µs/check':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for size in (int(s) for s in args.sizes.split(",")):
            learnt, remembered = tracker_ms(size, args.repeat)
            quiet, busy = certs_ms(size, args.repeat, Path(folder))
            rows = [
                ("exporter: annotate, address seen", learnt),
                ("exporter: annotate, no address (memory)", remembered),
                ("alerter: cert notices, nothing due", quiet),
                ("alerter: cert notices, 1 % newly due", busy),
            ]
            for what, ms in rows:
                print(f"{size:>7} | {what:<40} | {ms:>9.2f} | {ms * 1000 / size:>9.2f}")


if __name__ == "__main__":
    main()
