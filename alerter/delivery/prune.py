"""Housekeeping of the alerter's tables: finished alerts and heartbeat replies past retention."""

from __future__ import annotations

import threading
import time

import peewee

from alerter.config import AlerterConfig
from alerter.delivery import outbox
from alerter.stats import Stats
from hbmon.db.trouble import TroubleLog, describe
from hbmon.logs import get_logger

log = get_logger("alerter.delivery")
PRUNE_EVERY = 600.0  # 10 min: each pass stays small even at a 1 s LOOP_INTERVAL_SECONDS
PRUNE_RETRY = 60.0  # after a refused pass: housekeeping can wait, the other parts cannot


class Pruner:
    """Runs in its own thread, so that it prunes whether or not any channel is configured."""

    def __init__(self, db: peewee.SqliteDatabase, config: AlerterConfig, stats: Stats) -> None:
        self.db = db
        self.config = config
        self.stats = stats
        self._trouble = TroubleLog()
        self._next_prune = 0.0

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    self.step()
                except peewee.OperationalError as exc:  # locked or I/O: tried again later
                    self._refused(exc)
                stop.wait(max(1.0, self._next_prune - time.time()))
        finally:
            self.db.close()

    def _refused(self, exc: peewee.OperationalError) -> None:
        self._next_prune = time.time() + PRUNE_RETRY  # the next pass, not a whole PRUNE_EVERY
        trouble = self.stats.store.count(exc)
        if self._trouble.observe(trouble):
            log.error("outbox.prune_failed", reason=trouble.value, error=describe(exc))

    def step(self) -> None:
        now = time.time()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        removed = outbox.prune(self.db, before=now - self.config.retention_days * 86400)
        self._trouble.observe(None)
        if removed:
            log.info("outbox.pruned", rows=removed)
