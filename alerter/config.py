"""The alerter's frozen configuration, built once from the environment by `from_env`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hbmon import alerter_settings as table
from hbmon.configurl import is_loopback
from hbmon.envconfig import EnvReader, ListenAddress
from hbmon.net.policy import NetPolicy
from hbmon.settings import IP_FAMILY, CommonSettings, read_settings


@dataclass(frozen=True, kw_only=True)
class AlerterConfig(CommonSettings):
    """Field defaults come from `hbmon.alerter_settings`, where each variable is declared."""

    webhook_url: str | None = table.WEBHOOK_URL.default
    apprise_urls: tuple[str, ...] = table.APPRISE_URLS.default
    alertmanager_urls: tuple[str, ...] = table.ALERTMANAGER_URLS.default
    alertmanager_resend: float = table.ALERTMANAGER_RESEND.default
    heartbeat_url: str | None = table.HEARTBEAT_URL.default
    secret_key: str | None = table.SECRET_KEY.default
    down_threshold: int = table.DOWN_THRESHOLD.default
    recovery_threshold: int = table.RECOVERY_THRESHOLD.default
    max_age: float = table.MAX_AGE.default
    language: str = table.LANGUAGE.default
    host_label: str = table.HOST_LABEL.default
    heartbeat_interval: float = table.HEARTBEAT_INTERVAL.default  # 0: one per new cycle
    heartbeat_signing: str = table.HEARTBEAT_SIGNING.default
    heartbeat_timeout: float = table.HEARTBEAT_TIMEOUT.default
    listen: ListenAddress = table.LISTEN.default
    webhook_timeout: float = table.WEBHOOK_TIMEOUT.default
    retry_base: float = table.RETRY_BASE.default
    retry_max: float = table.RETRY_MAX.default
    poll: float = table.POLL.default
    retention_days: float = table.RETENTION_DAYS.default
    degraded_failures: int = table.DEGRADED_FAILURES.default
    degraded_window: int = table.DEGRADED_WINDOW.default
    flap_changes: int = table.FLAP_CHANGES.default
    flap_window: int = table.FLAP_WINDOW_CYCLES.default
    cert_expiry_warn_days: int = table.CERT_EXPIRY_WARN_DAYS.default
    reminder: float = table.REMINDER.default  # seconds; 0: no reminders
    net: NetPolicy = field(default_factory=NetPolicy)

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every value that must never be logged, stored or exported."""
        values = [self.secret_key or "", self.webhook_url or "", self.heartbeat_url or ""]
        values += _url_secret_parts(self.webhook_url) + _url_secret_parts(self.heartbeat_url)
        for url in self.apprise_urls:
            values += [url, *_url_secret_parts(url), *_apprise_token_parts(url)]
        return tuple(v for v in values if v)

    @property
    def delivers(self) -> bool:
        """Some channel is configured; without one, alerts are only logged."""
        return bool(self.webhook_url or self.apprise_urls or self.alertmanager_urls)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> AlerterConfig:
        """Build the configuration; raises ConfigError listing every problem at once."""
        r = EnvReader(env)
        values = read_settings(r, table.ALERTER_SETTINGS)
        config = cls(net=NetPolicy(values.pop(IP_FAMILY.field)), **values)
        _check_relations(r, config)
        r.finish()
        return config


def _check_relations(reader: EnvReader, config: AlerterConfig) -> None:
    if config.heartbeat_url and not config.secret_key:
        reader.problem(
            table.SECRET_KEY.variable,
            None,
            f"must be set when {table.HEARTBEAT_URL.variable} is set",
            secret=True,
        )
    if config.poll > 0.25:
        reader.problem(table.POLL.variable, f"{config.poll:g}", "must be at most 0.25")
    if config.degraded_failures > config.degraded_window:
        reader.problem(
            table.DEGRADED_FAILURES.variable,
            str(config.degraded_failures),
            f"must be at most {table.DEGRADED_WINDOW.variable} ({config.degraded_window})",
        )
    if config.retry_max < config.retry_base:
        reader.problem(
            table.RETRY_MAX.variable,
            f"{config.retry_max:g}",
            f"must be at least {table.RETRY_BASE.variable} ({config.retry_base:g})",
        )


def _url_secret_parts(url: str | None) -> list[str]:
    if not url:
        return []
    parts = urlsplit(url)
    return [v for v in (parts.password, parts.path, parts.query) if v and len(v) > 1]


def _apprise_token_parts(url: str) -> list[str]:
    """Apprise puts tokens where hosts and users go (`tgram://BOTTOKEN/CHAT`): long ones too."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return []
    return [v for v in (parts.username, host) if v and len(v) >= 16]


def plaintext_urls(config: AlerterConfig) -> list[str]:
    """Variables whose URL sends the bearer token in clear: plain http:// off this machine."""
    return [
        setting.variable
        for setting in (table.WEBHOOK_URL, table.HEARTBEAT_URL)
        if _plaintext_remote(getattr(config, setting.field))
    ]


def _plaintext_remote(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme == "http" and not is_loopback(parts.hostname or "")
