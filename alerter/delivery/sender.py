"""One destination's delivery loop: attempt each item's head alert, record it, schedule retries.

Every destination has its own sender thread: a dead channel never delays another.
"""

from __future__ import annotations

import random
import threading
import time

import peewee

from alerter.config import AlerterConfig
from alerter.delivery import outbox
from alerter.delivery.backoff import backoff_delay
from alerter.delivery.channels.base import Destination, Outcome, SendResult
from alerter.delivery.outbox import PendingAlert, Write
from alerter.model import AlertResult
from alerter.stats import Stats
from hbmon.db.alerts import OutboxState
from hbmon.logs import get_logger, redact_text

log = get_logger("alerter.delivery")
IDLE_WAIT = 1.0
DB_RETRY_MAX = 30.0  # the longest wait between passes while the database keeps failing
# Outcomes of a burst are written together, one transaction per this many or per this long:
# a transaction per alert was half of a delivery's CPU. A kill -9 re-sends at most these (same
# id and Idempotency-Key), as it always could the one alert in flight.
BATCH_MAX = 64
BATCH_SECONDS = 0.25
# While alerts wait on a destination that refused one, the alert due soonest is tried at least
# this often, whatever its own backoff: a channel back after a long outage drains within about
# this long (the first success makes every waiting alert due), not after ALERT_RETRY_MAX_SECONDS.
# One early attempt per period per destination, never earlier than a Retry-After asked for.
PROBE_SECONDS = 10.0


