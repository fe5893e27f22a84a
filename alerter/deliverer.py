"""The delivery loop: attempt the head alert of each item, record the outcome, schedule retries."""

from __future__ import annotations

import random
import threading
import time

import peewee

from alerter import outbox
from alerter.config import AlerterConfig
from alerter.delivery import DeliveryError, backoff_delay, send_alert
from alerter.model import AlertResult
from alerter.outbox import PendingAlert
from alerter.stats import Stats
from alerter.transport import Reply, Transport
from hbmon.db.alerts import OutboxState
from hbmon.logs import get_logger, redact_text

log = get_logger("alerter.delivery")
IDLE_WAIT = 1.0
PRUNE_EVERY = 600.0  # 10 min: each pass stays small even at a 1 s LOOP_INTERVAL_SECONDS


class Deliverer:
    """Runs in its own thread; `wake` is set by the tail loop after it enqueues alerts."""

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        config: AlerterConfig,
        transport: Transport,
        stats: Stats,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.transport = transport
        self.stats = stats
        self.rng = rng or random.Random()
        self.wake = threading.Event()
        self._next_prune = 0.0

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    wait = self.step(stop)
                except peewee.OperationalError as exc:  # locked or I/O: retried next pass
                    log.error("delivery.database_error", error=str(exc))
                    wait = IDLE_WAIT
                self.wake.wait(wait)
                self.wake.clear()
        finally:
            self.db.close()

    def step(self, stop: threading.Event | None = None) -> float:
        """Attempt every due head once; return how long to sleep before the next one is due."""
        self._prune()
        if self.config.webhook_url is None:
            return IDLE_WAIT
        next_due = time.time() + IDLE_WAIT
        for alert in outbox.heads(self.db):
            if stop is not None and stop.is_set():
                break
            if alert.next_attempt_at <= time.time():
                self.attempt(alert)
                next_due = 0.0  # the item's next alert may now be the head: look again at once
            else:
                next_due = min(next_due, alert.next_attempt_at)
        return max(0.0, next_due - time.time())

    def attempt(self, alert: PendingAlert) -> None:
        assert self.config.webhook_url is not None
        if time.time() - alert.created_at > self.config.max_age:
            self._expire(alert)
            return
        try:
            reply = send_alert(
                self.transport,
                self.config.webhook_url,
                alert.payload.encode(),
                alert.alert_id,
                self.config.webhook_timeout,
            )
        except DeliveryError as exc:
            self._failed(alert, exc)
            return
        self._delivered(alert, reply)

    def _expire(self, alert: PendingAlert) -> None:
        outbox.finish(self.db, alert.seq, OutboxState.EXPIRED, now=time.time(), attempted=False)
        self.stats.alert(alert.event, AlertResult.EXPIRED)
        log.error("alert.expired", **_fields(alert), attempts=alert.attempts)

    def _delivered(self, alert: PendingAlert, reply: Reply) -> None:
        outbox.finish(
            self.db,
            alert.seq,
            OutboxState.DELIVERED,
            now=time.time(),
            attempted=True,
            status_code=reply.status,
        )
        self.stats.alert(alert.event, AlertResult.DELIVERED)
        log.info(
            "alert.delivered",
            **_fields(alert),
            attempts=alert.attempts + 1,
            status_code=reply.status,
            elapsed_ms=round(reply.elapsed * 1000, 1),
        )

    def _failed(self, alert: PendingAlert, exc: DeliveryError) -> None:
        error = redact_text(str(exc))[:500]
        if exc.permanent:
            self._give_up(alert, exc, error)
        else:
            self._reschedule(alert, exc, error)

    def _give_up(self, alert: PendingAlert, exc: DeliveryError, error: str) -> None:
        outbox.finish(
            self.db,
            alert.seq,
            OutboxState.FAILED,
            now=time.time(),
            attempted=True,
            status_code=exc.status_code,
            error=error,
        )
        self.stats.alert(alert.event, AlertResult.FAILED)
        log.error("alert.failed", **_fields(alert), status_code=exc.status_code, reply=error)

    def _reschedule(self, alert: PendingAlert, exc: DeliveryError, error: str) -> None:
        delay = backoff_delay(
            alert.attempts + 1,
            base=self.config.retry_base,
            cap=self.config.retry_max,
            retry_after=exc.retry_after,
            jitter=self.rng.random(),
        )
        outbox.reschedule(
            self.db,
            alert.seq,
            next_attempt_at=time.time() + delay,
            status_code=exc.status_code,
            error=error,
        )
        self.stats.alert(alert.event, AlertResult.RETRY)
        _log_retry(alert, exc, error, delay)

    def _prune(self) -> None:
        now = time.time()
        if now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        removed = outbox.prune(self.db, before=now - self.config.retention_days * 86400)
        if removed:
            log.info("outbox.pruned", rows=removed)


def _fields(alert: PendingAlert) -> dict[str, str]:
    return {"alert_id": alert.alert_id, "alert_event": alert.event, "item": alert.item}


def _log_retry(alert: PendingAlert, exc: DeliveryError, error: str, delay: float) -> None:
    """`alert.redirected` for a 3xx (N8N_WEBHOOK_URL needs fixing), else `alert.retry`."""
    fields = {
        **_fields(alert),
        "attempts": alert.attempts + 1,
        "status_code": exc.status_code,
        "error": error,
        "retry_in_s": round(delay, 2),
    }
    if exc.redirected:
        log.warning("alert.redirected", location=exc.location, **fields)
    else:
        log.warning("alert.retry", **fields)
