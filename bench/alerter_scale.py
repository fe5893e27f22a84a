"""Alerter at scale: the real exporter and alerter on N local nginx services; prints a table.

For each N: each process's CPU time per cycle and per check in cycles where nothing changes
and in a cycle where 10 % of the services fail (and one where they recover: the alerter's
window ends once it has delivered every alert of that cycle), both peak RSS (VmHWM), and the
alert latency: the time from the end of the exporter's cycle that first saw a service failing
(`completed_at`, stamped before its write) to the webhook receiver on loopback having read the
alert (STATUS_CHANGE_THRESHOLD=1, 5 services switched per cycle, `service_down` alerts only),
split at the moment the cycle was first visible in the database (polled every ~10 ms) and at
the alerter's commit of the alert (`alert_outbox.created_at`).
A service fails when its file under nginx's root is deleted (503), and recovers when restored.
Targets (issue 14, 2-core machine): alerter <= 0.03 ms CPU per check without changes,
<= 0.1 ms with 10 % changing; alert latency p95 <= 0.5 s and alerter RSS <= 80 MB at N = 10,000.
CPU is process CPU time (utime + stime), not wall time: the machine may be shared.

Usage: python bench/alerter_scale.py [--sizes 1000,10000] [--intervals 3,10] [--steady 4]
       [--rounds 20]
Traffic stays on 127.0.0.1. Needs nginx (Debian nginx-light) on PATH or in /usr/sbin.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.alerter.proc import EXPORTER, Process, alerter_env, start  # noqa: E402
from tests.alerter.receiver import Receiver, receiving  # noqa: E402
from tests.support import free_port, wait_for  # noqa: E402

NGINX_CONF = """
daemon off;
master_process off;
worker_rlimit_nofile 16384;
error_log {dir}/nginx-error.log error;
pid {dir}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
        location / {{ try_files $uri =503; }}
    }}
}}
"""
LATENCY_SWITCHES = 5  # services switched to failing per latency round


@contextmanager
def nginx(workdir: Path, n: int) -> Iterator[int]:
    """nginx serving one file per service; the port it listens on."""
    (workdir / "www" / "svc").mkdir(parents=True)
    (workdir / "www" / "ping").write_text("ok\n")
    for i in range(n):
        (workdir / "www" / "svc" / str(i)).write_text("ok\n")
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(workdir)])
    try:
        yield port
    finally:
        process.terminate()
        process.wait(10)


def cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Run:
    """One exporter + alerter pair on one database, observed from outside."""

    db: Path
    exporter: Process
    alerter: Process
    hook: Receiver
    www: Path
    timeout: float
    rows: list[tuple[str, float, float]] = field(default_factory=list)  # phase, cpu/cycle x2
    seen: dict[int, float] = field(default_factory=dict)  # cycle id -> first seen committed

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.db, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def processed(self) -> int:
        """The alerter's cursor; also notes when each new exporter cycle is first visible."""
        try:
            newest = self.query("SELECT max(id) FROM monitoring_cycles")[0][0]
            rows = self.query("SELECT last_cycle_id FROM alerter_cursor")
        except sqlite3.Error:
            return 0
        if newest is not None:
            self.seen.setdefault(int(str(newest)), time.time())
        return int(str(rows[0][0])) if rows else 0

    def wait_processed(self, cycle_id: int) -> int:
        wait_for(lambda: self.processed() >= cycle_id, timeout=self.timeout, interval=0.01)
        return self.processed()

    def cpus(self) -> tuple[float, float]:
        return cpu(self.exporter.popen.pid), cpu(self.alerter.popen.pid)

    def measure(self, phase: str, cycles: int, act: Callable[[], int] = lambda: 0) -> None:
        """CPU over `cycles` processed cycles; `act` runs first and returns alerts to await."""
        start_id = self.wait_processed(self.processed() + 1)
        before, delivered = self.cpus(), len(self.hook.accepted)
        expected = act()
        self.wait_processed(start_id + cycles)
        wait_for(lambda: len(self.hook.accepted) >= delivered + expected, timeout=self.timeout)
        after = self.cpus()
        self.rows.append((phase, (after[0] - before[0]) / cycles, (after[1] - before[1]) / cycles))

    def switch(self, services: range, *, failing: bool) -> int:
        for i in services:
            path = self.www / "svc" / str(i)
            if failing:
                path.unlink()
            else:
                path.write_text("ok\n")
        return len(services)


def latencies(run: Run, rounds: int) -> list[tuple[float, float, float]]:
    """Seconds from a failing cycle's end to its write, the alert's commit, the webhook."""
    first = len(run.hook.accepted)
    for r in range(rounds):
        run.wait_processed(run.processed() + 1)
        run.switch(range(r * LATENCY_SWITCHES, (r + 1) * LATENCY_SWITCHES), failing=True)
    run.wait_processed(run.processed() + 2)
    wait_for(lambda: len(run.hook.accepted) >= first + rounds * LATENCY_SWITCHES, timeout=60)
    downs = [r for r in run.hook.accepted[first:] if r.json()["event"] == "service_down"]
    rows = run.query("SELECT id, completed_at FROM monitoring_cycles")
    ended = {int(str(cycle_id)): float(str(at)) for cycle_id, at in rows}
    rows = run.query("SELECT alert_id, created_at FROM alert_outbox")
    committed = {str(alert_id): float(str(at)) for alert_id, at in rows}
    samples = []
    for alert in downs:
        body = alert.json()
        end = ended[body["cycle_id"]]
        written = run.seen.get(body["cycle_id"], float("nan")) - end
        samples.append((written, committed[body["id"]] - end, alert.at - end))
    return samples


