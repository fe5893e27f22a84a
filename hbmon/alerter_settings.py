"""The alerter's settings table: each of its variables declared once."""

from __future__ import annotations

import re
import socket
from typing import Any
from urllib.parse import urlsplit

from hbmon.configurl import http_url
from hbmon.envconfig import EnvReader, ListenAddress, is_field_value
from hbmon.settings import (
    COMMON_SETTINGS,
    IP_FAMILY,
    MAX_DAYS,
    Setting,
    choice,
    integer,
    listen,
    number,
    secret_url,
    text,
)

LANGUAGES = ("en", "es")
SIGNINGS = ("none", "hmac-sha256")


def redact_url(url: str | None) -> str:
    """Scheme and host only: webhook paths and queries are bearer credentials."""
    if not url:
        return "<unset>"
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/***"


def _header_secret(reader: EnvReader, name: str, default: str | None) -> str | None:
    """A secret sent in a header (`Authorization: Bearer ...`): visible Latin-1, no CR/LF."""
    value = reader.secret(name)
    if value is not None and not is_field_value(value):
        reader.problem(name, value, "must be visible Latin-1 without CR/LF", secret=True)
        return default
    return value or default


# A separator only where a new URL starts: `mailto://...?to=a@x,b@y` keeps its comma.
_URL_SEPARATOR = re.compile(r"[\s,]+(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_urls(value: str) -> tuple[str, ...]:
    """URLs separated by spaces, commas or new lines."""
    return tuple(u for u in (p.strip(" \t\r\n,") for p in _URL_SEPARATOR.split(value)) if u)


def _apprise_urls(reader: EnvReader, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Apprise URLs (secrets); each must name a service Apprise knows. Imports apprise if set."""
    value = reader.secret(name)
    if not value:
        return default
    urls = split_urls(value)
    from alerter.delivery.channels.apprise_channel import AppriseUrlError, describe  # noqa: PLC0415

    for position, url in enumerate(urls, 1):
        try:
            describe(url)
        except AppriseUrlError as error:
            reader.problem(name, None, f"URL #{position}: {error}", secret=True)
    return urls


def _alertmanager_urls(reader: EnvReader, name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = reader.raw(name)
    if not value:
        return default
    urls = []
    for url in split_urls(value):
        try:
            urls.append(http_url(url))
        except ValueError as error:
            reader.problem(name, url, str(error))
    return tuple(urls)


def _show_apprise(urls: tuple[str, ...]) -> str:
    """Each URL's service and masked form, as Apprise itself masks them."""
    from alerter.delivery.channels.apprise_channel import describe  # noqa: PLC0415

    return "; ".join(describe(url) for url in urls) if urls else "<unset>"


WEBHOOK_URL = Setting(
    "N8N_WEBHOOK_URL",
    "webhook_url",
    secret_url,
    None,
    "Where alerts are POSTed.",
    secret=True,
    show=redact_url,
    documented="unset",
)
APPRISE_URLS = Setting[tuple[str, ...]](
    "APPRISE_URLS",
    "apprise_urls",
    _apprise_urls,
    (),
    "Apprise URLs (Telegram, Slack, Discord, ntfy, Gotify, Matrix, mailto://, json://, ...),"
    " separated by spaces or commas.",
    secret=True,
    show=_show_apprise,
    documented="unset",
)
ALERTMANAGER_URLS = Setting[tuple[str, ...]](
    "ALERTMANAGER_URLS",
    "alertmanager_urls",
    _alertmanager_urls,
    (),
    "Alertmanager base URLs, comma-separated: every alert is posted to each node.",
    show=lambda urls: ",".join(redact_url(u) for u in urls) if urls else "<unset>",
    documented="unset",
)
ALERTMANAGER_RESEND = Setting(
    "ALERTMANAGER_RESEND_SECONDS",
    "alertmanager_resend",
    number(),
    60.0,
    "Firing alerts are re-sent to Alertmanager this often while the item is alerted.",
)
HEARTBEAT_URL = Setting(
    "HEARTBEAT_URL",
    "heartbeat_url",
    secret_url,
    None,
    "The Worker's heartbeat endpoint.",
    secret=True,
    show=redact_url,
    documented="unset",
)
SECRET_KEY = Setting(
    "SECRET_KEY",
    "secret_key",
    _header_secret,
    None,
    "Sent as Authorization: Bearer; the HMAC key. Required with HEARTBEAT_URL.",
    secret=True,
    documented="unset",
)
DOWN_THRESHOLD = Setting(
    "STATUS_CHANGE_THRESHOLD", "down_threshold", integer(), 4, "Failing cycles before down."
)
RECOVERY_THRESHOLD = Setting(
    "RECOVERY_THRESHOLD", "recovery_threshold", integer(), 1, "Healthy cycles before recovered."
)
MAX_AGE = Setting(
    "ALERT_MAX_AGE_SECONDS", "max_age", number(), 86400.0, "Undelivered alerts then expire."
)
LANGUAGE = Setting[str](
    "ALERT_LANGUAGE", "language", choice(*LANGUAGES), "en", "Language of title and message."
)
HOST_LABEL = Setting[str](
    "HOST_LABEL",
    "host_label",
    text,
    "localhost",
    "The host field of alerts and heartbeats.",
    documented="the hostname",
    fallback=lambda _: socket.gethostname(),
)
HEARTBEAT_INTERVAL = Setting(
    "HEARTBEAT_INTERVAL_SECONDS",
    "heartbeat_interval",
    number(inclusive=True),
    0.0,
    "0: one heartbeat per new cycle; N > 0: one every N seconds.",
)
HEARTBEAT_SIGNING = Setting[str](
    "HEARTBEAT_SIGNING", "heartbeat_signing", choice(*SIGNINGS), "none", "Heartbeat signature."
)
HEARTBEAT_TIMEOUT = Setting(
    "HEARTBEAT_TIMEOUT_SECONDS", "heartbeat_timeout", number(), 5.0, "Budget of one heartbeat."
)
LISTEN = Setting(
    "ALERTER_LISTEN",
    "listen",
    listen,
    ListenAddress("0.0.0.0", 9878),
    "Address of /metrics and /healthz.",
)
WEBHOOK_TIMEOUT = Setting(
    "ALERT_TIMEOUT_SECONDS", "webhook_timeout", number(), 10.0, "Budget of one webhook attempt."
)
RETRY_BASE = Setting(
    "ALERT_RETRY_BASE_SECONDS", "retry_base", number(), 2.0, "The first retry delay."
)
RETRY_MAX = Setting("ALERT_RETRY_MAX_SECONDS", "retry_max", number(), 300.0, "Longest backoff.")
POLL = Setting("ALERTER_POLL_SECONDS", "poll", number(), 0.1, "Database poll period (<= 0.25).")
RETENTION_DAYS = Setting(
    "ALERT_RETENTION_DAYS",
    "retention_days",
    number(maximum=MAX_DAYS),
    30.0,
    "Finished rows then pruned.",
)
DEGRADED_FAILURES = Setting(
    "DEGRADED_FAILURES", "degraded_failures", integer(), 6, "Failures in the window: degraded."
)
DEGRADED_WINDOW = Setting(
    "DEGRADED_WINDOW", "degraded_window", integer(), 12, "Observations the degraded rule sees."
)
FLAP_CHANGES = Setting(
    "FLAP_CHANGES", "flap_changes", integer(minimum=2), 4, "State changes in the window: flapping."
)
FLAP_WINDOW_CYCLES = Setting(
    "FLAP_WINDOW_CYCLES", "flap_window", integer(), 90, "Cycles the flapping rule looks back."
)
CERT_EXPIRY_WARN_DAYS = Setting(
    "CERT_EXPIRY_WARN_DAYS",
    "cert_expiry_warn_days",
    integer(minimum=0, maximum=3650),
    14,
    "Warn when a certificate expires within N days; 0: off.",
)
REMINDER = Setting(
    "ALERT_REMINDER_SECONDS",
    "reminder",
    number(inclusive=True),
    0.0,
    "Repeat an open down/degraded/flapping alert every N s; 0: off.",
)
ALERTER_SETTINGS: tuple[Setting[Any], ...] = (
    *COMMON_SETTINGS,
    WEBHOOK_URL,
    APPRISE_URLS,
    ALERTMANAGER_URLS,
    ALERTMANAGER_RESEND,
    HEARTBEAT_URL,
    SECRET_KEY,
    DOWN_THRESHOLD,
    RECOVERY_THRESHOLD,
    MAX_AGE,
    LANGUAGE,
    HOST_LABEL,
    HEARTBEAT_INTERVAL,
    HEARTBEAT_SIGNING,
    HEARTBEAT_TIMEOUT,
    LISTEN,
    WEBHOOK_TIMEOUT,
    RETRY_BASE,
    RETRY_MAX,
    POLL,
    RETENTION_DAYS,
    DEGRADED_FAILURES,
    DEGRADED_WINDOW,
    FLAP_CHANGES,
    FLAP_WINDOW_CYCLES,
    CERT_EXPIRY_WARN_DAYS,
    REMINDER,
    IP_FAMILY,
)
