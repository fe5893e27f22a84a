"""Detection latency of each alert-accuracy kind at a 1 s interval, real processes; prints a table.

One `heartbeat-exporter` and one `heartbeat-alerter` (defaults but FLAP_WINDOW_CYCLES=15, so
a flapping episode ends within the run) against services on 127.0.0.1 that answer from a
per-request script (each cycle probes a service once, so request n is its n-th check):
an outage of 8 cycles, 3 failures / 1 success for 16 cycles, up/down every 5 cycles for 40,
the internet check failing for 8 cycles, and a `docker:` container whose engine goes away
for 8 cycles (the exporter talks to the engine through a local socket proxy that this
script closes). Each kind is measured from the probe that confirmed it (the service's
request in the alert's cycle) to the webhook receiver having read the alert, and from the
first failing probe of the episode (which includes the threshold, the window or the quiet
period the rule waits for by design).

Usage: python bench/accuracy_latency.py [--copies 3] [--no-docker]
Traffic stays on 127.0.0.1 (and the local Docker engine's unix socket).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.alerter.pair import PatternServer, cycles, start_pair  # noqa: E402
from tests.alerter.receiver import Receiver, receiving  # noqa: E402
from tests.support import wait_for  # noqa: E402

WARM = 6  # healthy cycles before any pattern starts
ENGINE = "/var/run/docker.sock"
IMAGE = "hbtest/busybox"


def window(start: int, length: int, failing: int = 503) -> PatternServer:
    """Fails requests start+1 .. start+length."""
    return PatternServer(lambda n: failing if start < n <= start + length else 200)


def three_one(start: int) -> PatternServer:
    return PatternServer(
        lambda n: 503 if 0 <= n - start - 1 < 16 and (n - start - 1) % 4 != 3 else 200
    )


def every_5(start: int) -> PatternServer:
    return PatternServer(
        lambda n: 503 if 0 <= n - start - 1 < 40 and (n - start - 1) % 10 >= 5 else 200
    )


class EngineProxy:
    """A unix socket forwarding to the Docker engine's, which can be cut (engine unreachable)."""

    def __init__(self, path: Path) -> None:
        self.path, self.on = path, True
        self.conns: list[socket.socket] = []
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(str(path))
        self.listener.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.on:
                client.close()
                continue
            upstream = socket.socket(socket.AF_UNIX)
            upstream.connect(ENGINE)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                s.close()

    def cut(self, on: bool) -> None:
        self.on = on
        if not on:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.conns = []


def probe_times(db: Path, name: str, cycle_id: int, server: PatternServer) -> float:
    """When the service's request of that cycle arrived (request n = its n-th check)."""
    with sqlite3.connect(db) as conn:
        if name == "internet":  # every cycle checks the internet once
            row = conn.execute("SELECT count(*) FROM monitoring_cycles WHERE id <= ?", (cycle_id,))
        else:
            row = conn.execute(
                "SELECT count(*) FROM service_checks WHERE service_name = ? AND cycle_id <= ?",
                (name, cycle_id),
            )
        n = int(row.fetchone()[0])
    return server.hit_times[n - 1]


Servers = dict[str, tuple[PatternServer, int]]  # name -> (server, first failing request)
Samples = dict[str, list[float]]  # "pattern / event" -> seconds


def patterns(copies: int) -> Servers:
    servers: Servers = {}
    for copy in range(copies):
        start = WARM + 3 * copy
        servers[f"outage{copy}"] = (window(start, 8), start + 1)
        servers[f"intermittent{copy}"] = (three_one(start), start + 1)
        servers[f"flappy{copy}"] = (every_5(start), start + 6)
    return servers


@contextmanager
def engine(tmp_path: Path, enabled: bool) -> Iterator[tuple[EngineProxy | None, str | None]]:
    """A running container and a socket proxy in front of the engine (or neither)."""
    if not enabled:
        yield None, None
        return
    container = f"hbbench-{uuid.uuid4().hex[:8]}"
    loop = ["sh", "-c", "while true; do sleep 1; done"]
    docker_run = ["docker", "run", "-d", "--network", "none", "--name", container, IMAGE, *loop]
    subprocess.run(docker_run, check=True, capture_output=True, timeout=60)
    try:
        yield EngineProxy(tmp_path / "engine.sock"), container
    finally:
        subprocess.run(["docker", "rm", "-f", container], check=False, capture_output=True)


