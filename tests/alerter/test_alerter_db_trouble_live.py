"""Database trouble met by live writers: the real exporter sharing the alerter's full disk, and a
heartbeat whose reply cannot be recorded while cycles keep coming."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

from tests.alerter.dbutil import exporter_db, insert_cycle
from tests.alerter.proc import EXPORTER, alerter_env, start
from tests.alerter.receiver import Receiver, receiving
from tests.alerter.test_alerter_db_trouble import (
    MARGIN,
    events,
    failing_health,
    health,
    outbox,
    paused,
)
from tests.alerter.test_process import SECRET_KEY
from tests.exporter.test_exporter_process import get
from tests.mounts import disk_full, tmpfs
from tests.support import StatusServer, free_port, wait_for

pytestmark = pytest.mark.slow
INTERVAL = 1.0
WATCHED = 10.0  # seconds the test watches the heartbeat under the held lock


def exporter_health(env: dict[str, str]) -> tuple[int, dict[str, object]]:
    status, body = get(f"http://{env['EXPORTER_LISTEN']}/healthz")
    return status, (json.loads(body) if body else {})


def checks_failing(db: Path, name: str) -> int:
    with sqlite3.connect(db, timeout=10) as conn:
        query = "SELECT count(*) FROM service_checks WHERE service_name = ? AND status <> 'healthy'"
        return int(conn.execute(query, (name,)).fetchone()[0])


def test_full_disk_under_the_real_exporter_both_say_so_and_no_alert_is_lost(
    tmp_path: Path,
) -> None:
    """The exporter stores a cycle with `web` failing (HTTP 500) while the alerter is paused;
    then the shared tmpfs fills: both /healthz say `disk_full`, both stay up, and once it
    clears the exporter stores its backlog and the alerter delivers the alert for `web`, at
    most twice."""
    data, service, ping = tmp_path / "data", StatusServer(200), StatusServer(200)
    db = data / "metrics.db"
    with ExitStack() as undo:
        undo.callback(service.close)
        undo.callback(ping.close)
        undo.enter_context(tmpfs(data, "16m"))
        hook = undo.enter_context(receiving())
        common = alerter_env(tmp_path, SQLITE_DB_PATH=str(db), LOOP_INTERVAL_SECONDS=str(INTERVAL))
        exporter_env = common | {
            "SERVICE_TIMEOUT_SECONDS": "0.3",
            "PING_URL": ping.url,
            "TZ": "UTC",
            "EXPORTER_LISTEN": f"127.0.0.1:{free_port()}",
            "SERVICE_URL_web": service.url,
        }
        exporter = start(tmp_path, exporter_env, program=EXPORTER, name="exporter")
        undo.callback(exporter.kill)
        wait_for(lambda: exporter_health(exporter_env)[0] == 200 and db.exists(), timeout=20)
        alerter_extra = {"STATUS_CHANGE_THRESHOLD": "1", "N8N_WEBHOOK_URL": hook.url}
        alerter = start(tmp_path, common | alerter_extra)
        undo.callback(alerter.kill)
        alerter.wait_ready()
        trouble = ExitStack()
        with paused(alerter):
            service.status = 500
            wait_for(lambda: checks_failing(db, "web") > 0, timeout=10)
            trouble.enter_context(disk_full(data))
        with trouble:
            limit = 2 * INTERVAL + MARGIN
            exporter_said = wait_for(
                lambda: exporter_health(exporter_env)[1].get("store_error"), timeout=limit
            )
            alerter_said = wait_for(lambda: failing_health(alerter), timeout=limit)["reason"]
            time.sleep(3 * INTERVAL)
            assert (exporter.popen.poll(), alerter.popen.poll()) == (None, None)
        wait_for(lambda: exporter_health(exporter_env)[0] == 200, timeout=2 * INTERVAL + MARGIN)
        wait_for(lambda: health(alerter)[0] == 200, timeout=2 * INTERVAL + MARGIN)
        wait_for(lambda: any(b["item"] == "web" for b in hook.bodies()), timeout=20)
        wait_for(lambda: all(state == "delivered" for _, state in outbox(db)), timeout=30)
        final = {alert_id for alert_id, _ in outbox(db)}
        assert alerter.terminate() == 0
    assert (exporter_said, alerter_said) == ("disk_full", "store_failing: disk_full")
    assert [e["reason"] for e in events(alerter, "tail.database_error")] == ["disk_full"]
    posts = Counter(b["id"] for b in hook.bodies())
    assert set(posts) == final
    assert max(posts.values()) <= 2
    print(f"real exporter, full disk: {len(final)} alerts, at most {max(posts.values())} POSTs")


@contextmanager
def writer_holding_the_lock(db: Path, stop: threading.Event) -> Iterator[list[int]]:
    """Another connection that holds the write lock all the time, except for the instant in
    which it commits a new cycle each interval: cycles keep coming, the alerter cannot write."""
    written: list[int] = []

    def run() -> None:
        holder = sqlite3.connect(db, isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        while not stop.wait(INTERVAL):
            now = time.time()
            cursor = holder.execute(
                "INSERT INTO monitoring_cycles (started_at, timestamp_local, internet_status,"
                " cycle_duration_ms, skipped_ticks, interval_seconds, completed_at)"
                " VALUES (?, '', 'healthy', 1.0, 0, ?, ?)",
                (now, INTERVAL, now),
            )
            holder.execute("COMMIT")
            holder.execute("BEGIN IMMEDIATE")
            written.append(int(cursor.lastrowid or 0))
        holder.execute("ROLLBACK")
        holder.close()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield written
    finally:
        stop.set()
        thread.join(10)


def replies(db: Path) -> list[int]:
    with sqlite3.connect(db, timeout=10) as conn:
        rows = conn.execute("SELECT cycle_id FROM heartbeat_replies ORDER BY cycle_id")
        return [int(r[0]) for r in rows]


def heartbeat_cycles(worker: Receiver) -> list[int]:
    return [int(b["cycle_id"]) for b in worker.bodies()]


def test_heartbeat_reply_that_cannot_be_recorded_is_logged_once_and_the_beat_goes_on(
    tmp_path: Path,
) -> None:
    """Each new cycle is POSTed to the worker once, also while its reply cannot be recorded (no
    re-POST of a cycle, no hot loop: the next attempt waits for the next cycle), one
    `heartbeat.database_error` names `locked`, and recording resumes once the lock is gone."""
    db = tmp_path / "metrics.db"
    exporter_db(db).close()
    with receiving() as worker, receiving() as hook:
        env = alerter_env(
            tmp_path,
            LOOP_INTERVAL_SECONDS=str(INTERVAL),
            N8N_WEBHOOK_URL=hook.url,
            HEARTBEAT_URL=worker.url,
            SECRET_KEY=SECRET_KEY,
        )
        process = start(tmp_path, env)
        try:
            process.wait_ready()
            stop = threading.Event()
            with writer_holding_the_lock(db, stop) as written:
                wait_for(lambda: events(process, "heartbeat.database_error"), timeout=20)
                during = len(worker.bodies())
                time.sleep(WATCHED)
                assert process.popen.poll() is None
                beats_while_locked = len(worker.bodies()) - during
                locked_cycles = list(written)
            wait_for(lambda: events(process, "heartbeat.database_recovered"), timeout=30)
            exporter = exporter_db(db)
            newest = insert_cycle(exporter, {}, interval=INTERVAL)
            exporter.close()
            wait_for(lambda: newest in replies(db), timeout=20)
            sent = heartbeat_cycles(worker)
            assert process.terminate() == 0
        finally:
            if process.popen.poll() is None:
                process.kill()
    errors = events(process, "heartbeat.database_error")
    assert [e["reason"] for e in errors] == ["locked"]
    assert len(events(process, "heartbeat.database_recovered")) == 1
    assert beats_while_locked >= 1  # the loop kept going
    assert len(sent) == len(set(sent))  # never the same cycle twice
    assert set(sent) <= {*locked_cycles, newest}
    print(f"heartbeat under a held lock: {beats_while_locked} beats in {WATCHED:.0f} s")
