"""The channel registry: every configured destination, built from the configuration."""

from __future__ import annotations

from collections.abc import Callable

from alerter.config import AlerterConfig
from alerter.delivery.channels import alertmanager, apprise_channel, n8n
from alerter.delivery.channels.base import Destination
from hbmon.net import HttpClient
from hbmon.net.policy import NetPolicy

MAX_REPLY_BYTES = 4096


def http_client(policy: NetPolicy) -> HttpClient:
    """The alerter's one HTTP client, for every channel and the heartbeat: the IP family
    policy, a total budget per request, a capped reply body, no proxies. A few transfers at a
    time and a couple of idle connections are all it needs."""
    return HttpClient(policy, max_body_bytes=MAX_REPLY_BYTES, max_transfers=8, max_connects=4)


Build = Callable[[AlerterConfig, HttpClient], list[Destination]]


def _n8n(config: AlerterConfig, client: HttpClient) -> list[Destination]:
    if config.webhook_url is None:
        return []
    return [n8n.destination(client, config.webhook_url, timeout=config.webhook_timeout)]


def _apprise(config: AlerterConfig, _client: HttpClient) -> list[Destination]:
    return [apprise_channel.destination(url) for url in config.apprise_urls]


def _alertmanager(config: AlerterConfig, client: HttpClient) -> list[Destination]:
    return [
        alertmanager.destination(
            client,
            url,
            resend_seconds=config.alertmanager_resend,
            timeout=config.webhook_timeout,
        )
        for url in config.alertmanager_urls
    ]


CHANNELS: tuple[Build, ...] = (_n8n, _apprise, _alertmanager)


def destinations(config: AlerterConfig, client: HttpClient) -> tuple[Destination, ...]:
    """One destination per webhook, Apprise URL and Alertmanager node, in that order."""
    return tuple(d for build in CHANNELS for d in build(config, client))
