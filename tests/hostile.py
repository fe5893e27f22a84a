"""Hostile loopback servers and a probe runner that measures time and peak memory."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from exporter.config import ServiceSpec
from exporter.probes.base import ProbeDeps, ProbeResult
from exporter.probes.http import probe
from hbmon.net.client import HttpClient

BUDGET = 1.0
SLACK = 0.1  # the bound: no probe may exceed its budget by more than 100 ms
PEAK_MB = 48  # how much a single probe may add to the process's peak memory


@dataclass(frozen=True)
class Probed:
    result: ProbeResult
    elapsed: float
    peak_growth_mb: float


def probe_measured(
    client: HttpClient, url: str, *, timeout: float = BUDGET, **spec: object
) -> Probed:
    """One probe; its wall time and how far the process's peak RSS rose above its RSS."""
    service = ServiceSpec(name="svc", kind="http", target=url, **spec)  # type: ignore[arg-type]
    before = _reset_peak()
    started = time.monotonic()
    result = probe(service, timeout=timeout, deps=ProbeDeps(http=client, docker=None))
    elapsed = time.monotonic() - started
    return Probed(result, elapsed, _status_kb("VmHWM") / 1024 - before)


def assert_bounded(probed: Probed, *, within: float = BUDGET + SLACK) -> None:
    assert probed.elapsed <= within, f"took {probed.elapsed:.3f}s"
    assert probed.peak_growth_mb <= PEAK_MB, f"peak RSS grew {probed.peak_growth_mb:.0f} MB"


def _reset_peak() -> float:
    """Reset VmHWM to the current RSS (Linux >= 4.0) and return that RSS in MB."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    return _status_kb("VmRSS") / 1024


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/self/status")


Talk = Callable[[socket.socket, threading.Event], None]


@dataclass
class RawServer:
    port: int
    connections: list[int]  # one entry per accepted connection

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def raw_server(talk: Talk) -> Iterator[RawServer]:
    """A loopback TCP server that runs `talk(conn, stop)` per connection, after reading the
    request head; `talk` writes whatever bytes the case needs."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    server = RawServer(listener.getsockname()[1], [])
    threads: list[threading.Thread] = []

    def handle(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set() and _read_head(conn):
                talk(conn, stop)

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            server.connections.append(1)
            thread = threading.Thread(target=handle, args=(conn,), daemon=True)
            threads.append(thread)
            thread.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield server
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for thread in threads:
            thread.join(5)


def _read_head(conn: socket.socket) -> bool:
    """Read one request head; False when the client has gone."""
    data = b""
    conn.settimeout(10)
    while b"\r\n\r\n" not in data:
        try:
            chunk = conn.recv(65536)
        except OSError:
            return False
        if not chunk:
            return False
        data += chunk
    return True


def stream(conn: socket.socket, stop: threading.Event, head: bytes, unit: bytes) -> None:
    """Write `head`, then `unit` over and over until the client goes or the test ends."""
    try:
        conn.sendall(head)
        while not stop.is_set():
            conn.sendall(unit)
    except OSError:
        return


def drip(conn: socket.socket, stop: threading.Event, data: bytes, every: float = 0.2) -> None:
    for byte in data:
        if stop.wait(every):
            return
        try:
            conn.sendall(bytes([byte]))
        except OSError:
            return
