"""Probe latency by phase: a fresh resolved TLS connection per probe vs the pinned keep-alive path.

Runs a local HTTPS server (trustme certificate for `localhost` and `svc.internal.test`) and
probes it N times each way, then prints p50/p95 of the total and the p50 of every phase.
Usage: .venv/bin/python bench/http_phases.py [N]
"""

from __future__ import annotations

import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import trustme

from exporter.config import ServiceSpec
from exporter.probes.base import PHASES, ProbeDeps, ProbeResult
from exporter.probes.http import probe
from hbmon.net.client import HttpClient
from hbmon.netpolicy import DnsOverride, NetPolicy

PINNED_NAME = "svc.internal.test"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # http.server writes headers and body separately: without this, Nagle plus delayed ACKs
        # add 40 ms to every response and the bench would measure the server, not the client.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _server(ca: trustme.CA) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", PINNED_NAME).configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server


def _run(client: HttpClient, url: str, n: int) -> list[ProbeResult]:
    spec = ServiceSpec(name="bench", kind="http", target=url)
    deps = ProbeDeps(http=client, docker=None)
    probe(spec, timeout=5.0, deps=deps)  # warm-up: imports, first handshake
    results = [probe(spec, timeout=5.0, deps=deps) for _ in range(n)]
    bad = [r for r in results if not r.healthy]
    if bad:
        raise SystemExit(f"{len(bad)} probes failed, e.g. {bad[0]}")
    return results


def _row(label: str, results: list[ProbeResult]) -> str:
    totals = sorted(r.latency_s or 0.0 for r in results)
    p95 = totals[int(len(totals) * 0.95) - 1]
    phases = [statistics.median(r.phases[p] for r in results) * 1000 for p in PHASES]
    cells = [statistics.median(totals) * 1000, p95 * 1000, *phases]
    return f"{label:<34}" + "".join(f"{c:>9.3f}" for c in cells)


def main(n: int = 200) -> None:
    ca = trustme.CA()
    server = _server(ca)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        fresh = HttpClient(NetPolicy(), ca_bundle=bundle, max_idle_per_origin=0)
        pinned = HttpClient(NetPolicy(dns_override=DnsOverride(ip="127.0.0.1")), ca_bundle=bundle)
        started = time.process_time()
        fresh_results = _run(fresh, f"https://localhost:{port}/health", n)
        middle = time.process_time()
        pinned_results = _run(pinned, f"https://{PINNED_NAME}:{port}/health", n)
        ended = time.process_time()
        fresh.close()
        pinned.close()
    server.shutdown()
    server.server_close()
    header = "".join(f"{h:>9}" for h in ("p50", "p95", *PHASES))
    print(f"N={n} probes each, milliseconds (phases are p50)")
    print(f"{'path':<34}{header}")
    print(_row("(a) fresh conn, system resolver", fresh_results))
    print(_row("(b) pinned override, keep-alive", pinned_results))
    print(
        f"process CPU incl. server: (a) {(middle - started) / n * 1000:.3f} ms/probe, "
        f"(b) {(ended - middle) / n * 1000:.3f} ms/probe"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
