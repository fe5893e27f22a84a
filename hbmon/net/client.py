"""The project's one HTTP client: network policy and total budgets over the libcurl engine."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from hbmon import __version__
from hbmon.net.direct import Direct
from hbmon.net.engine import Engine, Job
from hbmon.net.exchange import Exchange, Headers
from hbmon.net.hop import HopSettings
from hbmon.net.policy import NetPolicy
from hbmon.net.reply import ErrorKind, HttpReply, NetError
from hbmon.net.resolve import DnsCache, Resolver, system_resolver
from hbmon.net.route import BadUrl, Route, route_for

SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# Parsed first hops kept per client: probes ask for the same URLs every cycle.
_ROUTE_CACHE_SIZE = 16384
_CLOSE_SLACK_S = 2.0  # how long exchange() waits past its budget for an engine gone away


class HttpClient:
    """Thread-safe, long-lived HTTP/1.1 client shared by all probes (or by the alerter).

    `submit`/`exchange` run on the engine (its thread starts with the first of them);
    `request` runs on the caller's thread. Proxy environment variables are ignored on purpose:
    probes must reach services directly.
    """

    def __init__(
        self,
        policy: NetPolicy,
        *,
        max_redirects: int = 5,
        max_body_bytes: int = 65536,
        user_agent: str = f"heartbeat-monitor/{__version__}",
        ca_bundle: str | Path | None = None,
        resolver: Resolver = system_resolver,
        max_transfers: int = 256,
        max_connects: int = 64,
        reuse_connections: bool = True,
    ) -> None:
        self._policy = policy
        self._max_redirects = max_redirects
        settings = HopSettings(ca_file(ca_bundle), user_agent, max_body_bytes, reuse_connections)
        dns = DnsCache(resolver)
        self._new_engine = functools.partial(
            Engine,
            settings,
            dns,
            policy.ip_family,
            max_transfers=max_transfers,
            max_connects=max_connects,
        )
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()
        self._direct = Direct(settings, dns, policy.ip_family)
        self._closed = False
        self._first_hop = functools.lru_cache(maxsize=_ROUTE_CACHE_SIZE)(self._parse_first_hop)

    def submit(
        self,
        url: str,
        done: Callable[[HttpReply], None],
        *,
        method: str = "GET",
        headers: Headers = (),
        body: bytes | None = None,
        timeout: float,
        follow_redirects: bool = True,
        dns_override: bool = True,
        priority: bool = False,
        not_after: float | None = None,
    ) -> None:
        """Start a request under a total budget of `timeout` seconds; `done` gets its reply
        on the engine's thread (so it must be quick). Never raises for I/O.

        The budget starts when one of the engine's transfer slots takes the request; nothing
        starts or runs past `not_after` (monotonic). `priority` requests skip every queue.
        """
        exchange = self._exchange(
            url, (method, headers, body), timeout, follow_redirects, dns_override
        )
        if isinstance(exchange, HttpReply):
            done(exchange)
            return
        self._running_engine().submit(Job(exchange, done, priority=priority, not_after=not_after))

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
        """Run a request and wait for its reply (see `submit`)."""
        box: list[HttpReply] = []
        ready = threading.Event()

        def done(reply: HttpReply) -> None:
            box.append(reply)
            ready.set()

        started = time.monotonic()
        self.submit(
            url,
            done,
            method=method,
            headers=headers,
            body=body,
            timeout=timeout,
            follow_redirects=follow_redirects,
            dns_override=dns_override,
        )
        if not ready.wait(timeout + _CLOSE_SLACK_S):
            reason = f"timed out after {timeout:g}s: the client was closed"
            error = NetError(ErrorKind.TIMEOUT, reason)
            return HttpReply(error=error, elapsed_s=time.monotonic() - started)
        return box[0]

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
        """A one-off request (webhooks, heartbeats) on the calling thread, which keeps its
        connection open for the next one: IP family policy, never the DNS override."""
        exchange = self._exchange(url, (method, headers, body), timeout, follow_redirects, False)
        if isinstance(exchange, HttpReply):
            return exchange
        return self._direct.run(exchange)

    def close(self) -> None:
        """Stop the engine at once; a hung name lookup is abandoned, never waited for. A
        `request` in flight ends within its own budget."""
        with self._engine_lock:
            self._closed = True
            if self._engine is not None:
                self._engine.close()

    def _running_engine(self) -> Engine:
        with self._engine_lock:
            if self._closed:
                raise RuntimeError("HttpClient used after close()")
            if self._engine is None:
                self._engine = self._new_engine()
            return self._engine

    def _exchange(
        self,
        url: str,
        request: tuple[str, Headers, bytes | None],
        timeout: float,
        follow_redirects: bool,
        dns_override: bool,
    ) -> Exchange | HttpReply:
        """The exchange a request starts, or the error reply of a URL that cannot be asked."""
        if self._closed:
            raise RuntimeError("HttpClient used after close()")
        try:
            route, secure = self._first_hop(url, dns_override)
        except BadUrl as exc:
            return HttpReply(error=NetError(ErrorKind.PROTOCOL, str(exc)))
        method, headers, body = request
        override = self._policy.dns_override if dns_override else None
        return Exchange(
            route,
            (method.upper(), headers, body),
            secure=secure,
            timeout=timeout,
            follow=(self._max_redirects, override) if follow_redirects else None,
        )

    def _parse_first_hop(self, url: str, dns_override: bool) -> tuple[Route, bool]:
        """The first hop's route, and whether the URL itself asked for https."""
        override = self._policy.dns_override if dns_override else None
        return route_for(url, override), urlsplit(url).scheme.lower() == "https"


def ca_file(ca_bundle: str | Path | None) -> str | None:
    """HTTP_CA_BUNDLE, else SSL_CERT_FILE, else the system bundle: the wheel's own OpenSSL
    knows neither the system store nor SSL_CERT_FILE, so it is always told explicitly."""
    if ca_bundle:
        return str(ca_bundle)
    chosen = os.environ.get("SSL_CERT_FILE")
    if chosen:
        return chosen
    return SYSTEM_CA_BUNDLE if Path(SYSTEM_CA_BUNDLE).is_file() else None
