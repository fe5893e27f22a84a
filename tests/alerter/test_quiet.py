"""The silence and reminder stage in the running parts, on a real database file, with restarts."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from prometheus_client import generate_latest

from alerter.metrics import build_registry
from alerter.model import Event, NewAlert
from alerter.reminders import repeat
from hbmon.db import quiet
from tests.alerter.conftest import Parts
from tests.alerter.dbutil import insert_cycle
from tests.alerter.receiver import Answer, receiving


def sent(parts: Parts) -> list[dict[str, Any]]:
    rows = parts.db.execute_sql("SELECT payload FROM alert_outbox ORDER BY seq").fetchall()
    return [json.loads(r[0]) for r in rows]


def events(parts: Parts) -> list[tuple[str, str]]:
    return [(b["item"], b["event"]) for b in sent(parts)]


def silence(parts: Parts, pattern: str, seconds: float = 3600) -> int:
    """Added through another connection, as `heartbeat-alerter silence add` does."""
    now = time.time()
    return quiet.add_silence(
        parts.writer, pattern, starts_at=now, ends_at=now + seconds, reason="test"
    )


def cycles(parts: Parts, count: int, **checks: str) -> None:
    for _ in range(count):
        insert_cycle(parts.writer, dict(checks))
    parts.tailer.step()


def test_silenced_service_sends_nothing_then_one_catch_up_after_a_restart(
    make_parts: Callable[..., Parts],
) -> None:
    first = make_parts(down_threshold=2)
    first.tailer.step()
    silence_id = silence(first, "ap*")
    cycles(first, 3, api="down", web="down")
    assert events(first) == [("web", "service_down")]
    first.db.close()
    second = make_parts(down_threshold=2)  # the held alert comes back from the file
    cycles(second, 1, api="down", web="down")
    assert events(second) == [("web", "service_down")]
    quiet.expire_silence(second.writer, silence_id, now=time.time())
    cycles(second, 1, api="down", web="down")
    second.tailer.step()
    assert events(second) == [("web", "service_down"), ("api", "service_down")]
    catch_up = sent(second)[-1]
    assert catch_up["silenced_from"] < catch_up["silenced_until"] <= time.time()
    cycles(second, 1, api="healthy", web="down")
    assert events(second)[-1] == ("api", "service_recovered")


def test_an_outage_inside_the_silence_sends_nothing_after_it(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(down_threshold=2)
    parts.tailer.step()
    silence_id = silence(parts, "api")
    cycles(parts, 3, api="down")
    cycles(parts, 1, api="healthy")
    quiet.expire_silence(parts.writer, silence_id, now=time.time())
    cycles(parts, 2, api="healthy")
    assert events(parts) == []


def test_a_silence_that_runs_out_releases_its_item(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=1)
    parts.tailer.step()
    silence(parts, "api", seconds=0.3)
    cycles(parts, 1, api="down")
    assert events(parts) == []
    time.sleep(0.35)
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]


def test_silenced_worker_alert_is_held_and_caught_up(make_parts: Callable[..., Parts]) -> None:
    with receiving(lambda _r: Answer(500)) as worker:
        parts = make_parts(heartbeat_url=worker.url, secret_key="k" * 16)
        parts.tailer.step()
        silence_id = silence(parts, "worker")
        insert_cycle(parts.writer, {"api": "healthy"})
        parts.tailer.step()
        parts.heartbeater.step()
        assert len(worker.all_requests()) == 1 and events(parts) == []
        quiet.expire_silence(parts.writer, silence_id, now=time.time())
        parts.tailer.step()
        assert events(parts) == [("worker", "worker_status_changed")]
        assert sent(parts)[0]["status"] == "critical" and "silenced_from" in sent(parts)[0]


def original(parts: Parts) -> NewAlert:
    body = sent(parts)[0]
    return NewAlert(body["id"], body["item"], Event(body["event"]), body["cycle_id"], body)


def test_reminders_repeat_with_stable_ids_until_recovery(make_parts: Callable[..., Parts]) -> None:
    every = 0.3
    first = make_parts(down_threshold=1, reminder=every)
    first.tailer.step()
    cycles(first, 1, api="down")
    first.tailer.step()
    assert events(first) == [("api", "service_down")]
    time.sleep(every + 0.05)
    first.tailer.step()
    first.tailer.step()
    assert events(first)[1:] == [("api", "service_down_reminder")]
    first.db.close()
    second = make_parts(down_threshold=1, reminder=every)
    time.sleep(every + 0.05)
    second.tailer.step()
    bodies = sent(second)
    assert [b["reminder"] for b in bodies[1:]] == [1, 2]
    assert [b["id"] for b in bodies[1:]] == [
        repeat(original(second), n, "en").alert_id for n in (1, 2)
    ]
    cycles(second, 1, api="healthy")
    time.sleep(every + 0.05)
    second.tailer.step()
    assert events(second)[-1] == ("api", "service_recovered") and len(events(second)) == 4


def test_a_silenced_item_gets_no_reminders(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=1, reminder=0.2)
    parts.tailer.step()
    cycles(parts, 1, api="down")
    silence(parts, "api")
    time.sleep(0.3)
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]


def test_active_silences_are_a_gauge(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts()
    registry = build_registry(parts.stats, parts.db, ["log"])
    silence(parts, "api")
    ended = silence(parts, "web-*")
    quiet.expire_silence(parts.writer, ended, now=time.time())
    text = generate_latest(registry).decode()
    assert "heartbeat_silences_active 1.0" in text
    assert (
        'heartbeat_alerts_total{channel="log",event="service_down_reminder",result="logged"} 0.0'
        in text
    )


def test_a_removed_service_takes_its_reminder_with_it(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(down_threshold=1, reminder=0.2)
    parts.tailer.step()
    cycles(parts, 1, api="down", web="healthy")
    cycles(parts, 1, web="healthy")  # api left the configuration: retired, nothing sent
    time.sleep(0.3)
    parts.tailer.step()
    assert events(parts) == [("api", "service_down")]
    assert quiet.load_reminders(parts.db) == []
