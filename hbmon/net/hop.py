"""One request on one libcurl easy handle: its options going in, its outcome coming out."""

from __future__ import annotations

import errno
import math
import re
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import pycurl

from hbmon.net.reply import ErrorKind, NetError
from hbmon.net.route import Route
from hbmon.net.sink import Sink

if TYPE_CHECKING:
    from hbmon.net.exchange import Exchange

_US = 1e-6  # libcurl's *_TIME_T timers count microseconds
_MAX_CERTS = 65536


@dataclass(frozen=True, slots=True)
class HopSettings:
    """What every hop of a client shares."""

    ca_file: str | None
    user_agent: str
    max_body: int
    reuse: bool = True


class HopOutcome(NamedTuple):
    """A hop's response (status None: none arrived) and what libcurl measured."""

    status: int | None
    headers: tuple[tuple[str, str], ...]
    body: bytes
    error: NetError | None
    reused: bool
    family: str | None
    ip: str | None  # the address libcurl connected to (or tried last)
    phases: tuple[float, float, float, float]  # dns, connect, tls, ttfb
    cert_expiry: float | None


class Handle:
    """An easy handle kept for reuse, with its own sink and the shape of its last hop."""

    __slots__ = ("curl", "shape", "sink")

    def __init__(self, max_body: int) -> None:
        self.curl = pycurl.Curl()
        self.sink = Sink(max_body)
        self.shape: tuple[object, ...] | None = None  # None: options unknown, reset first


class CertMemory:
    """libcurl reports certificates only on a handshake: remembered per origin, so that a hop
    on a kept-alive connection still reports its certificate's expiry."""

    __slots__ = ("_certs",)

    def __init__(self) -> None:
        self._certs: dict[tuple[str, str, int, str], float] = {}

    def remember(self, origin: tuple[str, str, int, str], hop: HopOutcome) -> HopOutcome:
        if hop.cert_expiry is not None:
            if len(self._certs) >= _MAX_CERTS:
                self._certs.clear()
            self._certs[origin] = hop.cert_expiry
        elif hop.reused and origin in self._certs:
            return hop._replace(cert_expiry=self._certs[origin])
        return hop


def stage(handle: Handle | None, scheme: str) -> str:
    """Which step a transfer had reached, for a timeout's reason."""
    if handle is None:
        return "connecting"
    curl, sink = handle.curl, handle.sink
    if sink.complete:
        return "reading the body"
    connected = curl.getinfo(pycurl.CONNECT_TIME_T) > 0
    if scheme == "https":
        connected = connected and curl.getinfo(pycurl.APPCONNECT_TIME_T) > 0
    return "waiting for the response" if connected else "connecting"


def configure(
    handle: Handle, exchange: Exchange, addresses: tuple[str, ...], settings: HopSettings
) -> NetError | None:
    """Set the options of the exchange's current hop, with what is left of its deadline as the
    timeout; redirects are never libcurl's. A request libcurl refuses (e.g. a header) is an
    error, returned. A handle whose last hop had the same shape (everything but the URL and the
    time left) keeps its options: at 10,000 probes a cycle, the reset and a dozen setopt calls
    were a fifth of the engine's CPU."""
    route, request, deadline = exchange.route, exchange.request, exchange.deadline
    method, headers, body = request
    pinned = route.dial != route.host or addresses
    shape = (
        route.scheme,
        route.auth,
        (route.host, route.port, route.dial, addresses) if pinned else None,
        method,
        tuple(headers),
        body,
    )
    curl = handle.curl
    try:
        if handle.shape != shape:
            handle.shape = None  # stays unknown if a setopt below fails
            _full(curl, route, request, addresses=addresses, settings=settings, sink=handle.sink)
            handle.shape = shape
        curl.setopt(pycurl.URL, route.full_url)
        curl.setopt(pycurl.TIMEOUT_MS, max(1, math.ceil((deadline - time.monotonic()) * 1000)))
    except (pycurl.error, ValueError, TypeError) as exc:
        return NetError(ErrorKind.PROTOCOL, f"cannot send the request: {type(exc).__name__}")
    handle.sink.reset()
    return None


