"""The state of one request in flight across its redirect hops, and the reply it builds."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from hbmon.net.connection import Connection
from hbmon.net.reply import ErrorKind, HttpReply, NetError
from hbmon.net.route import Route

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


class Exchange:
    """One request in flight: its current hop and what the hops have measured so far."""

    def __init__(
        self, route: Route, method: str, headers: Headers, body: bytes | None, *, secure: bool
    ) -> None:
        self.start = time.monotonic()
        self.secure = secure  # the URL asked for https, even if an HTTP-mode override's hop is not
        self.route = route
        self.method = method
        self.headers = headers
        self.body = body
        self.phases = {"dns": 0.0, "connect": 0.0, "tls": 0.0, "ttfb": 0.0}
        self.reused = True
        self.family: str | None = None
        self.cert_expiry: float | None = None
        self.redirects = 0
        self.stage = "connecting"

    def timeout(self, budget_s: float) -> NetError:
        return NetError(ErrorKind.TIMEOUT, f"timed out after {budget_s:g}s {self.stage}")

    def reply(self, response: Response | None, error: NetError | None = None) -> HttpReply:
        return HttpReply(
            status_code=response.status if response else None,
            headers=response.headers if response else (),
            body=response.body if response else b"",
            error=error,
            elapsed_s=time.monotonic() - self.start,
            phases=dict(self.phases),
            ip_family=self.family,
            connection_reused=self.reused and self.family is not None,
            tls_cert_expiry=self.cert_expiry,
            redirects=self.redirects,
            final_url=self.route.url,
        )

    def account(self, conn: Connection, reused: bool, ttfb: float) -> None:
        self.phases["ttfb"] += ttfb
        if not reused:
            self.reused = False
            self.phases["dns"] += conn.opened.dns
            self.phases["connect"] += conn.opened.connect
            self.phases["tls"] += conn.opened.tls
        self.family = conn.family
        self.cert_expiry = conn.cert_expiry

    def downgrades(self, route: Route) -> bool:
        """Whether going to `route` would take an https request from https to plain http."""
        return self.secure and self.route.scheme == "https" and route.scheme == "http"

    def redirect(self, status: int, route: Route) -> None:
        """Move to the next hop, with the method and headers a browser would use."""
        if _keeps_secrets(self.route, route):
            route = replace(route, auth=self.route.auth)
        else:
            self.headers = ()  # configured headers and credentials are meant for this host only
        if status == 303 or (status in (301, 302) and self.method == "POST"):
            self.method = "HEAD" if self.method == "HEAD" else "GET"
            self.body = None
        self.route, self.redirects = route, self.redirects + 1


def _keeps_secrets(old: Route, new: Route) -> bool:
    """Same host and port, or the default-port http->https upgrade; never https->http."""
    if old.host != new.host or (old.scheme == "https" and new.scheme == "http"):
        return False
    return old.port == new.port or (old.port, new.port) == (80, 443)
