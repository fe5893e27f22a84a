"""HTTP probe cost: latency by phase, then HttpClient (libcurl engine) against other clients.

A child process serves HTTPS (trustme certificate for `localhost`, `svc.internal.test` and
127.0.0.1) and plain HTTP, so the CPU time measured here is the client's alone.

Part 1 probes N times with a fresh resolved TLS connection each, and N times through the pinned
keep-alive path; it prints p50/p95 of the total and the p50 of every phase.
Part 2 is the keep-alive hot path of each client library against the same server, N requests
each: CPU ms per request and p50/p95 latency; bare pycurl shows what the engine adds.
Part 3 is how the cycle uses the engine: N probes started at once, CPU ms per probe.
Usage: .venv/bin/python bench/http_phases.py [N]
"""

from __future__ import annotations

import multiprocessing
import socket
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from multiprocessing.connection import Connection
from pathlib import Path

import pycurl
import requests
import trustme
import urllib3

from exporter.config import ServiceSpec
from exporter.probes.base import PHASES, ProbeDeps, ProbeResult
from exporter.probes.http import probe, start
from hbmon.net.client import HttpClient
from hbmon.net.policy import DnsOverride, NetPolicy

PINNED_NAME = "svc.internal.test"
WARM_UP = 50
ROUNDS = 10
Request = Callable[[], int]  # one request; returns the HTTP status


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


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the engine batch opens hundreds of connections at once


def _serve(cert_pem: bytes, key_pem: bytes, ports: Connection) -> None:
    """Child process: an HTTPS and a plain HTTP server until the parent closes `ports`."""
    with tempfile.TemporaryDirectory() as tmp:
        chain, key = Path(tmp) / "chain.pem", Path(tmp) / "key.pem"
        chain.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(chain, key)
    secure, plain = (_Server(("127.0.0.1", 0), _Handler) for _ in range(2))
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    for server in (secure, plain):
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
    ports.send((secure.server_address[1], plain.server_address[1]))
    ports.recv()  # EOFError or any message: time to stop


@contextmanager
def _server(ca: trustme.CA) -> Iterator[tuple[int, int]]:
    """(https port, http port) of a server running in a child process."""
    leaf = ca.issue_cert("localhost", PINNED_NAME, "127.0.0.1")
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    child = spawn.Process(target=_serve, args=(chain, leaf.private_key_pem.bytes(), theirs))
    child.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        child.join(5)
        child.kill()


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


def _phases(bundle: Path, port: int, n: int) -> None:
    fresh = HttpClient(NetPolicy(), ca_bundle=bundle, reuse_connections=False)
    pinned = HttpClient(NetPolicy(dns_override=DnsOverride(ip="127.0.0.1")), ca_bundle=bundle)
    started = time.process_time()
    fresh_results = _run(fresh, f"https://localhost:{port}/health", n)
    middle = time.process_time()
    pinned_results = _run(pinned, f"https://{PINNED_NAME}:{port}/health", n)
    ended = time.process_time()
    fresh.close()
    pinned.close()
    header = "".join(f"{h:>9}" for h in ("p50", "p95", *PHASES))
    print(f"N={n} probes each, milliseconds (phases are p50)")
    print(f"{'path':<34}{header}")
    print(_row("(a) fresh conn, cached lookup", fresh_results))
    print(_row("(b) pinned override, keep-alive", pinned_results))
    print(
        f"client CPU: (a) {(middle - started) / n * 1000:.3f} ms/probe, "
        f"(b) {(ended - middle) / n * 1000:.3f} ms/probe"
    )


@contextmanager
def _requests_session(bundle: Path, url: str) -> Iterator[Request]:
    session = requests.Session()
    session.trust_env = False  # no proxy or netrc lookups: probes reach services directly
    session.verify = str(bundle)

    def one() -> int:
        response = session.get(url, timeout=5.0, allow_redirects=False)
        _ = response.content
        return response.status_code

    with session:
        yield one


@contextmanager
def _urllib3_pool(bundle: Path, url: str) -> Iterator[Request]:
    tls = {"ca_certs": str(bundle)} if url.startswith("https:") else {}
    pool = urllib3.connection_from_url(url, maxsize=1, **tls)
    path = urllib3.util.parse_url(url).request_uri

    def one() -> int:
        response = pool.request("GET", path, timeout=5.0, retries=False, redirect=False)
        return response.status

    with pool:
        yield one


@contextmanager
def _hbmon_client(bundle: Path, url: str) -> Iterator[Request]:
    client = HttpClient(NetPolicy(), ca_bundle=bundle)

    def one() -> int:
        return client.exchange(url, timeout=5.0).status_code or 0

    try:
        yield one
    finally:
        client.close()


