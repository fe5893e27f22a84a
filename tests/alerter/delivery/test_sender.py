"""One sender over the outbox to a real local webhook: retries, permanent failures, order, ids."""

from __future__ import annotations

import email.utils
import json
import sqlite3
import threading
import time
from collections.abc import Callable

import peewee
import pytest
from structlog.testing import capture_logs

from alerter.delivery import sender
from alerter.delivery.backoff import backoff_delay, parse_retry_after
from alerter.metrics import health
from tests.alerter.conftest import Parts
from tests.alerter.dbutil import insert_cycle, outbox_rows
from tests.alerter.receiver import Answer, Received, receiving
from tests.support import wait_for

NOW = 1_700_000_000.0


def test_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7", now=NOW) == 7.0
    date = email.utils.formatdate(NOW + 30, usegmt=True)
    assert parse_retry_after(date, now=NOW) == pytest.approx(30.0)
    assert parse_retry_after("soon", now=NOW) is None
    assert parse_retry_after(None, now=NOW) is None


def test_backoff_grows_exponentially_with_jitter_and_cap() -> None:
    delays = [backoff_delay(n, base=1, cap=60, retry_after=None, jitter=1.0) for n in range(1, 9)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff_delay(3, base=1, cap=60, retry_after=None, jitter=0.0) == 2.0  # half at most
    assert backoff_delay(1, base=1, cap=60, retry_after=45, jitter=0.5) == 45  # floor
    assert backoff_delay(10_000, base=1, cap=60, retry_after=None, jitter=1.0) == 60


def _down_then_up(parts: Parts, items: list[str], rounds: int) -> None:
    """`rounds` outages of every item, each a down and a recovery alert (threshold 1)."""
    for _ in range(rounds):
        insert_cycle(parts.writer, dict.fromkeys(items, "down"))
        parts.tailer.step()
        insert_cycle(parts.writer, dict.fromkeys(items, "healthy"))
        parts.tailer.step()


def _scripted(answers: list[Answer], then: Answer) -> Callable[[Received], Answer]:
    lock = threading.Lock()
    remaining = list(answers)

    def script(_received: Received) -> Answer:
        with lock:
            return remaining.pop(0) if remaining else then

    return script


def test_delivered_alert_carries_id_in_body_and_idempotency_key(
    make_parts: Callable[..., Parts],
) -> None:
    with receiving() as hook:
        parts = make_parts(webhook_url=hook.url)
        _down_then_up(parts, ["api"], 1)
        parts.run_senders()
        wait_for(lambda: len(hook.bodies()) == 2, timeout=10)
        down, up = hook.accepted
        assert down.json()["event"] == "service_down" and up.json()["event"] == "service_recovered"
        assert down.headers["idempotency-key"] == down.json()["id"]
        assert down.headers["content-type"].startswith("application/json")
        wait_for(lambda: [r[3] for r in outbox_rows(parts.db)] == ["delivered"] * 2, timeout=5)


def test_webhook_answering_500_then_200_gets_every_alert_in_order_once(
    make_parts: Callable[..., Parts],
) -> None:
    """The 500 phase lasts 25 requests (a few seconds at ALERT_RETRY_BASE 0.05 s), not a minute."""
    script = _scripted([Answer(500, body=b"n8n down")] * 25, Answer(200))
    with receiving(script) as hook:
        parts = make_parts(webhook_url=hook.url)
        _down_then_up(parts, ["api", "db"], 3)
        parts.run_senders()
        wait_for(lambda: len(hook.bodies()) == 12, timeout=30)
        ids = [b["id"] for b in hook.bodies()]
        assert len(set(ids)) == 12
        created = [r[0] for r in outbox_rows(parts.db)]
        for item in ("api", "db"):
            got = [b["id"] for b in hook.bodies() if b["item"] == item]
            assert got == [i for i in created if i in got]  # per-item creation order
            events = [b["event"] for b in hook.bodies() if b["item"] == item]
            assert events == ["service_down", "service_recovered"] * 3
        wait_for(lambda: all(r[3] == "delivered" for r in outbox_rows(parts.db)), timeout=5)
        assert len(hook.all_requests()) == 12 + 25


def test_webhook_answering_400_is_failed_and_not_retried(make_parts: Callable[..., Parts]) -> None:
    script = _scripted([Answer(400, body=b"bad payload " + b"x" * 2000)], Answer(200))
    with receiving(script) as hook:
        parts = make_parts(webhook_url=hook.url)
        insert_cycle(parts.writer, {"api": "down"})
        parts.tailer.step()
        parts.run_senders()
        wait_for(lambda: outbox_rows(parts.db)[0][3] == "failed", timeout=10)
        row = parts.db.execute_sql(
            "SELECT attempts, last_status_code, last_error FROM alert_outbox"
        ).fetchone()
        assert row[0] == 1 and row[1] == 400
        assert row[2].startswith("HTTP 400: bad payload") and len(row[2]) < 400
        time.sleep(0.5)  # several retry periods: nothing more may be sent
        assert len(hook.all_requests()) == 1


def test_moved_webhook_308_is_retried_and_logged_without_the_new_url(
    make_parts: Callable[..., Parts],
) -> None:
    moved = Answer(308, headers={"Location": "https://n8n.example/webhook/n3w-s3cr3t"})
    with receiving(_scripted([moved, moved], Answer(200))) as hook:
        parts = make_parts(webhook_url=hook.url)
        insert_cycle(parts.writer, {"api": "down"})
        parts.tailer.step()
        with capture_logs() as logs:
            parts.run_senders()
            wait_for(lambda: outbox_rows(parts.db)[0][3] == "delivered", timeout=10)
        assert len(hook.all_requests()) == 3 and outbox_rows(parts.db)[0][4] == 3
        redirected = [e for e in logs if e["event"] == "alert.redirected"]
        assert [e["location"] for e in redirected] == ["https://n8n.example/***"] * 2
        assert redirected[0]["status_code"] == 308 and redirected[0]["item"] == "api"
        assert "n3w-s3cr3t" not in repr(logs)
        assert parts.stats.snapshot().alerts[("n8n", "service_down", "retry")] == 2


def test_webhook_moved_for_good_keeps_the_alert_until_it_expires(
    make_parts: Callable[..., Parts],
) -> None:
    with receiving(lambda _r: Answer(301, headers={"Location": "/elsewhere"})) as hook:
        parts = make_parts(webhook_url=hook.url, max_age=0.5)
        insert_cycle(parts.writer, {"api": "down"})
        parts.tailer.step()
        parts.run_senders()
        wait_for(lambda: outbox_rows(parts.db)[0][3] != "pending", timeout=10)
        assert outbox_rows(parts.db)[0][3] == "expired"
        assert len(hook.all_requests()) >= 2
        alerts = parts.stats.snapshot().alerts
        assert alerts[("n8n", "service_down", "retry")] >= 1
        assert ("n8n", "service_down", "failed") not in alerts


def test_hanging_webhook_times_out_and_is_retried(make_parts: Callable[..., Parts]) -> None:
    script = _scripted([Answer(200, hang=30)], Answer(200))
    with receiving(script) as hook:
        parts = make_parts(webhook_url=hook.url, webhook_timeout=0.5)
        insert_cycle(parts.writer, {"api": "down"})
        parts.tailer.step()
        parts.run_senders()
        wait_for(lambda: outbox_rows(parts.db)[0][3] == "delivered", timeout=10)
        assert len(hook.all_requests()) == 2
        assert outbox_rows(parts.db)[0][4] == 2
        assert parts.stats.snapshot().alerts[("n8n", "service_down", "retry")] == 1


def test_429_retry_after_is_honoured(make_parts: Callable[..., Parts]) -> None:
    script = _scripted([Answer(429, headers={"Retry-After": "1"})], Answer(200))
    with receiving(script) as hook:
        parts = make_parts(webhook_url=hook.url)
        insert_cycle(parts.writer, {"api": "down"})
        parts.tailer.step()
        parts.run_senders()
        wait_for(lambda: len(hook.bodies()) == 1, timeout=10)
        first, second = hook.all_requests()
        assert second.at - first.at >= 0.95


def test_other_items_are_not_blocked_but_item_order_is_kept(
    make_parts: Callable[..., Parts],
) -> None:
    def script(received: Received) -> Answer:
        body = received.json()
        first_api_alert = body["item"] == "api" and body["event"] == "service_down"
        seen = sum(1 for r in hook.all_requests() if r.json()["id"] == body["id"])
        rejected = first_api_alert and seen <= 3
        return Answer(503) if rejected else Answer(200)

    with receiving(script) as hook:
        parts = make_parts(webhook_url=hook.url)
        _down_then_up(parts, ["api", "db"], 1)
        parts.run_senders()
        wait_for(lambda: len(hook.bodies()) == 4, timeout=15)
        order = [(b["item"], b["event"]) for b in hook.bodies()]
        assert order.index(("db", "service_recovered")) < order.index(("api", "service_down"))
        assert order.index(("api", "service_down")) < order.index(("api", "service_recovered"))
        api_requests = [r.json()["event"] for r in hook.all_requests() if r.json()["item"] == "api"]
        assert api_requests == ["service_down"] * 4 + ["service_recovered"]


def test_alert_older_than_max_age_is_expired_not_sent(make_parts: Callable[..., Parts]) -> None:
    with receiving(lambda _r: Answer(500)) as hook:
        parts = make_parts(webhook_url=hook.url, max_age=0.5)
        insert_cycle(parts.writer, {"api": "down"})
        parts.tailer.step()
        parts.run_senders()
        wait_for(lambda: outbox_rows(parts.db)[0][3] == "expired", timeout=10)
        sent = len(hook.all_requests())
        assert sent >= 1
        time.sleep(0.3)
        assert len(hook.all_requests()) == sent
        assert parts.stats.snapshot().alerts[("n8n", "service_down", "expired")] == 1


def test_unreachable_webhook_error_stored_without_the_secret_url(
    make_parts: Callable[..., Parts],
) -> None:
    from tests.support import free_port

    url = f"http://127.0.0.1:{free_port()}/webhook/s3cr3t-path-token"
    parts = make_parts(webhook_url=url)
    from hbmon.logs import register_secrets

    register_secrets(parts.config.secrets)
    insert_cycle(parts.writer, {"api": "down"})
    parts.tailer.step()
    parts.sender.step()
    row = parts.db.execute_sql("SELECT state, attempts, last_error FROM alert_outbox").fetchone()
    assert row[0] == "pending" and row[1] == 1
    assert row[2].startswith("connection:")
    assert "s3cr3t" not in row[2]


def test_without_webhook_alerts_are_logged_and_not_left_pending(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(webhook_url=None)
    _down_then_up(parts, ["api"], 2)
    assert [r[3] for r in outbox_rows(parts.db)] == ["logged"] * 4
    assert parts.stats.snapshot().alerts[("log", "service_down", "logged")] == 2


def test_a_delivery_that_cannot_be_recorded_is_remembered_not_sent_again(
    make_parts: Callable[..., Parts],
) -> None:
    """Issue 13 item 3: a full or read-only disk once meant one re-POST per second."""
    with receiving() as hook:
        parts = make_parts(webhook_url=hook.url)
        insert_cycle(parts.writer, {"api": "down"})
        parts.tailer.step()
        parts.db.execute_sql("PRAGMA query_only = ON")  # every write now fails, as on a full disk
        for _ in range(5):
            with pytest.raises(peewee.OperationalError):
                parts.sender.step()
        assert len(hook.all_requests()) == 1
        assert outbox_rows(parts.db)[0][3] == "pending"
        parts.db.execute_sql("PRAGMA query_only = OFF")
        parts.sender.step()
        assert outbox_rows(parts.db)[0][3] == "delivered"
        assert len(hook.all_requests()) == 1


def test_database_errors_back_off_up_to_a_cap(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(webhook_url="http://127.0.0.1:9/hook")
    error = peewee.OperationalError("disk I/O error")
    waits = [parts.sender._database_error(error) for _ in range(8)]
    assert waits == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_success_after_an_outage_drains_every_waiting_item_at_once(
    make_parts: Callable[..., Parts],
) -> None:
    """Issue 13 item 6: each item used to wait out its own backoff after the webhook came back."""
    outage_ends = time.time() + 6.0

    def script(_received: Received) -> Answer:
        return Answer(503) if time.time() < outage_ends else Answer(200)

    items = [f"svc{i}" for i in range(20)]
    with receiving(script) as hook:
        parts = make_parts(webhook_url=hook.url, retry_base=4.0, retry_max=60.0)
        insert_cycle(parts.writer, dict.fromkeys(items, "down"))
        parts.tailer.step()
        parts.run_senders()
        wait_for(lambda: len(hook.bodies()) == len(items), timeout=30)
        arrivals = [r.at for r in hook.accepted]
    # Without the drain the last item would come up to ~8 s after the first (its own backoff).
    assert max(arrivals) - min(arrivals) < 2.5


def test_a_sender_that_cannot_record_makes_healthz_503_logs_once_and_recovers(
    make_parts: Callable[..., Parts],
) -> None:
    """Another connection holds the write lock while the sender records a delivery."""
    with receiving() as hook:
        parts = make_parts(webhook_url=hook.url)
        insert_cycle(parts.writer, {"api": "down"})
        parts.tailer.step()
        holder = sqlite3.connect(parts.config.db_path, isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        stop = threading.Event()
        thread = threading.Thread(target=parts.sender.run, args=(stop,))
        with capture_logs() as logs:
            thread.start()
            wait_for(parts.stats.store.worst, timeout=15)
            parts.stats.loop_pass(0)  # no tail loop runs here: only the store decides
            failing, body = health(parts.stats)
            holder.execute("ROLLBACK")
            holder.close()
            wait_for(lambda: parts.stats.store.worst() is None, timeout=15)
            stop.set()
            parts.sender.wake.set()
            thread.join(10)
        assert (failing, json.loads(body)["reason"]) == (False, "store_failing: locked")
        parts.stats.loop_pass(0)
        assert health(parts.stats)[0]
        assert [e["reason"] for e in logs if e["event"] == "delivery.database_error"] == ["locked"]
        assert [e["event"] for e in logs].count("delivery.database_recovered") == 1
        assert outbox_rows(parts.db)[0][3] == "delivered"
        assert len(hook.all_requests()) == 1


def test_a_pass_records_its_burst_of_outcomes_in_one_transaction(
    make_parts: Callable[..., Parts], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sender, "BATCH_SECONDS", 60.0)  # the machine may be slow: count only
    items = [f"svc{i}" for i in range(20)]
    with receiving() as hook:
        parts = make_parts(webhook_url=hook.url)
        insert_cycle(parts.writer, dict.fromkeys(items, "down"))
        parts.tailer.step()
        statements: list[str] = []
        parts.db.connection().set_trace_callback(statements.append)
        parts.sender.step()
        parts.db.connection().set_trace_callback(None)
        assert len(hook.bodies()) == len(items)
    assert [r[3] for r in outbox_rows(parts.db)] == ["delivered"] * len(items)
    assert sum(s.upper().startswith("BEGIN") for s in statements) == 1


def test_a_delivery_later_in_the_burst_drains_an_alert_refused_before_it(
    make_parts: Callable[..., Parts],
) -> None:
    def script(received: Received) -> Answer:
        return Answer(503) if received.json()["item"] == "api" else Answer(200)

    with receiving(script) as hook:
        parts = make_parts(webhook_url=hook.url, retry_base=60.0, retry_max=600.0)
        insert_cycle(parts.writer, {"api": "down", "db": "down"})
        parts.tailer.step()
        parts.sender.step()
        assert [b["item"] for b in hook.bodies()] == ["db"]
    due = parts.db.execute_sql(
        "SELECT item, state, attempts, next_attempt_at <= ? FROM alert_outbox ORDER BY seq",
        (time.time(),),
    ).fetchall()
    assert due == [("api", "pending", 1, 1), ("db", "delivered", 1, 1)]
