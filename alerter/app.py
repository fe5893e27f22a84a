"""Wiring of one running alerter: database, tail loop, delivery and heartbeat threads, HTTP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import peewee
from prometheus_client import generate_latest

from alerter import outbox
from alerter.config import AlerterConfig
from alerter.deliverer import Deliverer
from alerter.heartbeat import Heartbeater
from alerter.metrics import build_registry, health
from alerter.payload import Context
from alerter.stats import Stats
from alerter.tail import Tailer
from alerter.transport import HttpClientTransport, Transport
from hbmon import __version__
from hbmon.db import alerts
from hbmon.db.connection import open_database
from hbmon.httpserver import serve
from hbmon.logs import get_logger, register_secrets

log = get_logger("alerter")
JOIN_SECONDS = 15.0


def context_of(config: AlerterConfig) -> Context:
    return Context(config.language, config.tz, config.host_label, __version__)


@dataclass(frozen=True)
class Parts:
    """The alerter's working parts over one database, wired to wake each other."""

    stats: Stats
    deliverer: Deliverer
    heartbeater: Heartbeater
    tailer: Tailer


def build_parts(config: AlerterConfig, db: peewee.SqliteDatabase, transport: Transport) -> Parts:
    """Wire delivery, heartbeat and tail loop: what the process runs and what tests drive."""
    stats = Stats()
    context = context_of(config)
    deliverer = Deliverer(db, config, transport, stats)
    heartbeater = Heartbeater(
        db,
        config=config,
        context=context,
        transport=transport,
        stats=stats,
        on_alerts=deliverer.wake,
    )
    tailer = Tailer(
        db,
        config=config,
        context=context,
        stats=stats,
        on_alerts=deliverer.wake.set,
        on_cycle=heartbeater.trigger.set,
    )
    return Parts(stats, deliverer, heartbeater, tailer)


class Alerter:
    """Start with `run(stop)`; setting `stop` ends it after the delivery in flight."""

    def __init__(self, config: AlerterConfig, transport: Transport | None = None) -> None:
        register_secrets(config.secrets)
        self.config = config
        self.db: peewee.SqliteDatabase = open_database(config.db_path)
        alerts.migrate(self.db)
        self.transport = transport or HttpClientTransport(config.net)
        self.crashed = False
        parts = build_parts(config, self.db, self.transport)
        self.stats, self.deliverer = parts.stats, parts.deliverer
        self.heartbeater, self.tailer = parts.heartbeater, parts.tailer
        registry = build_registry(self.stats, self.db)
        self.server = serve(
            config.listen, lambda: generate_latest(registry), lambda: health(self.stats)
        )

    def run(self, stop: threading.Event) -> bool:
        """Run until `stop`; False when a part crashed (the process should exit non-zero)."""
        threads = [self._thread("alerter-delivery", self.deliverer.run, stop)]
        if self.config.heartbeat_url is not None:
            threads.append(self._thread("alerter-heartbeat", self.heartbeater.run, stop))
        self._log_started()
        try:
            self._guarded("alerter-tail", self.tailer.run, stop)
        finally:
            stop.set()
            self.deliverer.wake.set()
            self.heartbeater.trigger.set()
            self.server.shutdown()
            for thread in threads:
                thread.join(JOIN_SECONDS)
            self.server.server_close()
            self.transport.close()
            self.db.close()
            log.info("alerter.stopped", cursor=self.tailer.cursor, crashed=self.crashed)
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
        thread = threading.Thread(target=self._guarded, args=(name, target, stop), name=name)
        thread.start()
        return thread

    def _log_started(self) -> None:
        log.info(
            "alerter.started",
            db=str(self.config.db_path),
            listen=str(self.config.listen),
            webhook=self.config.webhook_url is not None,
            heartbeat=self.config.heartbeat_url is not None,
            down_threshold=self.config.down_threshold,
            recovery_threshold=self.config.recovery_threshold,
            version=__version__,
        )
        if self.config.webhook_url is None:
            pending, _ = outbox.pending_summary(self.db)
            log.warning(
                "alerter.no_webhook",
                pending_alerts=pending,
                detail="N8N_WEBHOOK_URL unset: new alerts are only logged",
            )