@contextmanager
def _bare_pycurl(bundle: Path, url: str) -> Iterator[Request]:
    curl = pycurl.Curl()
    curl.setopt(pycurl.URL, url)
    curl.setopt(pycurl.CAINFO, str(bundle))
    curl.setopt(pycurl.NOSIGNAL, 1)
    curl.setopt(pycurl.PROXY, "")
    body: list[bytes] = []
    curl.setopt(pycurl.WRITEFUNCTION, body.append)

    def one() -> int:
        body.clear()
        curl.perform()
        return int(curl.getinfo(pycurl.RESPONSE_CODE))

    try:
        yield one
    finally:
        curl.close()


class _Tally:
    """CPU time and latencies of one client's requests, gathered over interleaved rounds."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.cpu = 0.0
        self.latencies: list[float] = []

    def run(self, n: int) -> None:
        cpu = time.process_time()
        for _ in range(n):
            started = time.perf_counter()
            status = self.request()
            self.latencies.append(time.perf_counter() - started)
            if status != 200:
                raise SystemExit(f"request failed with status {status}")
        self.cpu += time.process_time() - cpu

    def cells(self) -> tuple[float, float, float]:
        """(CPU ms per request, p50 ms, p95 ms)."""
        ordered = sorted(self.latencies)
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        return self.cpu / len(ordered) * 1000, statistics.median(ordered) * 1000, p95 * 1000


def _libraries(bundle: Path, ports: tuple[int, int], n: int) -> None:
    clients: dict[str, Callable[[Path, str], AbstractContextManager[Request]]] = {
        "(a) requests.Session, trust_env=False": _requests_session,
        "(b) urllib3 HTTP(S)ConnectionPool": _urllib3_pool,
        "(c) hbmon HttpClient.exchange (libcurl)": _hbmon_client,
        "(d) bare pycurl easy handle, reused": _bare_pycurl,
    }
    print(f"\nkeep-alive hot path, N={n} sequential GETs per client, milliseconds")
    print(f"{'client':<40}{'scheme':>7}{'CPU/req':>9}{'p50':>9}{'p95':>9}")
    for scheme, port in zip(("https", "http"), ports, strict=True):
        url = f"{scheme}://127.0.0.1:{port}/health"
        with ExitStack() as stack:
            tallies = {k: _Tally(stack.enter_context(b(bundle, url))) for k, b in clients.items()}
            for tally in tallies.values():
                for _ in range(WARM_UP):
                    tally.request()
            # Rounds alternate the clients so that load from elsewhere hits all of them alike.
            for _ in range(ROUNDS):
                for tally in tallies.values():
                    tally.run(n // ROUNDS)
        for label, tally in tallies.items():
            cpu, p50, p95 = tally.cells()
            print(f"{label:<40}{scheme:>7}{cpu:>9.3f}{p50:>9.3f}{p95:>9.3f}")


def _engine_batch(bundle: Path, ports: tuple[int, int], n: int) -> None:
    """N probes started at once on the engine, as a cycle does; CPU of the whole batch."""
    print(f"\nengine batch: N={n} probes started at once (the cycle's path), milliseconds")
    print(f"{'scheme':<8}{'CPU/probe':>10}{'wall':>9}")
    # Sized as the exporter sizes it: a kept connection per transfer slot (one origin here).
    client = HttpClient(NetPolicy(), ca_bundle=bundle, max_connects=257)
    deps = ProbeDeps(http=client, docker=None)
    try:
        for scheme, port in zip(("https", "http"), ports, strict=True):
            specs = [
                ServiceSpec(name=f"s{i}", kind="http", target=f"{scheme}://127.0.0.1:{port}/{i}")
                for i in range(n)
            ]
            for _ in range(2):  # the first round opens the connections
                cpu, wall = _batch(specs, deps)
            print(f"{scheme:<8}{cpu / n * 1000:>10.3f}{wall * 1000:>9.1f}")
    finally:
        client.close()


def _batch(specs: list[ServiceSpec], deps: ProbeDeps) -> tuple[float, float]:
    done = threading.Semaphore(0)
    results: list[ProbeResult] = []

    def one(result: ProbeResult) -> None:
        results.append(result)
        done.release()

    cpu, wall = time.process_time(), time.perf_counter()
    for spec in specs:
        start(spec, timeout=10.0, deps=deps, done=one)
    for _ in specs:
        done.acquire()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    bad = [r for r in results if not r.healthy]
    if bad:
        raise SystemExit(f"{len(bad)} probes failed, e.g. {bad[0]}")
    return cpu, wall


def main(n: int = 1000) -> None:
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp, _server(ca) as ports:
        bundle = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(bundle))
        _phases(bundle, ports[0], n)
        _libraries(bundle, ports, n)
        _engine_batch(bundle, ports, n)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
