"""Exporter benchmark: the real process probing N local nginx services; prints a table.

For each N (default 10, 100, 1000; `--sizes 1000,10000` for issue 8's sizes): cycle duration
p50/p95 (from the database), CPU-ms per probe (the process's CPU time over the measured cycles
/ probes run: probing on the libcurl engine, the database write and /metrics together), peak
RSS (VmHWM), /metrics scrape time p50, and database bytes per cycle. A scraper reads /metrics
once per interval during the measured cycles (`--no-scrape` to leave it out), so the process
pre-renders /metrics after each cycle, as it does when Prometheus scrapes it. Targets (issue 8,
2-core machine): <= 0.2 ms CPU per probe at N = 1000 and 10000; p95 cycle <= 2 s at N = 10000
with no skipped ticks; RSS <= 120 MB at N = 10000 and <= 60 MB at N = 100.

Usage: python bench/cycle_bench.py [--sizes 10,100,1000] [--cycles 8] [--interval 3]
                                   [--no-scrape]
Traffic stays on 127.0.0.1. Needs nginx (Debian nginx-light) on PATH or in /usr/sbin.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

NGINX_CONF = """
daemon off;
master_process off;
worker_rlimit_nofile 16384;
error_log {dir}/nginx-error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_timeout 120s;
    keepalive_requests 100000;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok\\n"; }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_nginx(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    process = subprocess.Popen([binary, "-c", str(conf), "-p", str(workdir)])
    wait_port(port)
    return process, port


def wait_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cycle_count(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=10) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM monitoring_cycles").fetchone()[0])
    except sqlite3.Error:
        return 0


def wait_cycles(db: Path, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while cycle_count(db) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"fewer than {count} cycles after {timeout:.0f}s")
        time.sleep(0.1)


def db_bytes(db: Path) -> int:
    with sqlite3.connect(db, timeout=10) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        free = conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def scrape_ms(listen: str, times: int = 20) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        with urllib.request.urlopen(f"http://{listen}/metrics", timeout=10) as reply:
            reply.read()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def scrape_until(listen: str, every: float, stop: threading.Event) -> None:
    while not stop.wait(every):
        scrape_ms(listen, times=1)


def run_size(
    n: int, port: int, cycles: int, interval: float, workdir: Path, *, scraping: bool
) -> dict[str, float]:
    db = workdir / f"bench-{n}.db"
    listen = f"127.0.0.1:{free_port()}"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(workdir),
        "LOOP_INTERVAL_SECONDS": str(interval),
        "SERVICE_TIMEOUT_SECONDS": str(min(2.0, interval / 2)),
        "SQLITE_DB_PATH": str(db),
        "PING_URL": f"http://127.0.0.1:{port}/ping",
        "EXPORTER_LISTEN": listen,
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "warning",
        **{k: v for k, v in os.environ.items() if k == "PROBE_MAX_WORKERS"},
        **{f"SERVICE_URL_svc{i:04d}": f"http://127.0.0.1:{port}/svc/{i}" for i in range(n)},
    }
    exporter = Path(sys.executable).parent / "heartbeat-exporter"
    process = subprocess.Popen([str(exporter)], env=env, cwd=workdir)
    try:
        wait_cycles(db, 2, timeout=interval * 4 + 30)  # warm-up: connections opened
        stop = threading.Event()
        scraper = threading.Thread(target=scrape_until, args=(listen, interval, stop), daemon=True)
        cold = float("nan")
        if scraping:  # else no scrape at all while measuring: one would start pre-rendering
            cold = scrape_ms(listen, times=1)  # nobody scraped before: rendered on demand
            scraper.start()
        cpu_start, bytes_start, first = cpu_seconds(process.pid), db_bytes(db), cycle_count(db)
        wait_cycles(db, first + cycles, timeout=interval * (cycles + 4) + 30)
        cpu_used, last = cpu_seconds(process.pid) - cpu_start, cycle_count(db)
        bytes_used = db_bytes(db) - bytes_start
        stop.set()
        if not scraping:
            cold = scrape_ms(listen, times=1)  # from now on pre-rendered after each cycle
        wait_cycles(db, last + 1, timeout=interval * 3 + 30)
        time.sleep(min(1.0, interval / 3))
        scrape = scrape_ms(listen)
        with sqlite3.connect(db) as conn:
            durations = [
                r[0]
                for r in conn.execute(
                    "SELECT cycle_duration_ms FROM monitoring_cycles WHERE id > ? ORDER BY id",
                    (first,),
                )
            ]
            unhealthy = conn.execute(
                "SELECT COUNT(*) FROM service_checks WHERE status != 'healthy'"
            ).fetchone()[0]
        rss = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)
    measured = last - first
    quantiles = statistics.quantiles(durations, n=20) if len(durations) > 1 else durations * 19
    return {
        "n": n,
        "cycles": measured,
        "p50_ms": statistics.median(durations),
        "p95_ms": quantiles[18],
        "cpu_ms_per_probe": cpu_used * 1000 / (measured * (n + 1)),
        "rss_mb": rss,
        "scrape_ms": scrape,
        "cold_scrape_ms": cold,
        "db_bytes_per_cycle": bytes_used / measured,
        "unhealthy": unhealthy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--cycles", type=int, default=8)
    parser.add_argument("--interval", type=float, default=3.0)
    parser.add_argument("--no-scrape", action="store_true", help="no scraper while measuring")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hbmon-bench-") as tmp:
        workdir = Path(tmp)
        nginx, port = start_nginx(workdir)
        try:
            rows = [
                run_size(
                    int(n), port, args.cycles, args.interval, workdir, scraping=not args.no_scrape
                )
                for n in args.sizes.split(",")
            ]
        finally:
            nginx.terminate()
            nginx.wait(timeout=10)
    header = (
        "N",
        "cycles",
        "p50 cycle ms",
        "p95 cycle ms",
        "CPU ms/probe",
        "peak RSS MB",
        "scrape ms (cold/warm)",
        "DB bytes/cycle",
        "unhealthy",
    )
    print(" | ".join(header))
    print(" | ".join("---" for _ in header))
    for row in rows:
        print(
            f"{row['n']:.0f} | {row['cycles']:.0f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
            f"{row['cpu_ms_per_probe']:.3f} | {row['rss_mb']:.1f} | "
            f"{row['cold_scrape_ms']:.1f}/{row['scrape_ms']:.1f} | "
            f"{row['db_bytes_per_cycle']:.0f} | {row['unhealthy']:.0f}"
        )


if __name__ == "__main__":
    main()
