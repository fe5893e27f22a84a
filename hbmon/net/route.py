"""Where one HTTP hop goes: the real origin, the address to dial, and the Host header to send."""

from __future__ import annotations

import base64
import re
import socket
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urljoin, urlsplit

from hbmon.net.policy import DnsOverride, OverrideMode

DEFAULT_PORTS = {"http": 80, "https": 443}
_NOT_IN_HOST = re.compile("[\x00-\x20\x7f]")  # header injection through the Host field


class BadUrl(ValueError):
    """The URL (or a redirect's Location) cannot be requested; the message is safe to store."""


@dataclass(frozen=True, slots=True)
class Route:
    scheme: str
    host: str  # lower-case real name: SNI, certificate check and Host header use it
    port: int
    dial: str  # what to resolve and connect to: `host`, or the override IP
    target: str  # path and query, as sent on the request line
    auth: str | None = None  # Basic credentials from the URL, never shown
    # Derived once: every request writes it, and routes are reused from cycle to cycle.
    host_header: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = f"[{self.host}]" if ":" in self.host else self.host
        header = name if DEFAULT_PORTS[self.scheme] == self.port else f"{name}:{self.port}"
        object.__setattr__(self, "host_header", header)

    @property
    def key(self) -> tuple[str, str, int, str]:
        """Connections are shared between hops and requests with the same key."""
        return (self.scheme, self.host, self.port, self.dial)

    @property
    def url(self) -> str:
        """The URL without credentials and query: safe to log, store and compare."""
        return f"{self.scheme}://{self.host_header}{self.target.partition('?')[0]}"

    @property
    def full_url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.target}"


def needs_lookup(route: Route) -> bool:
    """Whether the hop's name must be resolved first: not when dialled by IP or overridden."""
    return route.dial == route.host and not _is_ip(route.host)


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def route_for(url: str, override: DnsOverride | None, *, first_hop: bool = True) -> Route:
    """Parse `url`; `override` (None: resolve normally) pins matching hosts to its IP.

    In OverrideMode.HTTP the configured URL's first hop goes over plain HTTP (port 80 unless
    the URL names one) with the real Host header; later hops keep their scheme, so a proxy's
    HTTP->HTTPS redirect is followed through the override instead of counting as healthy.
    """
    if not url.isascii():
        # libcurl would send the raw bytes: config IDNA-encodes hosts and percent-encodes paths.
        raise BadUrl("URL is not ASCII (IDNA-encode the host, percent-encode the path)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BadUrl("invalid URL") from exc
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in DEFAULT_PORTS or not host:
        raise BadUrl(f"unsupported URL scheme {scheme!r}" if host else "URL has no host")
    if _NOT_IN_HOST.search(host):
        raise BadUrl("invalid URL host")  # http.client refused it, with an exception, once dialled
    pinned = override is not None and override.matches(host)
    if pinned and first_hop and override is not None and override.mode is OverrideMode.HTTP:
        scheme = "http"
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return Route(
        scheme=scheme,
        host=host.rstrip("."),
        port=port or DEFAULT_PORTS[scheme],
        dial=override.ip if pinned and override is not None else host,
        target=target,
        auth=_basic_auth(parts.username, parts.password),
    )


def redirect_route(current: Route, location: str, override: DnsOverride | None) -> Route:
    """The next hop for a Location header, ignoring any credentials the Location carries."""
    try:
        url = urljoin(current.full_url, location.strip())
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        raise BadUrl("invalid URL") from exc
    route = route_for(url, override, first_hop=False)
    return replace(route, auth=None)


def _basic_auth(username: str | None, password: str | None) -> str | None:
    if username is None:
        return None
    raw = f"{unquote(username)}:{unquote(password or '')}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")
