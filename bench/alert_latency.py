"""Alerter benchmark: alert latency p50/p95, RSS and idle CPU of the real process; prints a table.

Latency is measured from the commit of the cycle that confirms a transition (this script writes
the cycles as the exporter would, through its own connection, and notes the time right after
COMMIT) to the moment a local webhook receiver has read the alert body. One service alternates
down/healthy with STATUS_CHANGE_THRESHOLD=1, so every cycle is a transition. Targets (issue 4):
p95 <= 500 ms, RSS <= 50 MB, idle CPU <= 1 % of a core.

Usage: python bench/alert_latency.py [--transitions 50] [--gap 0.3] [--idle 10]
Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.alerter.dbutil import exporter_db, insert_cycle  # noqa: E402
from tests.alerter.proc import alerter_env, start  # noqa: E402
from tests.alerter.receiver import receiving  # noqa: E402
from tests.support import wait_for  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transitions", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.3, help="seconds between cycles")
    parser.add_argument("--idle", type=float, default=10.0, help="idle CPU window, seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, receiving() as hook:
        tmp_path = Path(tmp)
        writer = exporter_db(tmp_path / "metrics.db")
        env = alerter_env(
            tmp_path,
            N8N_WEBHOOK_URL=hook.url,
            STATUS_CHANGE_THRESHOLD="1",
            LOOP_INTERVAL_SECONDS="3600",
            LOG_LEVEL="warning",
        )
        alerter = start(tmp_path, env)
        alerter.wait_ready()
        committed: dict[int, float] = {}
        for index in range(args.transitions):
            cycle_id = insert_cycle(writer, {"api": "down" if index % 2 == 0 else "healthy"})
            committed[cycle_id] = time.time()
            time.sleep(args.gap)
        wait_for(lambda: len(hook.accepted) >= args.transitions, timeout=60)
        latencies = [(r.at - committed[r.json()["cycle_id"]]) * 1000 for r in hook.accepted]
        pid = alerter.popen.pid
        time.sleep(1.0)  # let the last delivery's bookkeeping settle
        cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
        time.sleep(args.idle)
        idle_cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - wall_before) * 100
        rss, peak = status_kb(pid, "VmRSS") / 1024, status_kb(pid, "VmHWM") / 1024
        alerter.terminate()
        writer.close()
    rows = [
        ("transitions", f"{len(latencies)}", ""),
        ("alert latency p50", f"{statistics.median(latencies):.1f} ms", ""),
        ("alert latency p95", f"{percentile(latencies, 0.95):.1f} ms", "target <= 500 ms"),
        ("alert latency max", f"{max(latencies):.1f} ms", ""),
        ("alerter RSS (peak)", f"{rss:.1f} MB ({peak:.1f} MB)", "target <= 50 MB"),
        ("idle CPU", f"{idle_cpu:.2f} % of a core over {args.idle:g} s", "target <= 1 %"),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(f"{'metric'.ljust(width)}  {'value'.ljust(value_width)}  note")
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value.ljust(value_width)}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
