"""Heartbeats to a real local receiver playing the Worker: gating, body, signature, reply codes."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import pytest

from alerter.heartbeat import sign
from tests.alerter.conftest import Parts
from tests.alerter.dbutil import insert_cycle, outbox_rows
from tests.alerter.receiver import Answer, receiving

KEY = "s3cr3t-heartbeat-key"


def beat(parts: Parts, checks: dict[str, object] | None = None, **cycle: object) -> None:
    insert_cycle(parts.writer, checks or {"api": "healthy"}, **cycle)  # type: ignore[arg-type]
    parts.tailer.step()
    parts.heartbeater.step()


def worker_alerts(parts: Parts) -> list[dict[str, object]]:
    rows = parts.db.execute_sql(
        "SELECT payload FROM alert_outbox WHERE item = 'worker' ORDER BY seq"
    )
    return [json.loads(r[0]) for r in rows.fetchall()]


def test_heartbeat_body_bearer_and_order(make_parts: Callable[..., Parts]) -> None:
    with receiving() as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key=KEY)
        beat(
            parts,
            {
                "zeta": "healthy",
                "db": ("down", None, "exited (code 1)", "docker"),
                "alpha": "timeout",
            },
        )
        (got,) = worker.all_requests()
        assert got.headers["authorization"] == f"Bearer {KEY}"
        body = got.json()
        assert list(body["services"].items()) == [
            ("alpha", {"status": "timeout"}),
            ("zeta", {"status": "healthy"}),
            ("db", {"status": "down"}),
        ]
        assert body["cycle_id"] == 1 and body["host"] == "test-host"
        assert "x-heartbeat-signature" not in got.headers


def test_one_heartbeat_per_new_cycle(make_parts: Callable[..., Parts]) -> None:
    with receiving() as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key=KEY)
        beat(parts)
        parts.heartbeater.step()
        parts.heartbeater.step()
        beat(parts)
        assert [r.json()["cycle_id"] for r in worker.all_requests()] == [1, 2]
        assert parts.stats.snapshot().heartbeats["success"] == 2


def test_stale_cycle_sends_no_heartbeat(make_parts: Callable[..., Parts]) -> None:
    with receiving() as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key=KEY, interval=1.0)
        beat(parts, started_at=time.time() - 2.5)
        assert worker.all_requests() == []
        assert parts.stats.snapshot().heartbeats["skipped_stale"] == 1


def test_staleness_uses_the_interval_the_exporter_recorded(
    make_parts: Callable[..., Parts],
) -> None:
    with receiving() as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key=KEY, interval=1.0)
        beat(parts, started_at=time.time() - 2.5, interval=60.0)  # fresh for a 60 s exporter
        assert [r.json()["cycle_id"] for r in worker.all_requests()] == [1]


def test_failed_internet_check_sends_no_heartbeat(make_parts: Callable[..., Parts]) -> None:
    with receiving() as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key=KEY)
        beat(parts, internet="timeout")
        assert worker.all_requests() == []
        assert parts.stats.snapshot().heartbeats["skipped_internet_down"] == 1


def test_hmac_signature_verifies(make_parts: Callable[..., Parts]) -> None:
    with receiving() as worker:
        parts = make_parts(
            heartbeat_url=worker.url, secret_key=KEY, heartbeat_signing="hmac-sha256"
        )
        beat(parts)
        (got,) = worker.all_requests()
        timestamp = got.headers["x-heartbeat-timestamp"]
        expected = hmac.new(KEY.encode(), f"{timestamp}.".encode() + got.body, hashlib.sha256)
        assert hmac.compare_digest(got.headers["x-heartbeat-signature"], expected.hexdigest())
        assert abs(int(timestamp) - time.time()) < 5
        assert sign(KEY, timestamp, got.body + b" ") != got.headers["x-heartbeat-signature"]


MODES = [
    (220, "blind", "the worker is blind: it cannot see this monitor's reports (HTTP 220)"),
    (221, "partial_update_failure", "the worker reported a partial update failure (HTTP 221)"),
    (500, "critical", "the worker reported a critical error (HTTP 500)"),
    (503, "unexpected_reply", "the worker answered with an unexpected status (HTTP 503)"),
    (401, "unexpected_reply", "the worker answered with an unexpected status (HTTP 401)"),
]


@pytest.mark.parametrize(("code", "status", "reason"), MODES, ids=[str(m[0]) for m in MODES])
def test_worker_mode_alerts_with_its_meaning(
    make_parts: Callable[..., Parts], code: int, status: str, reason: str
) -> None:
    with receiving(lambda _r: Answer(code)) as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key=KEY, down_threshold=2)
        beat(parts)
        assert worker_alerts(parts) == []
        beat(parts)
        (alert,) = worker_alerts(parts)
        assert (alert["event"], alert["status"], alert["status_code"]) == (
            "worker_status_changed",
            status,
            code,
        )
        assert alert["reason"] == reason
        assert alert["title"] == "🔥 Worker Error"
        codes = parts.db.execute_sql("SELECT status_code FROM heartbeat_replies").fetchall()
        assert codes == [(code,), (code,)]


def test_hanging_worker_is_unreachable_with_the_internet_check_named(
    make_parts: Callable[..., Parts],
) -> None:
    with receiving(lambda _r: Answer(200, hang=30)) as worker:
        parts = make_parts(
            heartbeat_url=worker.url, secret_key=KEY, down_threshold=1, heartbeat_timeout=0.3
        )
        beat(parts)
        (alert,) = worker_alerts(parts)
        assert alert["status"] == "unreachable" and alert["status_code"] is None
        assert str(alert["reason"]).startswith("the worker did not answer (timeout")
        assert str(alert["reason"]).endswith("internet check passed")
        row = parts.db.execute_sql("SELECT status_code, error FROM heartbeat_replies").fetchone()
        assert row[0] is None and "s3cr3t" not in row[1]


def test_worker_state_change_and_recovery_are_alerted(make_parts: Callable[..., Parts]) -> None:
    codes = iter([220, 220, 500, 200])
    with receiving(lambda _r: Answer(next(codes))) as worker:
        parts = make_parts(
            heartbeat_url=worker.url, secret_key=KEY, down_threshold=2, language="es"
        )
        for _ in range(4):
            beat(parts)
        got = [(a["status"], a["previous_status"], a["title"]) for a in worker_alerts(parts)]
        assert got == [
            ("blind", None, "🔥 Error de Worker"),
            ("critical", "blind", "🔥 Error de Worker"),
            ("healthy", "critical", "✅ Worker Recuperado"),
        ]
        assert {r[2] for r in outbox_rows(parts.db)} == {"worker_status_changed"}


def test_heartbeat_interval_resends_for_the_newest_fresh_cycle(
    make_parts: Callable[..., Parts],
) -> None:
    with receiving() as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key=KEY, heartbeat_interval=0.2)
        beat(parts)
        parts.heartbeater.step()  # not yet due
        assert len(worker.all_requests()) == 1
        time.sleep(0.25)
        parts.heartbeater.step()
        assert [r.json()["cycle_id"] for r in worker.all_requests()] == [1, 1]


def test_no_heartbeat_before_the_exporter_wrote_a_cycle(make_parts: Callable[..., Parts]) -> None:
    with receiving() as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key=KEY)
        parts.heartbeater.step()
        assert worker.all_requests() == []
