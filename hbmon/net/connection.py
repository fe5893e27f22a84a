"""One keep-alive HTTP(S) connection: opened under a budget (timing dns/connect/tls), then used."""

from __future__ import annotations

import select
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass

from hbmon.net.resolve import AddrInfo, BoundedResolver
from hbmon.net.response import WireResponse
from hbmon.net.route import Route
from hbmon.net.watchdog import Budget
from hbmon.netpolicy import IpFamily

_FAMILIES = {IpFamily.IPV4: socket.AF_INET, IpFamily.IPV6: socket.AF_INET6}
_FAMILY_NAMES = {socket.AF_INET: "ipv4", socket.AF_INET6: "ipv6"}


@dataclass(frozen=True, slots=True)
class OpenTimes:
    dns: float
    connect: float
    tls: float


class Connection:
    """A connection owned by one request at a time; the pool hands it on when it is idle."""

    __slots__ = ("cert_expiry", "closed", "family", "key", "opened", "sock")

    def __init__(self, sock: socket.socket, route: Route, opened: OpenTimes) -> None:
        self.sock = sock
        self.closed = False
        self.key = route.key
        self.family = _FAMILY_NAMES.get(sock.family, str(sock.family))
        self.opened = opened
        self.cert_expiry = _cert_expiry(sock)

    @property
    def usable(self) -> bool:
        """Still open and quiet: an idle connection with readable data was closed by the peer."""
        if self.closed:
            return False
        poller = select.poll()
        poller.register(self.sock, select.POLLIN)
        return not poller.poll(0)

    def send(self, request: bytes, method: str) -> WireResponse:
        """Write one encoded request and read the response's status line and header fields.

        The caller reads the body and closes the response; on an exception nothing is left open
        but the connection itself.
        """
        self.sock.sendall(request)
        response = WireResponse(self.sock, method=method)
        try:
            response.begin()
        except BaseException:
            response.close()
            raise
        return response

    def close(self) -> None:
        self.closed = True
        self.sock.close()


def open_connection(
    route: Route,
    family: IpFamily,
    budget: Budget,
    tls: ssl.SSLContext | None,
    resolver: BoundedResolver,
) -> Connection:
    """Resolve `route.dial`, connect, and for https run the TLS handshake.

    `family` restricts name resolution only: an IP literal (override or URL) is dialled as is.
    """
    start = time.monotonic()
    addresses = resolver(route.dial, route.port, _FAMILIES.get(family, socket.AF_UNSPEC), budget)
    resolved = time.monotonic()
    sock = _connect(addresses, budget)
    connected = time.monotonic()
    if route.scheme == "https":
        if tls is None:
            sock.close()
            raise ssl.SSLError("no TLS context")
        sock = _handshake(sock, route.host, budget, tls)
    done = time.monotonic()
    return Connection(
        sock, route, OpenTimes(resolved - start, connected - resolved, done - connected)
    )


def _connect(addresses: Sequence[AddrInfo], budget: Budget) -> socket.socket:
    """Try each address in resolver order until one accepts; re-raise the last failure."""
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, "no address for the policy's IP family")
    failure: OSError | None = None
    for family, kind, proto, _, address in addresses:
        remaining = budget.remaining()
        if remaining <= 0:
            break
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(remaining)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            budget.watch(sock)
            sock.connect(address)
        except OSError as exc:
            budget.watch(None)
            sock.close()
            failure = exc
            continue
        return sock
    raise failure or TimeoutError("timed out connecting")


def _handshake(
    sock: socket.socket, host: str, budget: Budget, tls: ssl.SSLContext
) -> ssl.SSLSocket:
    try:
        wrapped = tls.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    except BaseException:
        sock.close()
        raise
    try:
        budget.watch(wrapped)
        wrapped.settimeout(max(budget.remaining(), 0.001))
        wrapped.do_handshake()
    except BaseException:
        budget.watch(None)
        wrapped.close()
        raise
    return wrapped


def _cert_expiry(sock: socket.socket) -> float | None:
    if not isinstance(sock, ssl.SSLSocket):
        return None
    cert = sock.getpeercert()
    not_after = cert.get("notAfter") if cert else None
    return ssl.cert_time_to_seconds(not_after) if isinstance(not_after, str) else None
