"""The exporter's frozen configuration, built once from the environment by `from_env`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from exporter.dependencies import Parent, parents_problem
from hbmon import exporter_settings as table
from hbmon.configurl import http_url
from hbmon.envconfig import EnvReader, ListenAddress, cut, is_field_value
from hbmon.net.policy import DnsOverride, NetPolicy, OverrideMode
from hbmon.settings import INTERVAL, CommonSettings, read_settings

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class ServiceSpec:
    """One monitored service, as configured by `SERVICE_*_<name>` variables."""

    name: str
    kind: str  # "http" or "docker"
    target: str  # the URL, or the container name for docker
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    dns_override: bool = True
    depends_on: str | None = None  # as configured: a Parent keyword or a service name

    @property
    def display_target(self) -> str:
        """The target with credentials and query string removed: safe for logs and the DB."""
        if self.kind == "docker":
            return f"docker:{self.target}"
        parts = urlsplit(self.target)
        host = parts.hostname or ""
        netloc = f"[{host}]" if ":" in host else host
        netloc += f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{netloc}{parts.path}"


@dataclass(frozen=True, kw_only=True)
class ExporterConfig(CommonSettings):
    """Field defaults come from `hbmon.exporter_settings`, where each variable is declared."""

    services: tuple[ServiceSpec, ...]
    service_timeout: float = table.SERVICE_TIMEOUT.default
    ping_url: str = table.PING_URL.default
    listen: ListenAddress = table.LISTEN.default
    retention_days: float = table.RETENTION_DAYS.default
    history_days: float = table.HISTORY_DAYS.default
    status_page: bool = table.STATUS_PAGE.default
    status_page_title: str = table.STATUS_PAGE_TITLE.default
    status_page_public: bool = table.STATUS_PAGE_PUBLIC.default
    disk_path: str = table.DISK_PATH.default
    max_redirects: int = table.MAX_REDIRECTS.default
    max_body_bytes: int = table.MAX_BODY_BYTES.default
    max_workers: int = table.MAX_WORKERS.default
    docker_host: str | None = table.DOCKER_HOST.default
    ca_bundle: Path | None = table.CA_BUNDLE.default
    net: NetPolicy = field(default_factory=NetPolicy)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be logged, stored or exported."""
        values = [value for service in self.services for _, value in service.headers]
        values += [p for s in self.services for p in _url_credentials(s)]
        values += _url_credentials(ServiceSpec(name="-", kind="http", target=self.ping_url))
        return tuple(values)

    def cycle_deadline(self) -> float:
        """Seconds a cycle may run: below the interval, leaving room to write and serve."""
        return max(min(self.interval * 0.8, self.interval - 0.5), self.interval * 0.5)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ExporterConfig:
        """Build the configuration; raises ConfigError listing every problem at once."""
        reader = EnvReader(env)
        values = read_settings(reader, table.EXPORTER_SETTINGS)
        net = _net_policy({s.field: values.pop(s.field) for s in table.NET_SETTINGS})
        config = cls(services=_services(reader), net=net, **values)
        _check_parents(reader, config.services)
        _check_relations(reader, config)
        reader.finish()
        return config


def _url_credentials(service: ServiceSpec) -> list[str]:
    if service.kind != "http":
        return []
    parts = urlsplit(service.target)
    return [v for v in (parts.password, parts.query) if v]


def _check_relations(reader: EnvReader, config: ExporterConfig) -> None:
    if config.service_timeout >= config.interval:
        reader.problem(
            table.SERVICE_TIMEOUT.variable,
            f"{config.service_timeout:g}",
            f"must be below {INTERVAL.variable} ({config.interval:g})",
        )


def _service_names(reader: EnvReader) -> list[str]:
    prefix = table.SERVICE_URL
    discovered = [key[len(prefix) :] for key in reader.env if key.startswith(prefix)]
    listed = reader.raw(table.SERVICE_NAMES)
    if listed is None:
        return sorted(n for n in discovered if n)
    names = [n.strip() for n in listed.split(",") if n.strip()]
    for name in names:
        if reader.raw(table.SERVICE_URL + name) is None:
            reader.problem(
                table.SERVICE_NAMES,
                listed,
                f"lists {cut(name)!r} but its {table.SERVICE_URL}<name> is unset",
            )
    if len(set(names)) != len(names):
        reader.problem(table.SERVICE_NAMES, listed, "lists a service twice")
    return list(dict.fromkeys(names))