def exporter_env(db: Path, port: int, n: int, interval: float, home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LOOP_INTERVAL_SECONDS": str(interval),
        "SERVICE_TIMEOUT_SECONDS": str(min(2.0, interval / 2)),
        "SQLITE_DB_PATH": str(db),
        "PING_URL": f"http://127.0.0.1:{port}/ping",
        "EXPORTER_LISTEN": f"127.0.0.1:{free_port()}",
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "warning",
        **{f"SERVICE_URL_svc{i:05d}": f"http://127.0.0.1:{port}/svc/{i}" for i in range(n)},
    }


@dataclass(frozen=True)
class Result:
    n: int
    rows: list[tuple[str, float, float]]  # phase, exporter and alerter CPU seconds per cycle
    rss_mb: tuple[float, float]  # exporter, alerter
    latency: list[tuple[float, float, float]]  # seconds to the write, the commit, the webhook


def run_size(n: int, interval: float, steady: int, rounds: int) -> Result:
    with tempfile.TemporaryDirectory(prefix="hbmon-scale-") as tmp, receiving() as hook:
        work = Path(tmp)
        with nginx(work, n) as port:
            db = work / "metrics.db"
            exporter_vars = exporter_env(db, port, n, interval, work)
            exporter = start(work, exporter_vars, program=EXPORTER, name="exporter")
            env = alerter_env(work, N8N_WEBHOOK_URL=hook.url, STATUS_CHANGE_THRESHOLD="1")
            env.update(LOOP_INTERVAL_SECONDS=str(interval), LOG_LEVEL="warning")
            alerter = start(work, env)
            run = Run(db, exporter, alerter, hook, work / "www", interval * 4 + 60)
            try:
                return measure_all(run, n, steady, rounds)
            finally:
                alerter.terminate()
                exporter.terminate(30)


def measure_all(run: Run, n: int, steady: int, rounds: int) -> Result:
    run.wait_processed(2)  # warm-up: every item row written once, connections open
    run.measure("no change", steady)
    tenth = range(rounds * LATENCY_SWITCHES, rounds * LATENCY_SWITCHES + n // 10)
    run.measure("10 % fail", 1, lambda: run.switch(tenth, failing=True))
    run.measure("10 % recover", 1, lambda: run.switch(tenth, failing=False))
    samples = latencies(run, rounds)
    rss = (peak_rss_mb(run.exporter.popen.pid), peak_rss_mb(run.alerter.popen.pid))
    return Result(n, run.rows, rss, samples)


def report(results: list[Result]) -> None:
    print(
        "N | phase | exporter CPU ms/cycle | exporter ms/check | "
        "alerter CPU ms/cycle | alerter ms/check"
    )
    print("--- | --- | --- | --- | --- | ---")
    for result in results:
        for phase, exporter, alerter in result.rows:
            print(
                f"{result.n} | {phase} | {exporter * 1000:.0f} | {exporter * 1000 / result.n:.4f}"
                f" | {alerter * 1000:.0f} | {alerter * 1000 / result.n:.4f}"
            )
    print()
    print(
        "N | exporter peak RSS MB | alerter peak RSS MB | alerts | "
        "latency p50 / p95 / max ms | of which until the cycle was written, p50 / p95 ms | "
        "until the alerter committed the alert, p50 / p95 ms"
    )
    print("--- | --- | --- | --- | --- | --- | ---")
    for result in results:
        written, commit, total = (sorted(s[i] for s in result.latency) for i in range(3))
        print(
            f"{result.n} | {result.rss_mb[0]:.1f} | {result.rss_mb[1]:.1f} | {len(total)} | "
            f"{_ms(statistics.median(total))} / {_ms(_p95(total))} / {_ms(total[-1])} | "
            f"{_ms(statistics.median(written))} / {_ms(_p95(written))} | "
            f"{_ms(statistics.median(commit))} / {_ms(_p95(commit))}"
        )


def _p95(ordered: list[float]) -> float:
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--intervals", default="3,10", help="LOOP_INTERVAL_SECONDS per size")
    parser.add_argument("--steady", type=int, default=4, help="no-change cycles measured")
    parser.add_argument(
        "--rounds", type=int, default=20, help="latency rounds (5 alerts of one cycle each)"
    )
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    intervals = [float(i) for i in args.intervals.split(",")]
    report(
        [
            run_size(n, interval, args.steady, args.rounds)
            for n, interval in zip(sizes, intervals, strict=True)
        ]
    )


if __name__ == "__main__":
    main()