def run(
    tmp_path: Path, hook: Receiver, servers: Servers, ping: PatternServer, docker: bool
) -> float | None:
    """Run every pattern to its end; return when the engine was cut (None without Docker)."""
    services = {name: server.url for name, (server, _) in servers.items()}
    with engine(tmp_path, docker) as (proxy, container):
        extra = {} if proxy is None else {"DOCKER_HOST": f"unix://{proxy.path}"}
        if container is not None:
            services["box"] = f"docker:{container}"
        exporter, alerter = start_pair(
            tmp_path,
            ping_url=ping.url,
            interval=1.0,
            exporter_extra=extra,
            alerter_extra={"N8N_WEBHOOK_URL": hook.url, "FLAP_WINDOW_CYCLES": "15"},
            services=services,
        )
        cut_at = None
        try:
            if proxy is not None:
                wait_for(lambda: cycles(tmp_path) >= WARM + 60, timeout=300)
                cut_at, cut_cycle = time.time(), cycles(tmp_path)
                proxy.cut(False)
                wait_for(lambda: cycles(tmp_path) >= cut_cycle + 9, timeout=60)
                proxy.cut(True)
            # the last copy starts len(servers) / 3 * 3 cycles after WARM; 80 cycles see it out
            wait_for(lambda: cycles(tmp_path) >= WARM + len(servers) + 80, timeout=400)
            time.sleep(3)
        finally:
            alerter.terminate()
            exporter.terminate()
    return cut_at


def latencies(
    db: Path, hook: Receiver, servers: Servers, ping: PatternServer, cut_at: float | None
) -> tuple[Samples, Samples]:
    """(confirming probe -> webhook, episode start -> webhook) per pattern and event."""
    confirm: Samples = defaultdict(list)
    first: Samples = defaultdict(list)
    for got in hook.accepted:
        body = got.json()
        item, cycle_id = body["item"], body["cycle_id"]
        key = f"{item.rstrip('0123456789')} / {body['event']}"
        if item in servers:
            server, first_hit = servers[item]
            confirm[key].append(got.at - probe_times(db, item, cycle_id, server))
            first[key].append(got.at - server.hit_times[first_hit - 1])
        elif item == "internet":
            confirm[key].append(got.at - probe_times(db, "internet", cycle_id, ping))
            first[key].append(got.at - ping.hit_times[WARM + 40])
        elif item == "docker" and cut_at is not None:
            confirm[key].append(got.at - cycle_end(db, cycle_id))
            first[key].append(got.at - cut_at)
    return confirm, first


def cycle_end(db: Path, cycle_id: int) -> float:
    with sqlite3.connect(db) as conn:
        query = "SELECT completed_at FROM monitoring_cycles WHERE id = ?"
        return float(conn.execute(query, (cycle_id,)).fetchone()[0])


def report(confirm: Samples, first: Samples) -> None:
    print(
        "pattern / event | n | confirming probe -> webhook, median / max ms"
        " | episode's first failing probe -> webhook, median s"
    )
    print("--- | --- | --- | ---")
    for key in sorted(confirm):
        c, f = confirm[key], first[key]
        print(
            f"{key} | {len(c)} | {statistics.median(c) * 1000:.0f} / {max(c) * 1000:.0f} | "
            f"{statistics.median(f):.1f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=3, help="services per pattern")
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    servers = patterns(args.copies)
    ping = window(WARM + 40, 8)
    with tempfile.TemporaryDirectory() as tmp, receiving() as hook:
        cut_at = run(Path(tmp), hook, servers, ping, not args.no_docker)
        confirm, first = latencies(Path(tmp) / "metrics.db", hook, servers, ping, cut_at)
    print(f"alerts received: {len(hook.accepted)}")
    report(confirm, first)
    return 0


if __name__ == "__main__":
    sys.exit(main())
