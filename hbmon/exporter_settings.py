"""The exporter's settings table and its per-service variable names, each declared once."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from docker.errors import DockerException
from docker.utils import parse_host

from hbmon.configurl import idna_host, redact_credentials
from hbmon.envconfig import EnvReader, ListenAddress, cut
from hbmon.envpaths import path_problem
from hbmon.net.policy import OverrideMode
from hbmon.settings import (
    COMMON_SETTINGS,
    IP_FAMILY,
    MAX_DAYS,
    Setting,
    ca_file,
    existing_path,
    integer,
    listen,
    number,
    text,
    url,
)

# Services are a family of variables: a prefix, then the service's name (its case kept).
SERVICE_NAMES = "SERVICE_NAMES"
SERVICE_URL = "SERVICE_URL_"
SERVICE_HEADERS = "SERVICE_HEADERS_"
SERVICE_METHOD = "SERVICE_METHOD_"
SERVICE_DNS_OVERRIDE = "SERVICE_DNS_OVERRIDE_"
SERVICE_DEPENDS_ON = "SERVICE_DEPENDS_ON_"
SERVICE_PREFIXES = (
    SERVICE_URL,
    SERVICE_HEADERS,
    SERVICE_METHOD,
    SERVICE_DNS_OVERRIDE,
    SERVICE_DEPENDS_ON,
)
DOCKER_SCHEMES = ("unix", "tcp", "http", "https")
_SUN_PATH = 107  # a unix socket path longer than sockaddr_un can hold fails to connect
_HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")


def default_timeout(interval: float) -> float:
    """2 s, or less when a short interval would not leave room for it (only if not set)."""
    return min(2.0, round(interval / 2, 3))


def docker_host_problem(value: str) -> str | None:
    """Why the Docker SDK (without its ssh and Windows extras) cannot use `value`."""
    scheme, found, rest = value.partition("://")
    if found and scheme.lower() not in DOCKER_SCHEMES:
        return "must be unix://, tcp://, http:// or https://"
    if scheme.lower() == "unix":
        return path_problem(rest) or (
            f"has a socket path longer than {_SUN_PATH} bytes"
            if len(os.fsencode(rest)) > _SUN_PATH
            else None
        )
    try:
        parse_host(value)
    except (DockerException, ValueError):
        return "must be HOST:PORT after tcp://, http:// or https://"
    return None


def _docker_host(reader: EnvReader, name: str, default: str | None) -> str | None:
    return reader.checked(name, "", docker_host_problem) or default


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
            reader.problem(name, raw, f"{cut(entry)!r} is not a hostname or *.suffix")
    return tuple(hosts) or default


def _boolean(reader: EnvReader, name: str, default: bool) -> bool:
    return reader.boolean(name, default)


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
    "Address of /metrics, /healthz and the status page ([::]:9877 for IPv6).",
)
RETENTION_DAYS = Setting(
    "RETENTION_DAYS",
    "retention_days",
    number(maximum=MAX_DAYS),
    7.0,
    "Raw cycles older than this are pruned (the hourly and daily rollups stay).",
)
HISTORY_DAYS = Setting(
    "HISTORY_DAYS",
    "history_days",
    number(maximum=MAX_DAYS),
    400.0,
    "Hourly and daily rollups (the status page's history) older than this are pruned.",
)
STATUS_PAGE = Setting(
    "STATUS_PAGE",
    "status_page",
    _boolean,
    True,
    "`on` serves the status page, its JSON and badges on EXPORTER_LISTEN; `off` does not.",
    show=lambda value: "on" if value else "off",
)
STATUS_PAGE_TITLE = Setting(
    "STATUS_PAGE_TITLE", "status_page_title", text, "Status", "The status page's title."
)
STATUS_PAGE_PUBLIC = Setting(
    "STATUS_PAGE_PUBLIC",
    "status_page_public",
    _boolean,
    False,
    "`true` hides URLs, reasons, host metrics and anything internal (for users to see).",
    show=lambda value: "true" if value else "false",
)
DISK_PATH = Setting[str](
    "DISK_PATH", "disk_path", existing_path, "/", "The filesystem whose usage is reported."
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
    _docker_host,
    None,
    "The engine for docker: services and the container count.",
    show=lambda value: value or "unix:///var/run/docker.sock",
)
CA_BUNDLE = Setting[Path | None](
    "HTTP_CA_BUNDLE",
    "ca_bundle",
    ca_file,
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
    HISTORY_DAYS,
    STATUS_PAGE,
    STATUS_PAGE_TITLE,
    STATUS_PAGE_PUBLIC,
    DISK_PATH,
    *NET_SETTINGS,
    DOCKER_HOST,
    CA_BUNDLE,
    MAX_REDIRECTS,
    MAX_BODY_BYTES,
    MAX_WORKERS,
)
