"""The exporter's settings table and its per-service variable names, each declared once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hbmon.configurl import idna_host, redact_credentials
from hbmon.envconfig import EnvReader, ListenAddress
from hbmon.net.policy import OverrideMode
from hbmon.settings import (
    COMMON_SETTINGS,
    IP_FAMILY,
    Setting,
    integer,
    listen,
    number,
    optional_text,
    text,
    url,
)

# Services are a family of variables: a prefix, then the service's name (its case kept).
SERVICE_NAMES = "SERVICE_NAMES"
SERVICE_URL = "SERVICE_URL_"
SERVICE_HEADERS = "SERVICE_HEADERS_"
SERVICE_METHOD = "SERVICE_METHOD_"
SERVICE_DNS_OVERRIDE = "SERVICE_DNS_OVERRIDE_"
SERVICE_PREFIXES = (SERVICE_URL, SERVICE_HEADERS, SERVICE_METHOD, SERVICE_DNS_OVERRIDE)
_HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def default_timeout(interval: float) -> float:
    """2 s, or less when a short interval would not leave room for it (only if not set)."""
    return min(2.0, round(interval / 2, 3))


def _existing_file(reader: EnvReader, name: str, default: Path | None) -> Path | None:
    value = reader.raw(name)
    if value is None:
        return default
    if not Path(value).is_file():
        reader.problem(name, value, "is not a readable file")
        return default
    return Path(value)


def _ip(reader: EnvReader, name: str, default: str | None) -> str | None:
    return reader.ip_address(name) or default


def _mode(reader: EnvReader, name: str, default: OverrideMode) -> OverrideMode:
    return OverrideMode(reader.choice(name, default.value, [m.value for m in OverrideMode]))


def _host_pattern(entry: str) -> str:
    """`*.café.example` -> `*.xn--caf-dma.example`; ValueError when not a name or `*.suffix`."""
    prefix = "*." if entry.startswith("*.") else ""
    pattern = prefix + idna_host(entry.removeprefix(prefix))
    if not _HOST_PATTERN.match(pattern):
        raise ValueError(entry)
    return pattern


def _hosts(reader: EnvReader, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Exact names or `*.suffix` patterns, IDNA-encoded like the service URLs they match."""
    raw = reader.raw(name)
    hosts = []
    for entry in (h.strip().lower() for h in (raw or "").split(",") if h.strip()):
        try:
            hosts.append(_host_pattern(entry))
        except ValueError:
            reader.problem(name, raw, f"{entry!r} is not a hostname or *.suffix")
    return tuple(hosts) or default


def _override(config: Any, part: str) -> Any:
    override = config.net.dns_override
    return None if override is None else getattr(override, part)


SERVICE_TIMEOUT = Setting(
    "SERVICE_TIMEOUT_SECONDS",
    "service_timeout",
    number(),
    2.0,
    "Total budget per probe (DNS, connect, TLS, response, body, redirects); below the interval.",
    documented="`2` (at most half the interval when unset)",
    fallback=lambda values: default_timeout(values["interval"]),
)
PING_URL = Setting(
    "PING_URL",
    "ping_url",
    url,
    "http://www.google.com",
    "The internet check target; never DNS-overridden.",
    show=redact_credentials,
)
LISTEN = Setting(
    "EXPORTER_LISTEN",
    "listen",
    listen,
    ListenAddress("0.0.0.0", 9877),
    "Address of /metrics and /healthz ([::]:9877 for IPv6).",
)
RETENTION_DAYS = Setting(
    "RETENTION_DAYS", "retention_days", number(), 30.0, "Cycles older than this are pruned."
)
DISK_PATH = Setting[str](
    "DISK_PATH", "disk_path", text, "/", "The filesystem whose usage is reported."
)
OVERRIDE_IP = Setting[str | None](
    "INTERNAL_DNS_OVERRIDE_IP",
    "override_ip",
    _ip,
    None,
    "Pin service hostnames to this IPv4/IPv6 address, like curl --resolve.",
    documented="unset",
    get=lambda config: _override(config, "ip"),
)
OVERRIDE_MODE = Setting(
    "INTERNAL_DNS_OVERRIDE_MODE",
    "override_mode",
    _mode,
    OverrideMode.RESOLVE,
    "`resolve` (keeps TLS, SNI, certificate checks) or `http` (compatibility mode).",
    get=lambda config: _override(config, "mode"),
)
OVERRIDE_HOSTS = Setting[tuple[str, ...]](
    "INTERNAL_DNS_OVERRIDE_HOSTS",
    "override_hosts",
    _hosts,
    (),
    "Comma list of hostnames or *.suffix patterns the override applies to (default: the "
    "services' own hostnames, never a redirect's other hosts).",
    show=",".join,
    documented="the services' own hostnames",
    get=lambda config: _override(config, "hosts") or (),
)
DOCKER_HOST = Setting[str | None](
    "DOCKER_HOST",
    "docker_host",
    optional_text,
    None,
    "The engine for docker: services and the container count.",
    show=lambda value: value or "unix:///var/run/docker.sock",
)
CA_BUNDLE = Setting[Path | None](
    "HTTP_CA_BUNDLE",
    "ca_bundle",
    _existing_file,
    None,
    "PEM file of CAs to trust for HTTPS probes instead of the system store.",
    documented="system store",
)
MAX_REDIRECTS = Setting(
    "HTTP_MAX_REDIRECTS", "max_redirects", integer(minimum=0), 5, "Redirects followed per probe."
)
MAX_BODY_BYTES = Setting(
    "HTTP_MAX_BODY_BYTES", "max_body_bytes", integer(minimum=0), 65536, "Body bytes per probe."
)
MAX_WORKERS = Setting(
    "PROBE_MAX_WORKERS",
    "max_workers",
    integer(),
    32,
    "Docker probe threads; also the floor of HTTP transfers in flight (256).",
)
NET_SETTINGS = (IP_FAMILY, OVERRIDE_IP, OVERRIDE_MODE, OVERRIDE_HOSTS)
EXPORTER_SETTINGS: tuple[Setting[Any], ...] = (
    *COMMON_SETTINGS,
    SERVICE_TIMEOUT,
    PING_URL,
    LISTEN,
    RETENTION_DAYS,
    DISK_PATH,
    *NET_SETTINGS,
    DOCKER_HOST,
    CA_BUNDLE,
    MAX_REDIRECTS,
    MAX_BODY_BYTES,
    MAX_WORKERS,
)