def _full(
    curl: pycurl.Curl,
    route: Route,
    request: tuple[str, Sequence[tuple[str, str]], bytes | None],
    *,
    addresses: tuple[str, ...],
    settings: HopSettings,
    sink: Sink,
) -> None:
    """Every option but the URL and the timeout, on a freshly reset handle."""
    method, headers, body = request
    curl.reset()
    setopt = curl.setopt
    setopt(pycurl.NOSIGNAL, 1)
    setopt(pycurl.PROXY, "")  # proxy variables are ignored: probes reach services directly
    # Else libcurl reads no_proxy/NO_PROXY on every transfer: a linear scan of an environment
    # that holds 10,000 SERVICE_URL_* variables (a tenth of the engine's CPU at that size).
    setopt(pycurl.NOPROXY, "*")
    setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_1_1)
    setopt(pycurl.USERAGENT, settings.user_agent)
    setopt(pycurl.HEADERFUNCTION, sink.header)
    setopt(pycurl.WRITEFUNCTION, sink.write)
    setopt(pycurl.HTTPHEADER, _header_lines(route, headers, body is not None))
    if route.scheme == "https":
        _tls(curl, settings.ca_file)
    if route.dial != route.host:
        setopt(pycurl.CONNECT_TO, [f"{route.host}:{route.port}:{_bracket(route.dial)}:"])
    elif addresses:
        setopt(pycurl.RESOLVE, [f"{route.host}:{route.port}:{','.join(map(_bracket, addresses))}"])
    if not settings.reuse:
        setopt(pycurl.FRESH_CONNECT, 1)
        setopt(pycurl.FORBID_REUSE, 1)
    _method(curl, method, body)


def _tls(curl: pycurl.Curl, ca_file: str | None) -> None:
    curl.setopt(pycurl.SSLVERSION, pycurl.SSLVERSION_TLSv1_2)
    curl.setopt(pycurl.OPT_CERTINFO, 1)
    if ca_file is not None:
        curl.setopt(pycurl.CAINFO, ca_file)
        curl.setopt(pycurl.CAPATH, "")  # only this bundle, like ssl.create_default_context


def _method(curl: pycurl.Curl, method: str, body: bytes | None) -> None:
    if method == "HEAD":
        curl.setopt(pycurl.NOBODY, 1)
        return
    if body is not None or method == "POST":
        curl.setopt(pycurl.POSTFIELDS, body or b"")
    if method not in ("GET", "POST") or (method == "GET" and body is not None):
        curl.setopt(pycurl.CUSTOMREQUEST, method)


def _header_lines(route: Route, headers: Sequence[tuple[str, str]], body: bool) -> list[str]:
    names = {name.lower() for name, _ in headers}
    lines = [f"{name}: {value}" if value else f"{name};" for name, value in headers]
    if route.auth is not None and "authorization" not in names:
        lines.append(f"Authorization: {route.auth}")
    lines.append("Expect:")  # no 100-continue round trip for small bodies
    if body and "content-type" not in names:
        lines.append("Content-Type:")  # libcurl would add a form type the caller never chose
    return lines


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def outcome(
    curl: pycurl.Curl, code: int, message: str, sink: Sink, stage: Callable[[], str]
) -> HopOutcome:
    """Read what a finished hop produced; `stage()` names the step for a timeout's reason."""
    reused = curl.getinfo(pycurl.NUM_CONNECTS) == 0
    ip = curl.getinfo(pycurl.PRIMARY_IP)
    return HopOutcome(
        status=sink.status if sink.complete else None,
        headers=tuple(sink.headers) if sink.complete else (),
        body=sink.data(),
        error=None if code == 0 or sink.truncated else _error(curl, code, message, sink, stage),
        reused=reused,
        family=("ipv6" if ":" in ip else "ipv4") if ip else None,
        ip=ip or None,
        phases=_phases(curl, reused),
        cert_expiry=None if reused else _cert_expiry(curl),
    )


