"""What an HTTP exchange produced: an immutable reply, or an error kind with a safe reason."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ErrorKind(StrEnum):
    TIMEOUT = "timeout"  # the total budget ran out
    DNS = "dns"  # the name did not resolve (for the policy's IP family)
    REFUSED = "refused"
    TLS = "tls"  # handshake or certificate verification failed
    RESET = "reset"  # the peer dropped the connection mid-exchange
    PROTOCOL = "protocol"  # the peer did not speak HTTP/1.x
    REDIRECT = "redirect"  # a loop, too many hops, or an unusable Location
    NETWORK = "network"  # any other socket error (unreachable, no route, ...)


@dataclass(frozen=True)
class NetError:
    kind: ErrorKind
    reason: str  # never holds header values, URL credentials or query strings


@dataclass(frozen=True)
class HttpReply:
    """The final response of an exchange (after redirects), or why there is none.

    `status_code` is set whenever any response arrived, even alongside an error (e.g. the
    last 3xx of a redirect loop). `phases` sums dns/connect/tls/ttfb over all hops; ttfb is
    the time from the request being written to the response headers being parsed.
    """

    status_code: int | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""  # at most max_body_bytes
    error: NetError | None = None
    elapsed_s: float = 0.0
    phases: Mapping[str, float] = field(default_factory=dict)
    ip_family: str | None = None  # "ipv4" | "ipv6", of the last connection used
    primary_ip: str | None = None  # the address of that connection
    connection_reused: bool = False  # every hop ran on an already open connection
    tls_cert_expiry: float | None = None  # leaf notAfter of the last hop, UTC epoch seconds
    redirects: int = 0
    final_url: str | None = None  # without credentials or query string

    @property
    def ok(self) -> bool:
        """No transport error and a 2xx answer."""
        return self.error is None and self.status_code is not None and self.status_code < 300

    def header(self, name: str) -> str | None:
        """The first value of response header `name` (case-insensitive), e.g. Retry-After."""
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)
