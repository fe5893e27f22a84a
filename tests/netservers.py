"""Loopback HTTP(S) servers that record what they saw, shared by the network and probe tests."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import trustme

Behaviour = Callable[["Handler"], object]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    connection: int  # which accepted connection carried it, counting from 1
    scheme: str  # "https" or "http"


@dataclass
class Record:
    """Everything a server observed; appended to from handler threads."""

    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    connection_number = 0
    scheme = "http"  # what this connection speaks

    def setup(self) -> None:
        with self.server.record.lock:
            self.server.record.connections += 1
            self.connection_number = self.server.record.connections
        self.scheme = "https" if self._speaks_tls() else "http"
        if self.scheme == "https" and self.server.tls is not None:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        self.server.track(self.request, True)
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.request, False)
            if self.scheme == "https":
                self.request.close()  # socketserver only closes the plain socket it accepted

    def _speaks_tls(self) -> bool:
        if self.server.tls is None:
            return False
        if not self.server.also_plain:
            return True
        self.request.settimeout(10)  # every test client writes at once; never block a join
        try:
            first: bytes = self.request.recv(1, socket.MSG_PEEK)
        finally:
            self.request.settimeout(None)
        return first == b"\x16"  # a TLS record of type handshake: the ClientHello

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(
            self.command,
            self.path,
            dict(self.headers.items()),
            body,
            self.connection_number,
            self.scheme,
        )
        with self.server.record.lock:
            self.server.record.requests.append(seen)
        self.server.behaviour(self)

    do_GET = do_HEAD = do_POST = _dispatch

    def reply(
        self, status: int, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    @property
    def stop(self) -> threading.Event:
        """Set when the server shuts down: behaviours that hang must wait on it."""
        return self.server.stop

    def count_sent(self, n: int) -> None:
        with self.server.record.lock:
            self.server.record.bytes_sent += n

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = False

    def __init__(
        self,
        address: tuple[str, int],
        family: socket.AddressFamily,
        behaviour: Behaviour,
        tls: ssl.SSLContext | None,
        also_plain: bool,
    ) -> None:
        self.address_family = family
        self.behaviour = behaviour
        self.tls = tls
        self.also_plain = also_plain
        self.record = Record()
        self.stop = threading.Event()
        self._active: set[socket.socket] = set()
        super().__init__(address, Handler)

    def track(self, sock: socket.socket, active: bool) -> None:
        with self.record.lock:
            if active:
                self._active.add(sock)
            else:
                self._active.discard(sock)

    def hang_up_all(self) -> None:
        """End idle keep-alive connections so that handler threads can be joined."""
        with self.record.lock:
            active = list(self._active)
        for sock in active:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up or reject our certificate are what several tests do


@dataclass
class Running:
    server: _Server
    host: str

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def record(self) -> Record:
        return self.server.record

    def url(self, path: str = "/", *, scheme: str | None = None, host: str | None = None) -> str:
        scheme = scheme or ("https" if self.server.tls else "http")
        name = host or (f"[{self.host}]" if ":" in self.host else self.host)
        return f"{scheme}://{name}:{self.port}{path}"


@contextmanager
def serve(
    behaviour: Behaviour,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: ssl.SSLContext | None = None,
    also_plain: bool = False,
) -> Iterator[Running]:
    """Run a threaded HTTP/1.1 server on loopback until the block ends.

    With `tls` and `also_plain`, one port answers both https and plain http (told apart by the
    first byte a client sends), so a test can redirect between schemes on one host and port.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, port), family, behaviour, tls, also_plain)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield Running(server, host)
    finally:
        server.stop.set()
        server.shutdown()
        thread.join()
        server.hang_up_all()
        server.server_close()


def ok(handler: Handler) -> None:
    handler.reply(200, b"ok")


def server_tls(ca: trustme.CA, *names: str, sni: list[str | None] | None = None) -> ssl.SSLContext:
    """A server context with a certificate for `names`; the SNI of each handshake goes to `sni`."""
    return tls_with_cert(ca.issue_cert(*names), sni)


def tls_with_cert(cert: trustme.LeafCert, sni: list[str | None] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    if sni is not None:

        def remember(sock: ssl.SSLObject, name: str, ctx: ssl.SSLContext) -> None:
            sni.append(name)  # None at runtime when the client sent no SNI

        context.sni_callback = remember
    return context


def ca_file(ca: trustme.CA, directory: Path) -> Path:
    path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path
