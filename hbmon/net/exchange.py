"""The policy of one request across its redirect hops, and the reply it finally builds."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace

from hbmon.net.hop import HopOutcome
from hbmon.net.policy import DnsOverride
from hbmon.net.reply import ErrorKind, HttpReply, NetError
from hbmon.net.route import BadUrl, Route, redirect_route

Headers = Sequence[tuple[str, str]]
REDIRECTS = frozenset({301, 302, 303, 307, 308})
PHASES = ("dns", "connect", "tls", "ttfb")
_NO_PHASES = (0.0, 0.0, 0.0, 0.0)  # shared: 10,000 queued requests need no dict each


class Exchange:
    """One request in flight: its current hop, its budget and what the hops measured so far."""

    # Slots and a lazily made `seen`: a cycle of 10,000 probes holds 10,000 of these at once.
    __slots__ = (
        "body",
        "cert_expiry",
        "deadline",
        "family",
        "follow",
        "headers",
        "ip",
        "method",
        "phases",
        "redirects",
        "reused",
        "route",
        "secure",
        "seen",
        "start",
        "timeout",
    )

    def __init__(
        self,
        route: Route,
        request: tuple[str, Headers, bytes | None],
        *,
        secure: bool,
        timeout: float,
        follow: tuple[int, DnsOverride | None] | None,
    ) -> None:
        self.start = self.deadline = time.monotonic()
        self.timeout = timeout
        self.secure = secure  # the URL asked for https, even if an HTTP-mode override's hop is not
        self.route = route
        self.method, self.headers, self.body = request
        self.follow = follow  # (max redirects, override for later hops), None: never follow
        self.phases = _NO_PHASES  # summed over hops, in PHASES order
        self.reused = True
        self.family: str | None = None
        self.ip: str | None = None
        self.cert_expiry: float | None = None
        self.redirects = 0
        self.seen: set[tuple[str, str]] | None = None  # (method, URL) of every hop, once redirected

    def begin(self, not_after: float | None) -> None:
        """Start the budget (when the engine takes the request on), capped by `not_after`."""
        self.start = time.monotonic()
        self.deadline = self.start + self.timeout
        if not_after is not None:
            self.deadline = min(self.deadline, not_after)

    @property
    def request(self) -> tuple[str, Headers, bytes | None]:
        return self.method, self.headers, self.body

    def timed_out(self, stage: str) -> NetError:
        return NetError(ErrorKind.TIMEOUT, f"timed out after {self.timeout:g}s {stage}")

    def hop_failed(self, error: NetError) -> NetError:
        """A hop's error as the exchange reports it: a timeout names the whole budget."""
        return self.timed_out(error.reason) if error.kind is ErrorKind.TIMEOUT else error

    def reply(self, hop: HopOutcome | None, error: NetError | None = None) -> HttpReply:
        return HttpReply(
            status_code=hop.status if hop else None,
            headers=hop.headers if hop else (),
            body=hop.body if hop else b"",
            error=error,
            elapsed_s=time.monotonic() - self.start,
            phases=dict(zip(PHASES, self.phases, strict=True)),
            ip_family=self.family,
            primary_ip=self.ip,
            connection_reused=self.reused and self.family is not None,
            tls_cert_expiry=self.cert_expiry,
            redirects=self.redirects,
            final_url=self.route.url,
        )

    def account(self, hop: HopOutcome, waited_dns: float) -> None:
        dns, connect, tls, ttfb = self.phases
        hop_dns, hop_connect, hop_tls, hop_ttfb = hop.phases
        self.phases = (
            dns + hop_dns + waited_dns,
            connect + hop_connect,
            tls + hop_tls,
            ttfb + hop_ttfb,
        )
        if hop.family is not None:
            self.reused = self.reused and hop.reused
            self.family = hop.family
            self.ip = hop.ip
        if hop.cert_expiry is not None or not hop.reused:
            self.cert_expiry = hop.cert_expiry

    def next_route(self, hop: HopOutcome) -> Route | NetError | None:
        """Where to go after `hop`: a route, None when `hop` is the answer, or why not further."""
        follow = self.follow if hop.status in REDIRECTS else None  # most answers end here
        location = None if follow is None else _location(hop)
        if follow is None or location is None:
            return None
        limit, override = follow
        if self.redirects >= limit:
            return NetError(ErrorKind.REDIRECT, f"too many redirects (more than {limit})")
        try:
            route = redirect_route(self.route, location, override)
        except BadUrl as exc:
            return NetError(ErrorKind.REDIRECT, f"bad redirect: {exc}")
        if self.secure and self.route.scheme == "https" and route.scheme == "http":
            # Never healthy: the service would be checked, and secrets sent, in clear text.
            return NetError(ErrorKind.REDIRECT, "redirect downgrades https to http")
        if self.seen is None:
            self.seen = {(self.method, self.route.full_url)}  # the first hop
        self._redirect(hop.status or 0, route)
        if (self.method, route.full_url) in self.seen:
            return NetError(ErrorKind.REDIRECT, f"redirect loop at {route.url}")
        self.seen.add((self.method, route.full_url))
        return self.route

    def _redirect(self, status: int, route: Route) -> None:
        """Move to the next hop, with the method and headers a browser would use."""
        if _keeps_secrets(self.route, route):
            route = replace(route, auth=self.route.auth)
        else:
            self.headers = ()  # configured headers and credentials are meant for this host only
        if status == 303 or (status in (301, 302) and self.method == "POST"):
            self.method = "HEAD" if self.method == "HEAD" else "GET"
            self.body = None
        self.route, self.redirects = route, self.redirects + 1


def _location(hop: HopOutcome) -> str | None:
    return next((v for k, v in hop.headers if k.lower() == "location"), None)


def _keeps_secrets(old: Route, new: Route) -> bool:
    """Same host and port, or the default-port http->https upgrade; never https->http."""
    if old.host != new.host or (old.scheme == "https" and new.scheme == "http"):
        return False
    return old.port == new.port or (old.port, new.port) == (80, 443)
