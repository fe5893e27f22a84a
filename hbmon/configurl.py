"""Configured URLs made safe at start-up: IDNA hosts, percent-encoded paths, redacted passwords."""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, quote, urlsplit

REDACTED = "<redacted>"
_MAX_HOST = 253  # DNS limits: longer names make the resolver raise instead of answer
_MAX_LABEL = 63
# Reserved and unreserved characters stay as they are, and so do existing %XX escapes.
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_SAFE_QUERY = _SAFE_PATH + "?"


def http_url(url: str, scheme_problem: str = "must be an http:// or https:// URL") -> str:
    """`url`, checked to be an absolute http(s) URL, then normalized; ValueError says why not."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(scheme_problem)
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    checked_host(parts.hostname)
    return _normalize(parts)


def _normalize(parts: SplitResult) -> str:
    """The URL with an ASCII (IDNA) host and a percent-encoded path and query."""
    host = parts.hostname or ""
    netloc = parts.netloc
    if not host.isascii():
        netloc = netloc[: netloc.rfind("@") + 1] + idna_host(host) + _port_suffix(parts)
    return parts._replace(
        netloc=netloc,
        path=quote(parts.path, safe=_SAFE_PATH),
        query=quote(parts.query, safe=_SAFE_QUERY),
    ).geturl()


def idna_host(host: str) -> str:
    """The ASCII (IDNA) form of a host name: `café.example` -> `xn--caf-dma.example`."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError("has a host name that is not valid IDNA") from None


def checked_host(host: str) -> str:
    """The ASCII form of `host`; ValueError when no resolver could ever look it up."""
    if any(c.isspace() or not c.isprintable() for c in host):
        raise ValueError("has a host name with a space or control character")
    ascii_host = idna_host(host)
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > _MAX_HOST or any(not 0 < len(label) <= _MAX_LABEL for label in labels):
        raise ValueError("has a host name that is too long or has an empty label")
    return ascii_host


def _port_suffix(parts: SplitResult) -> str:
    return f":{parts.port}" if parts.port is not None else ""


def redact_credentials(value: str) -> str:
    """`https://user:<redacted>@host/`: the password (and a query, often a token) hidden."""
    if "://" not in value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:
        return REDACTED if "@" in value or "?" in value else value
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{REDACTED}@{hostport}"
    query = REDACTED if parts.query else ""
    return parts._replace(netloc=netloc, query=query).geturl()


def is_loopback(host: str) -> bool:
    """`localhost` and loopback IP literals: traffic that never leaves this machine."""
    name = host.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
