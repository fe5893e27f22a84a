"""The project's one HTTP client: keep-alive pool, network policy and total time budgets."""

from __future__ import annotations

import functools
import http.client
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from hbmon import __version__
from hbmon.net.connection import Connection, open_connection
from hbmon.net.exchange import Exchange, Headers, Response
from hbmon.net.reply import ErrorKind, HttpReply, NetError, classify
from hbmon.net.request import encode_request
from hbmon.net.resolve import BoundedResolver, Resolver, system_resolver
from hbmon.net.route import BadUrl, Route, redirect_route, route_for
from hbmon.net.watchdog import Budget, Watchdog
from hbmon.netpolicy import DnsOverride, NetPolicy

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
# What a keep-alive connection closed by the peer while idle looks like on its next use.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)
# Parsed first hops kept per client: probes ask for the same URLs every cycle.
_ROUTE_CACHE_SIZE = 4096


class HttpClient:
    """Thread-safe, long-lived HTTP/1.1 client shared by all probes and by the alerter.

    Proxy environment variables are ignored on purpose: reading them costs milliseconds per
    request with a thousand SERVICE_URL_* variables, and probes must reach services directly.
    """

    def __init__(
        self,
        policy: NetPolicy,
        *,
        max_redirects: int = 5,
        max_body_bytes: int = 65536,
        user_agent: str = f"heartbeat-monitor/{__version__}",
        ca_bundle: str | Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_idle_per_origin: int = 64,
        resolver: Resolver = system_resolver,
    ) -> None:
        self._policy = policy
        self._max_redirects = max_redirects
        self._max_body = max_body_bytes
        self._user_agent = user_agent
        self._tls = ssl_context or _default_context(ca_bundle)
        self._max_idle = max_idle_per_origin
        self._resolver = BoundedResolver(resolver)
        self._watchdog = Watchdog()
        self._lock = threading.Lock()
        self._idle: dict[tuple[str, str, int, str], list[Connection]] = {}
        self._closed = False
        self._first_hop = functools.lru_cache(maxsize=_ROUTE_CACHE_SIZE)(self._parse_first_hop)

    def request(
        self,
        url: str,
        *,
        method: str = "POST",
        headers: Headers = (),
        body: bytes | None = None,
        timeout: float,
        follow_redirects: bool = False,
    ) -> HttpReply:
        """A one-off request (webhooks, heartbeats): IP family policy, never the DNS override."""
        return self.exchange(
            url,
            method=method,
            headers=headers,
            body=body,
            timeout=timeout,
            follow_redirects=follow_redirects,
            dns_override=False,
        )

    def exchange(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Headers = (),
        body: bytes | None = None,
        timeout: float,
        follow_redirects: bool = True,
        dns_override: bool = True,
    ) -> HttpReply:
        """Run a request under a total budget of `timeout` seconds; never raises for I/O."""
        if self._closed:
            raise RuntimeError("HttpClient used after close()")
        override = self._policy.dns_override if dns_override else None
        try:
            route, secure = self._first_hop(url, dns_override)
        except BadUrl as exc:
            return HttpReply(error=NetError(ErrorKind.PROTOCOL, str(exc)))
        state = Exchange(route, method.upper(), headers, body, secure=secure)
        budget = self._watchdog.budget(timeout)
        try:
            return self._follow(state, budget, override, follow_redirects)
        except (OSError, http.client.HTTPException) as exc:
            if budget.expired or isinstance(exc, TimeoutError):
                return state.reply(None, state.timeout(timeout))
            return state.reply(None, classify(exc, state.route.host))
        finally:
            self._watchdog.release(budget)

    def close(self) -> None:
        """Close idle connections and stop the watchdog; in-flight requests finish normally.

        Returns at once even while a name lookup hangs: its daemon thread is simply abandoned.
        """
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for stack in idle.values():
            for conn in stack:
                conn.close()
        self._watchdog.close()

    def _parse_first_hop(self, url: str, dns_override: bool) -> tuple[Route, bool]:
        """The first hop's route, and whether the URL itself asked for https."""
        override = self._policy.dns_override if dns_override else None
        return route_for(url, override), urlsplit(url).scheme.lower() == "https"

    def _follow(
        self, state: Exchange, budget: Budget, override: DnsOverride | None, follow: bool
    ) -> HttpReply:
        seen = {(state.method, state.route.full_url)}
        while True:
            response = self._hop(state, budget)
            location = _header(response.headers, "location")
            if budget.fired:
                return state.reply(response, state.timeout(budget.seconds))
            if not follow or response.status not in _REDIRECTS or location is None:
                return state.reply(response)
            route = self._next_hop(state, location, override)
            if isinstance(route, NetError):
                return state.reply(response, route)
            state.redirect(response.status, route)
            if (state.method, route.full_url) in seen:
                reason = f"redirect loop at {route.url}"
                return state.reply(response, NetError(ErrorKind.REDIRECT, reason))
            seen.add((state.method, route.full_url))

    def _next_hop(
        self, state: Exchange, location: str, override: DnsOverride | None
    ) -> Route | NetError:
        """Where a redirect leads, or why it must not be followed."""
        if state.redirects >= self._max_redirects:
            return NetError(
                ErrorKind.REDIRECT, f"too many redirects (more than {self._max_redirects})"
            )
        try:
            route = redirect_route(state.route, location, override)
        except BadUrl as exc:
            return NetError(ErrorKind.REDIRECT, f"bad redirect: {exc}")
        if state.downgrades(route):
            # Never healthy: the service would be checked, and secrets sent, in clear text.
            return NetError(ErrorKind.REDIRECT, "redirect downgrades https to http")
        return route

    def _hop(self, state: Exchange, budget: Budget) -> Response:
        route = state.route
        conn = self._take_idle(route.key) if state.method in _IDEMPOTENT else None
        if conn is not None:
            try:
                return self._roundtrip(conn, True, state, budget)
            except _STALE:
                if budget.expired:
                    raise
                # The server closed the idle connection as we reused it: retry once, fresh.
        state.stage = "connecting"
        conn = open_connection(route, self._policy.ip_family, budget, self._tls, self._resolver)
        return self._roundtrip(conn, False, state, budget)

    def _roundtrip(
        self, conn: Connection, reused: bool, state: Exchange, budget: Budget
    ) -> Response:
        reply: http.client.HTTPResponse | None = None
        try:
            budget.watch(conn.sock)
            conn.sock.settimeout(max(budget.remaining(), 0.001))
            sent = time.monotonic()
            state.stage = "waiting for the response"
            reply = conn.send(self._encode(state), state.method)
            ttfb = time.monotonic() - sent
            state.stage = "reading the body"
            data = reply.read(self._max_body + 1)
            budget.watch(None)
        except BaseException:
            budget.watch(None)
            if reply is not None:
                reply.close()
            conn.close()
            raise
        state.account(conn, reused, ttfb)
        if len(data) > self._max_body or not reply.isclosed() or reply.will_close or budget.fired:
            reply.close()
            conn.close()  # unread body left on the wire would poison the next request
        else:
            self._give_back(conn)
        return Response(reply.status, tuple(reply.getheaders()), data[: self._max_body])

    def _encode(self, state: Exchange) -> bytes:
        route, headers = state.route, state.headers
        names = {name.lower() for name, _ in headers}
        fields: list[tuple[str, str]] = []
        if "host" not in names:
            fields.append(("Host", route.host_header))
        if "user-agent" not in names:
            fields.append(("User-Agent", self._user_agent))
        if route.auth is not None and "authorization" not in names:
            fields.append(("Authorization", route.auth))
        fields.extend(headers)
        if state.body is not None:
            fields.append(("Content-Length", str(len(state.body))))
        return encode_request(state.method, route.target, fields, state.body)

    def _take_idle(self, key: tuple[str, str, int, str]) -> Connection | None:
        while True:
            with self._lock:
                stack = self._idle.get(key)
                if not stack:
                    return None
                conn = stack.pop()
            if conn.usable:
                return conn
            conn.close()

    def _give_back(self, conn: Connection) -> None:
        with self._lock:
            stack = self._idle.setdefault(conn.key, [])
            if not self._closed and len(stack) < self._max_idle:
                stack.append(conn)
                return
        conn.close()


def _default_context(ca_bundle: str | Path | None) -> ssl.SSLContext:
    """System CA store (honours SSL_CERT_FILE), or only `ca_bundle` when given."""
    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    context.set_alpn_protocols(["http/1.1"])
    return context


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    return next((v for k, v in headers if k.lower() == name), None)
