"""The channel registry: every configured destination, built from the configuration."""

from __future__ import annotations

from collections.abc import Callable

from alerter.config import AlerterConfig
from alerter.delivery.channels import alertmanager, apprise_channel, n8n
from alerter.delivery.channels.base import Destination
from alerter.transport import Transport

Build = Callable[[AlerterConfig, Transport], list[Destination]]


def _n8n(config: AlerterConfig, transport: Transport) -> list[Destination]:
    if config.webhook_url is None:
        return []
    return [n8n.destination(transport, config.webhook_url, timeout=config.webhook_timeout)]


def _apprise(config: AlerterConfig, _transport: Transport) -> list[Destination]:
    return [apprise_channel.destination(url) for url in config.apprise_urls]


def _alertmanager(config: AlerterConfig, transport: Transport) -> list[Destination]:
    return [
        alertmanager.destination(
            transport,
            url,
            resend_seconds=config.alertmanager_resend,
            timeout=config.webhook_timeout,
        )
        for url in config.alertmanager_urls
    ]


CHANNELS: tuple[Build, ...] = (_n8n, _apprise, _alertmanager)


def destinations(config: AlerterConfig, transport: Transport) -> tuple[Destination, ...]:
    """One destination per webhook, Apprise URL and Alertmanager node, in that order."""
    return tuple(d for build in CHANNELS for d in build(config, transport))