def _phases(curl: pycurl.Curl, reused: bool) -> tuple[float, float, float, float]:
    info = curl.getinfo
    first = info(pycurl.STARTTRANSFER_TIME_T)
    ttfb = max(first - info(pycurl.PRETRANSFER_TIME_T), 0) * _US if first else 0.0
    if reused:  # the common case at scale: three timers fewer to ask for
        return 0.0, 0.0, 0.0, ttfb
    connect = info(pycurl.CONNECT_TIME_T)
    if not connect:
        return 0.0, 0.0, 0.0, ttfb
    lookup, tls = info(pycurl.NAMELOOKUP_TIME_T), info(pycurl.APPCONNECT_TIME_T)
    return lookup * _US, (connect - lookup) * _US, max(tls - connect, 0) * _US, ttfb


def _cert_expiry(curl: pycurl.Curl) -> float | None:
    chain = curl.getinfo(pycurl.INFO_CERTINFO)
    if not chain:
        return None
    for key, value in chain[0]:
        if key == "Expire date":
            try:
                return float(ssl.cert_time_to_seconds(value))
            except ValueError:
                return None
    return None


# libcurl codes whose reason is libcurl's message after a fixed prefix.
_KINDS: dict[int, tuple[ErrorKind, str]] = {
    pycurl.E_PEER_FAILED_VERIFICATION: (ErrorKind.TLS, "certificate verify failed: "),
    pycurl.E_SSL_CACERT_BADFILE: (ErrorKind.TLS, "certificate verify failed: "),
    pycurl.E_SSL_CONNECT_ERROR: (ErrorKind.TLS, "tls handshake failed: "),
    pycurl.E_COULDNT_RESOLVE_HOST: (ErrorKind.DNS, ""),
    **{
        code: (ErrorKind.PROTOCOL, "invalid HTTP response: ")
        for code in (
            pycurl.E_FTP_WEIRD_SERVER_REPLY,  # 8: CURLE_WEIRD_SERVER_REPLY in libcurl
            pycurl.E_PARTIAL_FILE,
            pycurl.E_BAD_CONTENT_ENCODING,
            pycurl.E_UNSUPPORTED_PROTOCOL,
            pycurl.E_URL_MALFORMAT,
            pycurl.E_FILESIZE_EXCEEDED,
        )
    },
}
_NOTHING = NetError(ErrorKind.RESET, "server closed the connection without a response")
_RESET = NetError(ErrorKind.RESET, "connection reset by peer")
_NETWORK = (ErrorKind.NETWORK, "")


def _error(
    curl: pycurl.Curl, code: int, message: str, sink: Sink, stage: Callable[[], str]
) -> NetError:
    if sink.refused is not None:
        return NetError(ErrorKind.PROTOCOL, f"invalid HTTP response: {sink.refused}")
    if code == pycurl.E_OPERATION_TIMEDOUT:
        return NetError(ErrorKind.TIMEOUT, stage())
    if code == pycurl.E_COULDNT_CONNECT:
        return _connect_error(curl.getinfo(pycurl.OS_ERRNO), message)
    if code == pycurl.E_GOT_NOTHING:
        return _NOTHING
    if code in (pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR) and not sink.header_bytes:
        return _RESET
    answered = sink.header_bytes > 0  # an answer began: whatever went wrong is its framing
    default = (ErrorKind.PROTOCOL, "invalid HTTP response: ") if answered else _NETWORK
    kind, prefix = _KINDS.get(code, default)
    return NetError(kind, prefix + _detail(message))


def _connect_error(os_errno: int, message: str) -> NetError:
    if os_errno == errno.ECONNREFUSED:
        return NetError(ErrorKind.REFUSED, "connection refused")
    return NetError(ErrorKind.NETWORK, _detail(message))


_CURL_PREFIXES = re.compile(r"^SSL certificate (problem|OpenSSL verify result): |\s*\(\d+\)$")


def _detail(message: str) -> str:
    """libcurl's message without its generic parts; it never holds credentials or queries."""
    return _CURL_PREFIXES.sub("", message.strip())[:200] or "unknown error"
