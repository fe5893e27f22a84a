"""The tail loop: follow new cycles in order, committing their debounce effects cycle by cycle."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import peewee

from alerter import store
from alerter.announce import announce
from alerter.certwatch import CertWatch
from alerter.config import AlerterConfig
from alerter.debounce import ItemState, Policy
from alerter.delivery.channels.base import Destination
from alerter.payload import Context
from alerter.quiet import Quiet
from alerter.rules import (
    EXPORTER,
    SERVICE_PREFIX,
    STALL_INTERVALS,
    Effects,
    cycle_effects,
    remember,
    stall_effects,
)
from alerter.stats import Stats
from hbmon.db import cycles
from hbmon.db.connection import sql
from hbmon.db.records import Cycle, interval_of
from hbmon.db.retry import Backoff
from hbmon.db.watch import WriteWatch
from hbmon.logs import get_logger

log = get_logger("alerter.tail")


# Cycles per read, bounded by their checks: a backlog of big cycles stays small in memory.
BATCH_CHECKS = 20_000
BATCH_CYCLES = 50


class Tailer:
    """Owns the cursor; each processed cycle is one transaction (items + outbox + cursor).

    The item states of services and of the exporter live in memory, loaded once; the database
    stays their source of truth: memory changes only after the transaction that wrote it.
    """

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        *,
        config: AlerterConfig,
        context: Context,
        stats: Stats,
        destinations: Sequence[Destination],
        on_alerts: Callable[[], None],
        on_cycle: Callable[[], None],
        quiet: Quiet,
        watch: WriteWatch,
    ) -> None:
        self.db = db
        self.watch = watch  # wakes the loop when the exporter commits, before the next poll
        self.quiet = quiet  # silences and reminders: a filter before each commit
        self.destinations = destinations
        self.config = config
        self.context = context
        self.stats = stats
        self.policy = Policy(
            config.down_threshold,
            config.recovery_threshold,
            degraded_failures=config.degraded_failures,
            degraded_window=config.degraded_window,
            flap_changes=config.flap_changes,
            flap_window=config.flap_window,
        )
        self.on_alerts = on_alerts
        self.on_cycle = on_cycle
        self.started = time.time()
        self.cursor: int | None = None
        self._data_version: int | None = None
        self._ready = False
        self._newest: Cycle | None = None
        self._lag = 0
        self._stall_open = False  # an exporter_stalled alert is open: skip the stall check
        self._mismatch_logged = False
        self._items: dict[str, ItemState] | None = None  # `worker` belongs to the heartbeater
        self.certs = CertWatch(
            db,
            warn_days=config.cert_expiry_warn_days,
            context=context,
            stats=stats,
            destinations=destinations,
            on_alerts=on_alerts,
            quiet=quiet,
        )

    def run(self, stop: threading.Event) -> None:
        # A refused write is retried after one poll, then twice as long each time, never after
        # more than one interval: a cleared condition shows within two intervals.
        backoff = Backoff(self.config.poll, max(self.config.poll, self.config.interval))
        try:
            while not stop.is_set():
                try:
                    self.step()
                    backoff.succeeded()
                    self._recovered()
                except peewee.OperationalError as exc:  # locked or I/O: rolled back
                    self._refused(exc, backoff.failed(time.monotonic()))
                self._pause(stop, max(self.config.poll, backoff.next_at - time.monotonic()))
        finally:
            self.watch.close()

    def _pause(self, stop: threading.Event, pause: float) -> None:
        """Until the next pass: the poll period, cut short by a write to the database (a cycle
        committed is read at once: at N = 10,000 the poll was a fifth of an alert's latency).
        A backoff longer than the poll is waited out whatever is written."""
        if pause <= self.config.poll and self.watch.active:
            self.watch.wait(pause)
        else:
            stop.wait(pause)

    def _refused(self, exc: peewee.OperationalError, retry_in: float) -> None:
        refusal = self.stats.store.failed("tail", exc)
        if refusal.changed:
            log.error(
                "tail.database_error",
                reason=refusal.trouble.value,
                error=refusal.error,
                cursor=self.cursor,
                retry_in_s=retry_in,
            )

    def _recovered(self) -> None:
        failed_for = self.stats.store.succeeded("tail")
        if failed_for is not None:
            log.info("tail.database_recovered", cursor=self.cursor, failed_for_s=failed_for)
            self.on_alerts()  # senders holding unrecorded outcomes: the database writes again

    def step(self) -> None:
        """One poll: silences and reminders, every new cycle, then a stalled exporter."""
        self.quiet.tick(self.db)
        if not self._tables_ready():
            self._check_stall(None)
            self.stats.loop_pass(0)
            return
        if self.cursor is None:
            self.cursor = self._load_cursor()
        version = int(sql(self.db, "PRAGMA data_version").fetchone()[0])
        if version != self._data_version:  # only another connection's commit changes it
            self._catch_up()
            # Remembered only now: after a failed batch the next poll must try again, even if
            # no other connection ever commits again (an exporter that just died).
            self._data_version = version
        self._check_stall(self._newest)
        self.stats.loop_pass(self._lag)

    def _catch_up(self) -> None:
        assert self.cursor is not None
        self._detect_reset()
        while self._process_batch():
            pass
        self._newest = cycles.newest_cycle(self.db, with_checks=False)
        self._warn_interval_mismatch(self._newest)
        self._lag = cycles.count_cycles_after(self.db, self.cursor)

    def _warn_interval_mismatch(self, newest: Cycle | None) -> None:
        recorded = newest.interval if newest is not None else None
        if self._mismatch_logged or not recorded or recorded == self.config.interval:
            return
        self._mismatch_logged = True
        log.warning(
            "config.interval_mismatch",
            exporter_interval_s=recorded,
            alerter_interval_s=self.config.interval,
            detail="using the exporter's interval for freshness and stall detection",
        )

    def _tables_ready(self) -> bool:
        self._ready = self._ready or cycles.tables_exist(self.db)
        return self._ready

    def _detect_reset(self) -> None:
        """Follow cycle ids from the start again when they went back below the cursor.

        AUTOINCREMENT ids never repeat, so this happens only when the exporter's tables were
        recreated: dropped and migrated again, or the file replaced by one whose alerter cursor
        is ahead of its cycles.
        """
        newest = cycles.newest_cycle(self.db, with_checks=False)
        if newest is not None and self.cursor is not None and newest.id < self.cursor:
            log.warning("tail.cursor_reset", cursor=self.cursor, newest_cycle=newest.id)
            self.cursor = 0

    def _load_cursor(self) -> int:
        cursor = store.read_cursor(self.db)
        if cursor is None:
            cursor = store.initial_cursor(self.db, self.config.down_threshold)
            # Persisted at once: a crash before the first cycle must not move the start point.
            store.commit(
                self.db, now=time.time(), items=(), alerts=(), destinations=(), cursor=cursor
            )
            log.info("tail.first_start", replay_from_cycle=cursor + 1)
        return cursor

    def _process_batch(self) -> bool:
        assert self.cursor is not None
        limit = max(1, min(BATCH_CYCLES, BATCH_CHECKS // max(1, len(self._states()))))
        batch = cycles.cycles_after(self.db, self.cursor, limit)
        for cycle in batch:
            effects = cycle_effects(self._states(), cycle, self.policy, self.context)
            self._commit(effects, cursor=cycle.id)
            self.certs.step(cycle)
            self.cursor = cycle.id
            self._stall_open = False  # a new cycle recovers a stalled exporter
            self.on_cycle()
        return bool(batch)

    def _check_stall(self, newest: Cycle | None) -> None:
        now = time.time()
        interval = interval_of(newest, self.config.interval)
        fresh = newest is not None and now - newest.completed_at <= STALL_INTERVALS * interval
        if fresh or self._stall_open:
            return
        items = self._states()
        self._stall_open = items.get(EXPORTER, ItemState()).alerted is not None
        effects = stall_effects(
            items,
            newest=newest,
            since=self.started,
            now=now,
            interval=interval,
            context=self.context,
        )
        if effects.updates:
            self._commit(effects, cursor=None)
            self._stall_open = True

    def _states(self) -> dict[str, ItemState]:
        if self._items is None:
            self._items = store.load_items(self.db)
        return self._items

    def _commit(self, effects: Effects, *, cursor: int | None) -> None:
        now = time.time()
        with self.quiet.gated(self.db, effects.alerts, now=now, retired=effects.retired) as alerts:
            store.commit(
                self.db,
                now=now,
                items=effects.updates,
                alerts=alerts,
                destinations=self.destinations,
                cursor=cursor,
                retire=effects.retired,
            )
        remember(self._states(), effects)
        for item, state in effects.retired.items():
            name = item.removeprefix(SERVICE_PREFIX)
            log.info("item.retired", item=name, alerted=state.alerted, cycle_id=cursor)
        announce(alerts, deliver=bool(self.destinations), stats=self.stats)
        if alerts:
            self.on_alerts()
