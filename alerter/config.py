"""The alerter's frozen configuration, built once from the environment by `from_env`."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from hbmon.envconfig import EnvReader, ListenAddress, ip_family, shared_settings
from hbmon.net.policy import NetPolicy

LANGUAGES = ("en", "es")
SIGNINGS = ("none", "hmac-sha256")


@dataclass(frozen=True)
class AlerterConfig:
    webhook_url: str | None = None
    heartbeat_url: str | None = None
    secret_key: str | None = None
    down_threshold: int = 4
    recovery_threshold: int = 1
    max_age: float = 86400.0
    language: str = "en"
    host_label: str = "localhost"
    heartbeat_interval: float = 0.0  # 0: one heartbeat per new cycle
    heartbeat_signing: str = "none"
    heartbeat_timeout: float = 5.0
    listen: ListenAddress = field(default_factory=lambda: ListenAddress("0.0.0.0", 9878))
    interval: float = 10.0  # the exporter's LOOP_INTERVAL_SECONDS
    db_path: Path = Path("data/metrics.db")
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    log_level: str = "info"
    log_format: str | None = None
    webhook_timeout: float = 10.0
    retry_base: float = 2.0
    retry_max: float = 300.0
    poll: float = 0.1
    retention_days: float = 30.0
    net: NetPolicy = field(default_factory=NetPolicy)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be logged, stored or exported."""
        values = [self.secret_key or "", self.webhook_url or "", self.heartbeat_url or ""]
        values += _url_secret_parts(self.webhook_url) + _url_secret_parts(self.heartbeat_url)
        return tuple(v for v in values if v)

    def redacted(self) -> dict[str, str]:
        """The resolved configuration for `--check-config`, secrets shown only as set/unset."""
        return {
            "N8N_WEBHOOK_URL": _redact_url(self.webhook_url),
            "HEARTBEAT_URL": _redact_url(self.heartbeat_url),
            "SECRET_KEY": "<set>" if self.secret_key else "<unset>",
            "STATUS_CHANGE_THRESHOLD": str(self.down_threshold),
            "RECOVERY_THRESHOLD": str(self.recovery_threshold),
            "ALERT_MAX_AGE_SECONDS": f"{self.max_age:g}",
            "ALERT_LANGUAGE": self.language,
            "HOST_LABEL": self.host_label,
            "HEARTBEAT_INTERVAL_SECONDS": f"{self.heartbeat_interval:g}",
            "HEARTBEAT_SIGNING": self.heartbeat_signing,
            "HEARTBEAT_TIMEOUT_SECONDS": f"{self.heartbeat_timeout:g}",
            "ALERTER_LISTEN": str(self.listen),
            "LOOP_INTERVAL_SECONDS": f"{self.interval:g}",
            "SQLITE_DB_PATH": str(self.db_path),
            "TZ": str(self.tz),
            "ALERT_TIMEOUT_SECONDS": f"{self.webhook_timeout:g}",
            "ALERT_RETRY_BASE_SECONDS": f"{self.retry_base:g}",
            "ALERT_RETRY_MAX_SECONDS": f"{self.retry_max:g}",
            "ALERTER_POLL_SECONDS": f"{self.poll:g}",
            "ALERT_RETENTION_DAYS": f"{self.retention_days:g}",
            "IP_FAMILY": self.net.ip_family.value,
            "LOG_LEVEL": self.log_level,
            "LOG_FORMAT": self.log_format or "auto",
        }

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlerterConfig:
        """Build the configuration; raises ConfigError listing every problem at once."""
        r = EnvReader(env)
        config = cls(
            webhook_url=r.url("N8N_WEBHOOK_URL", secret=True),
            heartbeat_url=r.url("HEARTBEAT_URL", secret=True),
            secret_key=r.secret("SECRET_KEY"),
            down_threshold=r.integer("STATUS_CHANGE_THRESHOLD", 4),
            recovery_threshold=r.integer("RECOVERY_THRESHOLD", 1),
            max_age=r.number("ALERT_MAX_AGE_SECONDS", 86400.0),
            language=r.choice("ALERT_LANGUAGE", "en", LANGUAGES),
            host_label=r.string("HOST_LABEL", socket.gethostname()),
            heartbeat_interval=r.number("HEARTBEAT_INTERVAL_SECONDS", 0.0, inclusive=True),
            heartbeat_signing=r.choice("HEARTBEAT_SIGNING", "none", SIGNINGS),
            heartbeat_timeout=r.number("HEARTBEAT_TIMEOUT_SECONDS", 5.0),
            listen=r.listen("ALERTER_LISTEN", "0.0.0.0:9878"),
            webhook_timeout=r.number("ALERT_TIMEOUT_SECONDS", 10.0),
            retry_base=r.number("ALERT_RETRY_BASE_SECONDS", 2.0),
            retry_max=r.number("ALERT_RETRY_MAX_SECONDS", 300.0),
            poll=r.number("ALERTER_POLL_SECONDS", 0.1),
            retention_days=r.number("ALERT_RETENTION_DAYS", 30.0),
            net=NetPolicy(ip_family(r)),
            **shared_settings(r),
        )
        _check_relations(r, config)
        r.finish()
        return config


def _check_relations(reader: EnvReader, config: AlerterConfig) -> None:
    if config.heartbeat_url and not config.secret_key:
        reader.problem("SECRET_KEY", None, "must be set when HEARTBEAT_URL is set", secret=True)
    if config.poll > 0.25:
        reader.problem("ALERTER_POLL_SECONDS", f"{config.poll:g}", "must be at most 0.25")
    if config.retry_max < config.retry_base:
        reader.problem(
            "ALERT_RETRY_MAX_SECONDS",
            f"{config.retry_max:g}",
            f"must be at least ALERT_RETRY_BASE_SECONDS ({config.retry_base:g})",
        )


def _url_secret_parts(url: str | None) -> list[str]:
    if not url:
        return []
    parts = urlsplit(url)
    return [v for v in (parts.password, parts.path, parts.query) if v and len(v) > 1]


def _redact_url(url: str | None) -> str:
    """Scheme and host only: webhook paths and queries are bearer credentials."""
    if not url:
        return "<unset>"
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/***"