def _services(reader: EnvReader) -> tuple[ServiceSpec, ...]:
    services = []
    for name in _service_names(reader):
        variable = table.SERVICE_URL + name
        url = reader.raw(variable)
        if url is None:
            continue
        if not _NAME.match(name):
            reader.problem(variable, url, "service name may use only letters, digits, _ . -")
            continue
        spec = _service(reader, name, url)
        if spec is not None:
            services.append(spec)
    return tuple(services)


def _service(reader: EnvReader, name: str, url: str) -> ServiceSpec | None:
    variable = table.SERVICE_URL + name
    if url.startswith("docker:"):
        container = url.removeprefix("docker:").strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", container):
            reader.problem(variable, url, "docker: must be followed by a container name")
            return None
        return ServiceSpec(
            name=name, kind="docker", target=container, depends_on=_depends_on(reader, name)
        )
    try:
        target = http_url(url, "must start with http://, https:// or docker:")
    except ValueError as error:
        reader.problem(variable, url, str(error))
        return None
    return ServiceSpec(
        name=name,
        kind="http",
        target=target,
        headers=_headers(reader, name),
        method=reader.choice(table.SERVICE_METHOD + name, "get", ("get", "head")).upper(),
        dns_override=reader.boolean(table.SERVICE_DNS_OVERRIDE + name, True),
        depends_on=_depends_on(reader, name),
    )


def _depends_on(reader: EnvReader, name: str) -> str | None:
    value = reader.raw(table.SERVICE_DEPENDS_ON + name)
    if value is None or value.lower() not in set(Parent):
        return value
    return value.lower()


def _check_parents(reader: EnvReader, services: tuple[ServiceSpec, ...]) -> None:
    """Report parents that name no service or close a cycle, and parents of no service."""
    parents = {s.name: s.depends_on for s in services if s.depends_on is not None}
    names = frozenset(s.name for s in services)
    for name, parent in parents.items():
        problem = parents_problem(parents, name, names)
        if problem is not None:
            reader.problem(table.SERVICE_DEPENDS_ON + name, parent, problem)
    prefix = table.SERVICE_DEPENDS_ON
    for key in [key for key in reader.env if key.startswith(prefix)]:
        name = key.removeprefix(prefix)
        value = reader.raw(key)
        if value is not None and reader.raw(table.SERVICE_URL + name) is None:
            reader.problem(key, value, f"names no service: {table.SERVICE_URL}{cut(name)} is unset")


def _headers(reader: EnvReader, name: str) -> tuple[tuple[str, str], ...]:
    variable = table.SERVICE_HEADERS + name
    raw = reader.raw(variable)
    if raw is None:
        return ()
    headers = []
    for index, pair in enumerate(raw.split(","), start=1):
        key, sep, value = pair.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not _HEADER_NAME.match(key) or not value:
            problem = "is not Key:Value"
        elif not is_field_value(value):
            problem = "has a value that is not visible Latin-1 or holds CR/LF"
        else:
            headers.append((key, value))
            continue
        reader.problem(
            variable, raw, f"pair {index} {problem} (header values are redacted here)", secret=True
        )
        return ()
    return tuple(headers)


def _net_policy(values: dict[str, Any]) -> NetPolicy:
    family = values["ip_family"]
    if values["override_ip"] is None:
        return NetPolicy(ip_family=family)
    override = DnsOverride(
        ip=values["override_ip"], hosts=values["override_hosts"], mode=values["override_mode"]
    )
    return NetPolicy(ip_family=family, dns_override=override)


def plaintext_secrets(config: ExporterConfig) -> list[str]:
    """Services whose headers or URL credentials go over plain HTTP (override mode `http`)."""
    override = config.net.dns_override
    if override is None or override.mode is not OverrideMode.HTTP:
        return []
    return [
        spec.name
        for spec in config.services
        if spec.kind == "http"
        and spec.dns_override
        and override.matches(urlsplit(spec.target).hostname or "")
        and (spec.headers or _has_userinfo(spec.target))
    ]


def _has_userinfo(url: str) -> bool:
    parts = urlsplit(url)
    return parts.username is not None or parts.password is not None