class Sender:
    """Runs in its own thread; `wake` is set after alerts for it were enqueued."""

    def __init__(
        self,
        db: peewee.SqliteDatabase,
        config: AlerterConfig,
        destination: Destination,
        stats: Stats,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.config = config
        self.destination = destination
        self.stats = stats
        self.rng = rng or random.Random()
        self.wake = threading.Event()
        self._next_resend = 0.0  # at start: Alertmanager hears at once what is still firing
        # Outcomes not yet recorded (a burst, or a full disk, read-only, locked): written
        # before anything else is sent, never re-sent meanwhile (issue 13 item 3).
        self._unrecorded: list[Write] = []
        self._batch = 0  # alerts whose outcomes are in `_unrecorded`
        self._batch_started = 0.0
        self._db_failures = 0
        self._probe_at = 0.0  # when a waiting alert may next be tried ahead of its backoff

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                try:
                    wait = self.step(stop)
                    self._recovered()
                except peewee.OperationalError as exc:  # locked or I/O: retried with backoff
                    wait = self._database_error(exc)
                self.wake.wait(wait)
                self.wake.clear()
        finally:
            self.db.close()

    def _database_error(self, exc: peewee.OperationalError) -> float:
        self._db_failures += 1
        wait = backoff_delay(
            self._db_failures, base=IDLE_WAIT, cap=DB_RETRY_MAX, retry_after=None, jitter=1.0
        )
        refusal = self.stats.store.failed(self._part, exc)
        if refusal.changed:
            log.error(
                "delivery.database_error",
                reason=refusal.trouble.value,
                error=refusal.error,
                unrecorded=self._batch,
                retry_in_s=wait,
                **self._where(),
            )
        return wait

    def _recovered(self) -> None:
        self._db_failures = 0
        failed_for = self.stats.store.succeeded(self._part)
        if failed_for is not None:
            log.info("delivery.database_recovered", failed_for_s=failed_for, **self._where())

    @property
    def _part(self) -> str:
        return f"delivery:{self.destination.key}"

    def step(self, stop: threading.Event | None = None) -> float:
        """Attempt every due head once; return how long to sleep before the next one is due."""
        self._flush()
        next_due = self._resend_due()
        waiting: PendingAlert | None = None  # the head due soonest, not yet due
        for alert in outbox.heads(self.db, self.destination.key):
            if stop is not None and stop.is_set():
                break
            if alert.next_attempt_at <= time.time():
                self.attempt(alert)
                next_due = 0.0  # the item's next alert may now be the head: look again at once
            elif waiting is None or alert.next_attempt_at < waiting.next_attempt_at:
                waiting = alert
        if waiting is not None and next_due > 0.0:
            if time.time() >= self._probe_at:
                self.attempt(waiting)  # the probe: its success drains every waiting alert
                next_due = 0.0
            else:
                next_due = min(next_due, waiting.next_attempt_at, self._probe_at)
        self._flush()
        return max(0.0, next_due - time.time())

    def _flush(self) -> None:
        """Write the remembered outcomes in one transaction; raises (and keeps them) while the
        database still fails."""
        if self._unrecorded:
            outbox.write(self.db, self._unrecorded)
            self._unrecorded.clear()
            self._batch = 0

    def _record(self, *writes: Write) -> None:
        """Remember an outcome, written with its burst: a sent alert is never re-sent for want
        of it (each head is attempted once per pass, so a batch never holds a row twice)."""
        if not self._unrecorded:
            self._batch_started = time.monotonic()
        self._unrecorded.extend(writes)
        self._batch += 1
        if self._batch >= BATCH_MAX or time.monotonic() - self._batch_started >= BATCH_SECONDS:
            self._flush()

    def attempt(self, alert: PendingAlert) -> None:
        if time.time() - alert.created_at > self.config.max_age:
            self._expire(alert)
            return
        result = self.destination.send(alert.payload.encode(), alert.alert_id)
        if result.outcome is Outcome.DELIVERED:
            self._delivered(alert, result)
        elif result.outcome is Outcome.PERMANENT:
            self._give_up(alert, result)
        else:
            self._reschedule(alert, result)

    def _resend_due(self) -> float:
        """Re-send firing alerts every `resend_every`; when the next round is due."""
        resend = self.destination.resend
        if resend is None:
            return time.time() + IDLE_WAIT
        now = time.time()
        if now >= self._next_resend:
            self._next_resend = now + self.destination.resend_every
            alerted = outbox.alerted_items(self.db)
            sent = outbox.last_delivered(self.db, self.destination.key)
            result = resend([p for item, p in sent.items() if item in alerted])
            if result is not None and result.outcome is not Outcome.DELIVERED:
                log.warning(
                    "alert.resend_failed", error=redact_text(result.detail)[:300], **self._where()
                )
        return min(self._next_resend, now + IDLE_WAIT)

    def _expire(self, alert: PendingAlert) -> None:
        self._record(
            outbox.finished(alert.seq, OutboxState.EXPIRED, now=time.time(), attempted=False)
        )
        self._count(alert, AlertResult.EXPIRED)
        log.error("alert.expired", **self._fields(alert), attempts=alert.attempts)

    def _delivered(self, alert: PendingAlert, result: SendResult) -> None:
        self._count(alert, AlertResult.DELIVERED)
        log.info(
            "alert.delivered",
            **self._fields(alert),
            attempts=alert.attempts + 1,
            status_code=result.status_code,
            elapsed_ms=round(result.elapsed * 1000, 1),
        )
        now, key, code = time.time(), self.destination.key, result.status_code
        self._record(*outbox.delivered(alert.seq, key, now=now, status_code=code))

    def _give_up(self, alert: PendingAlert, result: SendResult) -> None:
        error = redact_text(result.detail)[:500]
        self._record(
            outbox.finished(
                alert.seq,
                OutboxState.FAILED,
                now=time.time(),
                attempted=True,
                status_code=result.status_code,
                error=error,
            )
        )
        self._count(alert, AlertResult.FAILED)
        log.error(
            "alert.failed", **self._fields(alert), status_code=result.status_code, reply=error
        )

    def _reschedule(self, alert: PendingAlert, result: SendResult) -> None:
        error = redact_text(result.detail)[:500]
        delay = backoff_delay(
            alert.attempts + 1,
            base=self.config.retry_base,
            cap=self.config.retry_max,
            retry_after=result.retry_after,
            jitter=self.rng.random(),
        )
        now = time.time()
        due, code = now + delay, result.status_code
        self._probe_at = now + max(PROBE_SECONDS, result.retry_after or 0.0)
        self._record(
            outbox.rescheduled(alert.seq, next_attempt_at=due, status_code=code, error=error)
        )
        self._count(alert, AlertResult.RETRY)
        fields = {
            **self._fields(alert),
            "attempts": alert.attempts + 1,
            "status_code": result.status_code,
            "error": error,
            "retry_in_s": round(delay, 2),
        }
        if result.location is not None:  # a 3xx: N8N_WEBHOOK_URL needs fixing
            log.warning("alert.redirected", location=result.location, **fields)
        else:
            log.warning("alert.retry", **fields)

    def _count(self, alert: PendingAlert, result: AlertResult) -> None:
        self.stats.alert(alert.event, result, self.destination.channel)

    def _where(self) -> dict[str, str]:
        return {"channel": self.destination.channel, "destination": self.destination.display}

    def _fields(self, alert: PendingAlert) -> dict[str, str]:
        return {
            "alert_id": alert.alert_id,
            "alert_event": alert.event,
            "item": alert.item,
            **self._where(),
        }
