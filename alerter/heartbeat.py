"""The heartbeat to the dead-man's switch: gated on a fresh cycle whose internet check passed."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Sequence

import peewee

from alerter import store
from alerter.announce import announce
from alerter.config import AlerterConfig
from alerter.debounce import ItemState, Policy
from alerter.delivery.channels.base import Destination, answer_of, failure_of
from alerter.model import HeartbeatRecord, HeartbeatResult, NewAlert
from alerter.payload import Context, ServiceStatus, build_heartbeat, encode
from alerter.quiet import Quiet
from alerter.rules import remember, worker_effects
from alerter.stats import Stats
from hbmon.db import cycles
from hbmon.db.alerts import HeartbeatReply
from hbmon.db.records import Cycle, interval_of
from hbmon.logs import get_logger, redact_text
from hbmon.net import HttpClient, HttpReply
from hbmon.status import Status

log = get_logger("alerter.heartbeat")
FRESH_INTERVALS = 2


def sign(secret_key: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of `timestamp + "." + body`, keyed with SECRET_KEY."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def gate(cycle: Cycle, *, now: float, interval: float) -> HeartbeatResult | None:
    """Why no heartbeat may go out for this cycle, or None when it may."""
    if now - cycle.started_at > FRESH_INTERVALS * interval:
        return HeartbeatResult.SKIPPED_STALE
    if cycle.internet_status != Status.HEALTHY:
        return HeartbeatResult.SKIPPED_INTERNET_DOWN
    return None


class Heartbeater:
    """Runs in its own thread; `trigger` is set by the tail loop on each new cycle."""

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        *,
        config: AlerterConfig,
        context: Context,
        client: HttpClient,
        stats: Stats,
        destinations: Sequence[Destination],
        on_alerts: Callable[[], None],
        quiet: Quiet,
    ) -> None:
        self.destinations = destinations
        self.quiet = quiet
        self.db = db
        self.config = config
        self.context = context
        self.client = client
        self.stats = stats
        self.on_alerts = on_alerts
        self.policy = Policy(config.down_threshold, config.recovery_threshold)
        self.trigger = threading.Event()
        self.last_cycle = -1
        self.last_sent = 0.0
        self._last_gate: tuple[int, str] | None = None
        self._items: dict[str, ItemState] | None = None  # only `worker` is ours

    def run(self, stop: threading.Event) -> None:
        try:
            self.last_cycle = self._last_cycle_sent()
            while not stop.is_set():
                try:
                    self.step()
                except peewee.OperationalError as exc:  # locked or I/O: next cycle tries again
                    self._refused(exc)
                self.trigger.wait(self._wait())
                self.trigger.clear()
        finally:
            self.db.close()

    def _refused(self, exc: peewee.OperationalError) -> None:
        refusal = self.stats.store.failed("heartbeat", exc)
        if refusal.changed:
            log.error("heartbeat.database_error", reason=refusal.trouble.value, error=refusal.error)

    def _recovered(self) -> None:
        failed_for = self.stats.store.succeeded("heartbeat")
        if failed_for is not None:
            log.info("heartbeat.database_recovered", failed_for_s=failed_for)

    def _wait(self) -> float:
        if self.config.heartbeat_interval <= 0:
            return 1.0
        return max(0.05, min(1.0, self.last_sent + self.config.heartbeat_interval - time.time()))

    def _last_cycle_sent(self) -> int:
        row = HeartbeatReply.select(peewee.fn.MAX(HeartbeatReply.cycle_id)).scalar()
        return -1 if row is None else int(row)

    def step(self) -> None:
        """Send one heartbeat if one is due for the newest cycle."""
        if not cycles.tables_exist(self.db):
            return
        cycle = cycles.newest_cycle(self.db)
        now = time.time()
        if cycle is None or not self._due(cycle, now):
            return
        blocked = gate(cycle, now=now, interval=interval_of(cycle, self.config.interval))
        if blocked is not None:
            self._gated(cycle, blocked)
            return
        self.send(cycle)

    def _due(self, cycle: Cycle, now: float) -> bool:
        if self.config.heartbeat_interval > 0:
            return now - self.last_sent >= self.config.heartbeat_interval
        return cycle.id > self.last_cycle

    def _gated(self, cycle: Cycle, reason: HeartbeatResult) -> None:
        if self._last_gate == (cycle.id, reason):
            return
        self._last_gate = (cycle.id, reason)
        self.stats.heartbeat(reason)
        log.info(
            "heartbeat.skipped",
            reason=reason,
            cycle_id=cycle.id,
            internet_status=cycle.internet_status,
        )

    def send(self, cycle: Cycle) -> HttpReply:
        assert self.config.heartbeat_url is not None and self.config.secret_key is not None
        statuses = (ServiceStatus(c.name, c.kind, c.status) for c in cycle.checks)
        body = encode(
            build_heartbeat(
                statuses, cycle_id=cycle.id, started_at=cycle.started_at, context=self.context
            )
        )
        timeout = min(self.config.heartbeat_timeout, interval_of(cycle, self.config.interval))
        url, headers = self.config.heartbeat_url, self._headers(body)
        reply = self.client.request(url, headers=headers, body=body, timeout=timeout)
        self.last_cycle, self.last_sent = cycle.id, time.time()
        self._record(cycle, reply)
        return reply

    def _headers(self, body: bytes) -> tuple[tuple[str, str], ...]:
        assert self.config.secret_key is not None
        headers = (
            ("Authorization", f"Bearer {self.config.secret_key}"),
            ("Content-Type", "application/json; charset=utf-8"),
            ("User-Agent", "heartbeat-alerter"),
        )
        if self.config.heartbeat_signing != "hmac-sha256":
            return headers
        timestamp = str(int(time.time()))
        signature = sign(self.config.secret_key, timestamp, body)
        return (
            *headers,
            ("X-Heartbeat-Timestamp", timestamp),
            ("X-Heartbeat-Signature", signature),
        )

    def _record(self, cycle: Cycle, reply: HttpReply) -> None:
        """Store the reply with its `worker` effects in one transaction, then count and log."""
        failure = failure_of(reply)
        error = None if failure is None else redact_text(failure)[:300]
        latency = round(reply.elapsed_s * 1000, 1)
        record = HeartbeatRecord(cycle.id, self.last_sent, answer_of(reply), error, latency)
        alerts = self._save(cycle, record)
        self._report(record)
        announce(alerts, deliver=bool(self.destinations), stats=self.stats)
        if alerts:
            self.on_alerts()

    def _save(self, cycle: Cycle, record: HeartbeatRecord) -> list[NewAlert]:
        if self._items is None:
            self._items = store.load_items(self.db)
        effects = worker_effects(
            self._items,
            status_code=record.status_code,
            error=record.error,
            latency_ms=record.latency_ms,
            cycle=cycle,
            at=record.sent_at,
            policy=self.policy,
            context=self.context,
        )
        with self.quiet.gated(self.db, effects.alerts, now=record.sent_at) as alerts:
            store.commit(
                self.db,
                now=record.sent_at,
                items=effects.updates,
                alerts=alerts,
                destinations=self.destinations,
                reply=record,
            )
        self._recovered()
        remember(self._items, effects)
        return alerts

    def _report(self, record: HeartbeatRecord) -> None:
        code = record.status_code
        result = _result(code)
        self.stats.heartbeat(result, code)
        fields = {"cycle_id": record.cycle_id, "status_code": code, "latency_ms": record.latency_ms}
        if result is HeartbeatResult.SUCCESS:
            log.debug("heartbeat.sent", **fields)
        else:
            log.warning("heartbeat.failed", error=record.error, **fields)


def _result(status_code: int | None) -> HeartbeatResult:
    if status_code is None:
        return HeartbeatResult.UNREACHABLE
    return HeartbeatResult.SUCCESS if status_code == 200 else HeartbeatResult.REJECTED
