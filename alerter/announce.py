"""The log line (and, without any channel, the count) of each alert once it is committed."""

from __future__ import annotations

from collections.abc import Iterable

from alerter.delivery.channels.base import Channel
from alerter.model import AlertResult, NewAlert
from alerter.stats import Stats
from hbmon.logs import get_logger

log = get_logger("alerter.tail")


def announce(alerts: Iterable[NewAlert], *, deliver: bool, stats: Stats) -> None:
    """One log line per committed alert; without any channel this line *is* the alert."""
    for alert in alerts:
        log.warning(
            "alert.queued" if deliver else "alert.would_send",
            alert_id=alert.alert_id,
            alert_event=alert.event,
            item=alert.item,
            status=alert.body["status"],
            reason=alert.body["reason"],
            cycle_id=alert.cycle_id,
            title=alert.body["title"],
        )
        if not deliver:
            stats.alert(alert.event, AlertResult.LOGGED, Channel.LOG)
