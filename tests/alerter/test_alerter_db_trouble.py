"""The real `heartbeat-alerter` under real database trouble: a full tmpfs, another connection
holding `BEGIN IMMEDIATE`, its folder made read-only or its files immutable while it runs, and a
database it cannot open (or a full disk) at start."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from pathlib import Path

import pytest

from tests.alerter.dbutil import exporter_db, insert_cycle
from tests.alerter.proc import ALERTER, Process, alerter_env, start
from tests.alerter.receiver import receiving
from tests.mounts import disk_full, fill, immutable, locked, read_only, tmpfs
from tests.support import wait_for

pytestmark = pytest.mark.slow
INTERVAL = 1.0
MARGIN = 4.0  # on top of two intervals: the machine is shared and loaded
LOCK_WAIT = 1.0  # a locked write gives up after half an interval, 1 s at least
SERVICES = [f"svc{n}" for n in range(10)]


@contextmanager
def paused(process: Process) -> Iterator[None]:
    """The alerter stopped (SIGSTOP) while the test writes cycles it must then commit."""
    os.kill(process.popen.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.popen.pid, signal.SIGCONT)


def health(process: Process) -> tuple[int, dict[str, object]]:
    status, body = process.get("/healthz")
    return status, json.loads(body)


def failing_health(process: Process) -> dict[str, object] | None:
    """The answer once it names a store condition."""
    status, body = health(process)
    return body if status == 503 and str(body.get("reason")).startswith("store_") else None


def events(process: Process, event: str) -> list[dict[str, object]]:
    return [e for e in process.events() if e.get("event") == event]


def outbox(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT alert_id, state FROM alert_outbox ORDER BY seq")
        return [(str(r[0]), str(r[1])) for r in rows]


def write_flips(db: Path, cycles: int, first_down: bool) -> None:
    """Cycles that flip every service each time: with threshold 1, one alert per service each."""
    writer = exporter_db(db)
    for index in range(cycles):
        down = (index % 2 == 0) == first_down
        insert_cycle(writer, dict.fromkeys(SERVICES, "down" if down else "healthy"))
    writer.close()


def immutable_files(data: Path) -> AbstractContextManager[None]:
    # The -shm file too: the alerter must refuse it before SQLite writes to its mapping.
    return immutable(data / "metrics.db", data / "metrics.db-wal", data / "metrics.db-shm")


Condition = Callable[[Path], AbstractContextManager[object]]
RUNNING: list[tuple[str, Condition, str, float]] = [
    ("full_disk", disk_full, "disk_full", 0.0),
    ("locked", locked, "locked", LOCK_WAIT),
    ("read_only_mount", read_only, "read_only", 0.0),
    ("immutable", immutable_files, "read_only", 0.0),
]


@pytest.mark.parametrize(
    ("condition", "reason", "extra_wait"),
    [pytest.param(c, r, w, id=name) for name, c, r, w in RUNNING],
)
def test_trouble_turns_healthz_503_logs_once_loses_no_alert_and_resumes(
    tmp_path: Path, condition: Condition, reason: str, extra_wait: float
) -> None:
    data = tmp_path / "data"
    db = data / "metrics.db"
    with ExitStack() as undo:
        undo.enter_context(tmpfs(data, "16m") if condition is disk_full else nullcontext(data))
        hook = undo.enter_context(receiving())
        exporter_db(db).close()
        env = alerter_env(
            tmp_path,
            SQLITE_DB_PATH=str(db),
            LOOP_INTERVAL_SECONDS=str(INTERVAL),
            STATUS_CHANGE_THRESHOLD="1",
            N8N_WEBHOOK_URL=hook.url,
        )
        process = start(tmp_path, env)
        undo.callback(process.kill)
        process.wait_ready()
        write_flips(db, 1, first_down=True)
        wait_for(lambda: len(hook.bodies()) == len(SERVICES), timeout=20)
        trouble = ExitStack()
        with paused(process):
            write_flips(db, 20, first_down=False)  # the alerter must commit 200 alerts
            trouble.enter_context(condition(data))
        seen: list[object] = []

        def failing() -> dict[str, object] | None:
            body = health(process)[1]
            seen.append(body.get("reason", "ok"))
            return failing_health(process)

        with trouble:
            began = time.monotonic()
            body = wait_for(failing, timeout=2 * INTERVAL + extra_wait + MARGIN)
            seen_after = time.monotonic() - began
            time.sleep(3 * INTERVAL + extra_wait)  # more refused commits: still one log line
            assert process.popen.poll() is None
            during = process.get("/metrics")
        cleared = time.monotonic()
        wait_for(lambda: health(process)[0] == 200, timeout=2 * INTERVAL + extra_wait + MARGIN)
        resumed_after = time.monotonic() - cleared
        expected = 21 * len(SERVICES)
        wait_for(lambda: len(outbox(db)) >= expected, timeout=30)  # + exporter_stalled
        wait_for(lambda: all(state == "delivered" for _, state in outbox(db)), timeout=30)
        metrics = process.get("/metrics")[1]
        final = {alert_id for alert_id, _ in outbox(db)}
        assert process.terminate() == 0
    assert body["reason"] == f"store_failing: {reason}", body
    assert "stale" not in seen, seen
    assert [e["reason"] for e in events(process, "tail.database_error")] == [reason]
    assert len(events(process, "tail.database_recovered")) == 1
    assert "cannot rollback" not in process.log_path.read_text()
    posts = Counter(b["id"] for b in hook.bodies())
    assert set(posts) == final  # none lost
    assert max(posts.values()) <= 2
    assert f'heartbeat_store_errors_total{{process="alerter",reason="{reason}"}}' in metrics
    assert 'heartbeat_store_failing{process="alerter"} 0.0' in metrics
    assert during[0] == 200
    assert 'heartbeat_store_failing{process="alerter"} 1.0' in during[1]
    print(
        f"{reason}: 503 after {seen_after:.1f} s, 200 again {resumed_after:.1f} s after clearing,"
        f" {len(final)} alerts, at most {max(posts.values())} POSTs of one"
    )


def assert_fails_at_start(tmp_path: Path, db: Path, reason: str) -> None:
    done = subprocess.run(
        [ALERTER],
        env=alerter_env(tmp_path, SQLITE_DB_PATH=str(db)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    lines = [json.loads(line) for line in output.splitlines() if "start_failed" in line]
    assert [(line["event"], line["reason"]) for line in lines] == [
        ("alerter.start_failed", reason)
    ], output


def test_database_that_cannot_be_opened_fails_at_start_in_one_line(tmp_path: Path) -> None:
    db = tmp_path / "metrics.db"
    db.write_bytes(b"not a database, " * 512)
    assert_fails_at_start(tmp_path, db, "corrupt")


def test_full_disk_at_start_fails_in_one_line(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "data", "1m") as data:
        filler = fill(data)
        try:
            assert_fails_at_start(tmp_path, data / "metrics.db", "disk_full")
        finally:
            filler.unlink()
