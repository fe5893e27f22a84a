"""The certificate notices' shell: loads them once, commits each cycle's notices and alerts."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import peewee

from alerter import store
from alerter.announce import announce
from alerter.certs import DAY, CertNotice, cycle_notices
from alerter.delivery.channels.base import Destination
from alerter.payload import Context
from alerter.quiet import Quiet
from alerter.stats import Stats
from hbmon.db import certnotices
from hbmon.db.records import Cycle


class CertWatch:
    """Runs after each cycle's own commit, in a transaction of its own (notices + outbox rows).

    A crash between the two delays a notice by one cycle: the next cycle finds the same
    certificate unannounced, and an alert enqueued twice (keyed by its certificate) is one row.
    The notices live in memory, loaded at the first certificate seen; memory changes only after
    the transaction that wrote it.
    """

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        *,
        warn_days: int,
        context: Context,
        stats: Stats,
        destinations: Sequence[Destination],
        on_alerts: Callable[[], None],
        quiet: Quiet,
    ) -> None:
        self.db = db
        self.quiet = quiet  # a silenced service's notice is held like its other alerts
        self.window = warn_days * DAY
        self.context = context
        self.stats = stats
        self.destinations = destinations
        self.on_alerts = on_alerts
        self._notices: dict[str, CertNotice] | None = None

    def step(self, cycle: Cycle) -> None:
        if not self.window or not any(c.tls_cert_expiry is not None for c in cycle.checks):
            return
        notices = self._loaded()
        effects = cycle_notices(notices, cycle, self.window, self.context)
        if not effects:
            return
        now = time.time()
        with (
            self.db.atomic("IMMEDIATE"),
            self.quiet.gated(self.db, effects.alerts, now=now) as alerts,
        ):
            certnotices.save(self.db, effects.notices, effects.retired, now)
            store.commit(self.db, now=now, items=(), alerts=alerts, destinations=self.destinations)
        notices.update(effects.notices)
        for name in effects.retired:
            notices.pop(name, None)
        announce(alerts, deliver=bool(self.destinations), stats=self.stats)
        if alerts:
            self.on_alerts()

    def _loaded(self) -> dict[str, CertNotice]:
        if self._notices is None:
            self._notices = {k: CertNotice(*v) for k, v in certnotices.load(self.db).items()}
        return self._notices
