"""Wiring of one running alerter: database, tail loop, senders, pruner, heartbeat, HTTP."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import peewee
from prometheus_client import generate_latest

from alerter.config import AlerterConfig
from alerter.delivery import outbox
from alerter.delivery.channels.base import Channel, Destination
from alerter.delivery.channels.registry import destinations, http_client
from alerter.delivery.prune import Pruner
from alerter.delivery.sender import Sender
from alerter.heartbeat import Heartbeater
from alerter.metrics import build_registry, health
from alerter.payload import Context
from alerter.quiet import Quiet
from alerter.stats import Stats
from alerter.tail import Tailer
from hbmon import __version__
from hbmon.db import alerts, certnotices
from hbmon.db import quiet as quiet_tables
from hbmon.db.connection import limit_busy_timeout, open_database
from hbmon.db.watch import WriteWatch
from hbmon.httpserver import serve
from hbmon.logs import get_logger, register_secrets
from hbmon.net import HttpClient

log = get_logger("alerter")
JOIN_SECONDS = 15.0
# A write waits at most half an interval (1 s at least, 5 s at most) for a lock another
# connection holds: a held lock shows as `store_failing: locked` within two intervals instead of
# as `stale` after 5 s. Every write of ours is short, and a refused one is retried.
LOCK_WAIT_INTERVALS, LOCK_WAIT_MIN_S = 0.5, 1.0


def context_of(config: AlerterConfig) -> Context:
    return Context(config.language, config.tz, config.host_label, __version__)


@dataclass(frozen=True)
class Parts:
    """The alerter's working parts over one database, wired to wake each other."""

    stats: Stats
    senders: tuple[Sender, ...]
    pruner: Pruner
    heartbeater: Heartbeater
    tailer: Tailer

    def wake_senders(self) -> None:
        for sender in self.senders:
            sender.wake.set()


def build_parts(
    config: AlerterConfig,
    db: peewee.SqliteDatabase,
    client: HttpClient,
    targets: Sequence[Destination],
) -> Parts:
    """Wire senders, heartbeat and tail loop: what the process runs and what tests drive."""
    stats = Stats()
    context = context_of(config)
    senders = tuple(Sender(db, config, target, stats) for target in targets)

    def wake() -> None:
        for sender in senders:
            sender.wake.set()

    quiet = Quiet(config=config, context=context, stats=stats, destinations=targets, on_alerts=wake)
    heartbeater = Heartbeater(
        db,
        config=config,
        context=context,
        client=client,
        stats=stats,
        destinations=targets,
        on_alerts=wake,
        quiet=quiet,
    )
    tailer = Tailer(
        db,
        config=config,
        context=context,
        stats=stats,
        destinations=targets,
        on_alerts=wake,
        on_cycle=heartbeater.trigger.set,
        quiet=quiet,
        watch=WriteWatch(config.db_path),
    )
    return Parts(stats, senders, Pruner(db, config, stats), heartbeater, tailer)


def channels_of(targets: Sequence[Destination]) -> list[str]:
    return sorted({str(t.channel) for t in targets}) or [str(Channel.LOG)]


class Alerter:
    """Start with `run(stop)`; setting `stop` ends it after the deliveries in flight."""

    def __init__(self, config: AlerterConfig) -> None:
        register_secrets(config.secrets)
        self.config = config
        self.db: peewee.SqliteDatabase = open_database(config.db_path)
        limit_busy_timeout(self.db, max(LOCK_WAIT_MIN_S, LOCK_WAIT_INTERVALS * config.interval))
        alerts.migrate(self.db)
        certnotices.migrate(self.db)
        quiet_tables.migrate(self.db)
        self.client = http_client(config.net)
        self.targets = destinations(config, self.client)
        self.crashed = False
        self.parts = build_parts(config, self.db, self.client, self.targets)
        self.stats = self.parts.stats
        registry = build_registry(self.stats, self.db, channels_of(self.targets))
        self.server = serve(
            config.listen, lambda: generate_latest(registry), lambda: health(self.stats)
        )

    def run(self, stop: threading.Event) -> bool:
        """Run until `stop`; False when a part crashed (the process should exit non-zero)."""
        self._log_started()
        parts = self.parts
        threads = [self._thread("alerter-prune", parts.pruner.run, stop)]
        threads += [
            self._thread(f"alerter-send-{s.destination.key}", s.run, stop) for s in parts.senders
        ]
        if self.config.heartbeat_url is not None:
            threads.append(self._thread("alerter-heartbeat", parts.heartbeater.run, stop))
        try:
            self._guarded("alerter-tail", parts.tailer.run, stop)
        finally:
            stop.set()
            parts.wake_senders()
            parts.heartbeater.trigger.set()
            self.server.shutdown()
            for thread in threads:
                thread.join(JOIN_SECONDS)
            self.server.server_close()
            self.client.close()
            self.db.close()
            log.info("alerter.stopped", cursor=parts.tailer.cursor, crashed=self.crashed)
        return not self.crashed

    def _guarded(
        self, name: str, target: Callable[[threading.Event], None], stop: threading.Event
    ) -> None:
        """A part that dies stops the whole process: a silent half-alerter is worse than none."""
        try:
            target(stop)
        except Exception:
            self.crashed = True
            log.exception("alerter.part_crashed", part=name)
            stop.set()

    def _thread(
        self, name: str, target: Callable[[threading.Event], None], stop: threading.Event
    ) -> threading.Thread:
        # A copy of this thread's context: the `process` log field is bound there.
        context = contextvars.copy_context()
        thread = threading.Thread(
            target=context.run, args=(self._guarded, name, target, stop), name=name
        )
        thread.start()
        return thread

    def _log_started(self) -> None:
        log.info(
            "alerter.started",
            db=str(self.config.db_path),
            listen=str(self.config.listen),
            channels=[f"{t.channel}: {t.display}" for t in self.targets],
            heartbeat=self.config.heartbeat_url is not None,
            db_watch=self.parts.tailer.watch.mode,
            down_threshold=self.config.down_threshold,
            recovery_threshold=self.config.recovery_threshold,
            version=__version__,
        )
        orphaned = outbox.orphaned(self.db, [t.key for t in self.targets])
        if orphaned:
            log.warning(
                "outbox.orphaned",
                pending_alerts=orphaned,
                detail="pending for a channel not configured now: sent if it comes back",
            )
        if not self.targets:
            log.warning(
                "alerter.no_channel",
                detail="no N8N_WEBHOOK_URL, APPRISE_URLS or ALERTMANAGER_URLS: new alerts are"
                " only logged",
            )
