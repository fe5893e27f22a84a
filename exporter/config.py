"""The exporter's frozen configuration, built once from the environment by `from_env`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from hbmon.envconfig import EnvReader, ListenAddress, ip_family, shared_settings
from hbmon.net.policy import DnsOverride, NetPolicy, OverrideMode

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # CR, LF, NUL...: header injection
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$")
URL_PREFIX = "SERVICE_URL_"


@dataclass(frozen=True)
class ServiceSpec:
    """One monitored service, as configured by `SERVICE_*_<name>` variables."""

    name: str
    kind: str  # "http" or "docker"
    target: str  # the URL, or the container name for docker
    headers: tuple[tuple[str, str], ...] = ()
    method: str = "GET"
    dns_override: bool = True

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


@dataclass(frozen=True)
class ExporterConfig:
    services: tuple[ServiceSpec, ...]
    interval: float = 10.0
    service_timeout: float = 2.0
    db_path: Path = Path("data/metrics.db")
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    ping_url: str = "http://www.google.com"
    listen: ListenAddress = field(default_factory=lambda: ListenAddress("0.0.0.0", 9877))
    retention_days: float = 30.0
    log_level: str = "info"
    log_format: str | None = None
    disk_path: str = "/"
    max_redirects: int = 5
    max_body_bytes: int = 65536
    max_workers: int = 32
    docker_host: str | None = None
    ca_bundle: Path | None = None
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
        shared = shared_settings(reader)
        interval = shared["interval"]
        config = cls(
            services=_services(reader),
            service_timeout=reader.number("SERVICE_TIMEOUT_SECONDS", _default_timeout(interval)),
            ping_url=reader.url("PING_URL") or "http://www.google.com",
            listen=reader.listen("EXPORTER_LISTEN", "0.0.0.0:9877"),
            retention_days=reader.number("RETENTION_DAYS", 30.0),
            disk_path=reader.string("DISK_PATH", "/"),
            max_redirects=reader.integer("HTTP_MAX_REDIRECTS", 5, minimum=0),
            max_body_bytes=reader.integer("HTTP_MAX_BODY_BYTES", 65536, minimum=0),
            max_workers=reader.integer("PROBE_MAX_WORKERS", 32),
            docker_host=reader.raw("DOCKER_HOST"),
            ca_bundle=_existing_file(reader, "HTTP_CA_BUNDLE"),
            net=_net_policy(reader),
            **shared,
        )
        _check_relations(reader, config)
        reader.finish()
        return config


def _url_credentials(service: ServiceSpec) -> list[str]:
    if service.kind != "http":
        return []
    parts = urlsplit(service.target)
    return [v for v in (parts.password, parts.query) if v]


def _default_timeout(interval: float) -> float:
    """2 s, or less when a short interval would not leave room for it (only if not set)."""
    return min(2.0, round(interval / 2, 3))


def _existing_file(reader: EnvReader, name: str) -> Path | None:
    value = reader.raw(name)
    if value is None:
        return None
    if not Path(value).is_file():
        reader.problem(name, value, "is not a readable file")
        return None
    return Path(value)


def _check_relations(reader: EnvReader, config: ExporterConfig) -> None:
    if config.service_timeout >= config.interval:
        reader.problem(
            "SERVICE_TIMEOUT_SECONDS",
            f"{config.service_timeout:g}",
            f"must be below LOOP_INTERVAL_SECONDS ({config.interval:g})",
        )
    if not Path(config.disk_path).exists():
        reader.problem("DISK_PATH", config.disk_path, "does not exist")


def _service_names(reader: EnvReader) -> list[str]:
    discovered = [key[len(URL_PREFIX) :] for key in reader.env if key.startswith(URL_PREFIX)]
    listed = reader.raw("SERVICE_NAMES")
    if listed is None:
        return sorted(n for n in discovered if n)
    names = [n.strip() for n in listed.split(",") if n.strip()]
    for name in names:
        if reader.raw(URL_PREFIX + name) is None:
            reader.problem(
                "SERVICE_NAMES", listed, f"lists {name!r} but {URL_PREFIX}{name} is unset"
            )
    if len(set(names)) != len(names):
        reader.problem("SERVICE_NAMES", listed, "lists a service twice")
    return list(dict.fromkeys(names))


def _services(reader: EnvReader) -> tuple[ServiceSpec, ...]:
    services = []
    for name in _service_names(reader):
        variable = URL_PREFIX + name
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
    variable = URL_PREFIX + name
    if url.startswith("docker:"):
        container = url.removeprefix("docker:").strip()
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", container):
            reader.problem(variable, url, "docker: must be followed by a container name")
            return None
        return ServiceSpec(name=name, kind="docker", target=container)
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        reader.problem(variable, url, "must start with http://, https:// or docker:")
        return None
    try:
        _ = parts.port
    except ValueError:
        reader.problem(variable, url, "has an invalid port")
        return None
    return ServiceSpec(
        name=name,
        kind="http",
        target=url,
        headers=_headers(reader, name),
        method=reader.choice(f"SERVICE_METHOD_{name}", "get", ("get", "head")).upper(),
        dns_override=reader.boolean(f"SERVICE_DNS_OVERRIDE_{name}", True),
    )


def _headers(reader: EnvReader, name: str) -> tuple[tuple[str, str], ...]:
    variable = f"SERVICE_HEADERS_{name}"
    raw = reader.raw(variable)
    if raw is None:
        return ()
    headers = []
    for index, pair in enumerate(raw.split(","), start=1):
        key, sep, value = pair.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not _HEADER_NAME.match(key) or not value or _CONTROL.search(value):
            reader.problem(
                variable,
                raw,
                f"pair {index} is not Key:Value (header values are redacted here)",
                secret=True,
            )
            return ()
        headers.append((key, value))
    return tuple(headers)


def _net_policy(reader: EnvReader) -> NetPolicy:
    family = ip_family(reader)
    ip = reader.ip_address("INTERNAL_DNS_OVERRIDE_IP")
    mode = OverrideMode(
        reader.choice("INTERNAL_DNS_OVERRIDE_MODE", "resolve", [m.value for m in OverrideMode])
    )
    raw_hosts = reader.raw("INTERNAL_DNS_OVERRIDE_HOSTS")
    hosts = tuple(h.strip().lower() for h in (raw_hosts or "").split(",") if h.strip())
    for host in hosts:
        if not _HOST_PATTERN.match(host):
            reader.problem(
                "INTERNAL_DNS_OVERRIDE_HOSTS", raw_hosts, f"{host!r} is not a hostname or *.suffix"
            )
    if ip is None:
        return NetPolicy(ip_family=family)
    return NetPolicy(ip_family=family, dns_override=DnsOverride(ip=ip, hosts=hosts, mode=mode))
