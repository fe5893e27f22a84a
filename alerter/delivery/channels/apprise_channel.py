"""Alerts through Apprise (Telegram, Slack, Discord, ntfy, Gotify, Matrix, e-mail, ...).

`apprise` is imported only when a channel is built, so the alerter without APPRISE_URLS never
pays for it. One channel per URL: a failing destination is retried alone, never re-sending to
the ones that already got the alert.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from alerter.delivery.channels.apprise_plugins import plugin_for
from alerter.delivery.channels.base import (
    Channel,
    Destination,
    Outcome,
    SendResult,
    destination_key,
)
from hbmon.logs import redact_text


class AppriseUrlError(ValueError):
    """The URL names no service Apprise knows, or its parameters are wrong."""


def describe(url: str) -> str:
    """`service: url` with every credential masked, for --check-config; raises AppriseUrlError."""
    return _masked(_instantiate(url))


def _masked(plugin: Any) -> str:
    """Apprise's own masked URL, cut after the host: paths (topics, webhook ids) may be secrets."""
    private = str(plugin.url(privacy=True))
    scheme, _, rest = private.partition("://")
    netloc, slash, path = rest.partition("/")
    tail = "/***" if slash and path.strip("/") else ""
    return f"{plugin.service_name}: {scheme}://{netloc}{tail}"


def _apprise() -> Any:
    """The module, imported on first use only; its plugins are imported one by one, as needed."""
    import apprise  # noqa: PLC0415

    # Apprise's messages may quote a URL: they reach us only through `_captured`, filtered.
    logger = logging.getLogger("apprise")
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return apprise


def _instantiate(url: str) -> Any:
    module = _apprise()
    schema = url.partition("://")[0].strip().lower()
    plugin_class = plugin_for(schema) if schema.isidentifier() else None
    with _captured() as capture:
        if plugin_class is None:
            plugin = _full_lookup(module, url)
        else:
            plugin = _build(plugin_class, url, capture)
    if plugin is None:
        # Apprise's own words say what is wrong; lines quoting the URL would leak parts of it.
        why = [m for m in capture.messages if "://" not in m and url.strip() not in m]
        raise AppriseUrlError("; ".join(why[-2:]) or "not an Apprise URL (see the Apprise wiki)")
    return plugin


def _full_lookup(module: Any, url: str) -> Any:
    """Apprise's own lookup, importing every plugin: for a schema our scan did not find."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return module.Apprise.instantiate(url)


def _build(plugin_class: Any, url: str, capture: _Capture) -> Any:
    """What `Apprise.instantiate` does once it has the class: parse, then construct."""
    arguments = plugin_class.parse_url(url)
    if not arguments:
        return None
    try:
        return plugin_class(**arguments)
    except Exception as error:  # Apprise plugins report every bad parameter by raising
        capture.messages.append(str(error))
        return None


def render(alert: Mapping[str, Any]) -> bytes:
    """Title and Markdown body: the same en/es texts as the N8N payload."""
    return json.dumps({"title": alert["title"], "body": alert["message"]}).encode()


class _Capture(logging.Handler):
    """Keeps Apprise's own warnings of one notify: they carry the reason it failed."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _captured() -> Iterator[_Capture]:
    logger = logging.getLogger("apprise")
    capture = _Capture()
    logger.addHandler(capture)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)


class AppriseChannel:
    """One Apprise URL (a secret: never logged; `display` is its masked form)."""

    def __init__(self, url: str) -> None:
        apprise = _apprise()
        self._apprise = apprise.Apprise()
        self._plugin = _instantiate(url)
        self._apprise.add(self._plugin)
        self._markdown = apprise.NotifyFormat.MARKDOWN
        self.display = _masked(self._plugin)

    def send(self, rendered: bytes) -> SendResult:
        message = json.loads(rendered)
        with _captured() as capture:
            ok = self._apprise.notify(
                title=message["title"], body=message["body"], body_format=self._markdown
            )
        if ok:
            return SendResult(Outcome.DELIVERED, self._plugin.service_name)
        reason = "; ".join(capture.messages[-2:]) or "notify failed"
        return SendResult(Outcome.RETRY, redact_text(f"{self._plugin.service_name}: {reason}"))


def destination(url: str) -> Destination:
    """One Apprise URL; raises AppriseUrlError when Apprise cannot use it."""
    channel = AppriseChannel(url)
    return Destination(
        Channel.APPRISE,
        destination_key(Channel.APPRISE, url),
        display=channel.display,
        render=render,
        send=lambda rendered, _alert_id: channel.send(rendered),
    )
