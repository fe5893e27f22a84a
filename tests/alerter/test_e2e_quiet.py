"""End to end: a silence and reminders with the real exporter, alerter and silence command."""

from __future__ import annotations

import itertools
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.alerter.proc import ALERTER, EXPORTER, Process, alerter_env, start
from tests.alerter.receiver import Receiver, receiving
from tests.support import StatusServer, free_port, wait_for

pytestmark = pytest.mark.slow
INTERVAL = 1.0
REMINDER = 2.0


@pytest.fixture
def ping() -> Iterator[StatusServer]:
    server = StatusServer(200)
    yield server
    server.close()


def start_pair(tmp_path: Path, ping: StatusServer, hook: Receiver, api: str) -> list[Process]:
    common = alerter_env(
        tmp_path,
        LOOP_INTERVAL_SECONDS=str(INTERVAL),
        STATUS_CHANGE_THRESHOLD="2",
        TZ="UTC",
    )
    exporter_env = {
        **common,
        "SERVICE_TIMEOUT_SECONDS": "0.5",
        "PING_URL": ping.url,
        "EXPORTER_LISTEN": f"127.0.0.1:{free_port()}",
        "SERVICE_URL_api": api,
    }
    exporter = start(tmp_path, exporter_env, program=EXPORTER, name="exporter")
    wait_for((tmp_path / "metrics.db").exists, timeout=20)
    alerter_extra = {"N8N_WEBHOOK_URL": hook.url, "ALERT_REMINDER_SECONDS": str(REMINDER)}
    alerter = start(tmp_path, {**common, **alerter_extra})
    alerter.wait_ready()
    return [exporter, alerter]


def silence(process: Process, *args: str) -> str:
    done = subprocess.run(
        [ALERTER, "silence", *args],
        env=process.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


def logged_at(process: Process, event: str) -> float | None:
    times = [e["timestamp"] for e in process.events() if e.get("event") == event]
    return datetime.fromisoformat(times[0]).timestamp() if times else None


def cycles(tmp_path: Path) -> int:
    try:
        with sqlite3.connect(tmp_path / "metrics.db") as conn:
            return int(conn.execute("SELECT count(*) FROM monitoring_cycles").fetchone()[0])
    except sqlite3.OperationalError:  # the exporter has not created its tables yet
        return 0


def silence_end(tmp_path: Path) -> float:
    """When `silence expire` wrote its row: the moment the silence ended."""
    with sqlite3.connect(tmp_path / "metrics.db") as conn:
        return float(conn.execute("SELECT ends_at FROM alert_silences WHERE id = 1").fetchone()[0])


def received(hook: Receiver) -> list[tuple[float, dict[str, Any]]]:
    with hook.lock:
        return [(r.at, r.json()) for r in hook.accepted]


def test_silenced_outage_sends_nothing_then_one_catch_up_then_reminders(
    tmp_path: Path, ping: StatusServer
) -> None:
    service = StatusServer(200)
    with receiving() as hook:
        exporter, alerter = start_pair(tmp_path, ping, hook, service.url)
        try:
            wait_for(lambda: cycles(tmp_path) >= 2, timeout=20)  # `add` names the checked items
            assert "matches now: api" in silence(
                alerter, "add", "api", "--for", "1h", "--reason", "maintenance"
            )
            switched = time.time()
            service.status = 500
            held_at = wait_for(lambda: logged_at(alerter, "alert.silenced"), timeout=30)
            first_failure = min(t for t in service.hit_times if t >= switched)
            hits = service.hits
            wait_for(lambda: service.hits >= hits + 4, timeout=30)  # four more failing cycles
            assert received(hook) == []
            silence(alerter, "expire", "1")
            expired = silence_end(tmp_path)
            wait_for(lambda: received(hook), timeout=30)
            wait_for(lambda: len(received(hook)) >= 3, timeout=30)
            service.status = 200
            wait_for(lambda: received(hook)[-1][1]["event"] == "service_recovered", timeout=30)
            time.sleep(REMINDER + 2 * INTERVAL)  # no reminder after the recovery
            got = received(hook)
            bodies = [body for _, body in got]
            catch_up = bodies[0]
            assert (catch_up["event"], catch_up["item"], catch_up["status"]) == (
                "service_down",
                "api",
                "error",
            )
            assert catch_up["silenced_from"] < switched < catch_up["silenced_until"]
            reminders = bodies[1:-1]
            assert len(reminders) >= 2 and bodies[-1]["event"] == "service_recovered"
            assert all(r["event"] == "service_down_reminder" for r in reminders)
            assert [r["reminder"] for r in reminders] == list(range(1, len(reminders) + 1))
            assert len({b["id"] for b in bodies}) == len(bodies)
            assert all(r["since"] == catch_up["occurred_at"] for r in reminders)
            gaps = [b[0] - a[0] for a, b in itertools.pairwise(got[:-1])]
            print(
                f"\nhold after first failing probe: {held_at - first_failure:.2f} s"
                f"\ncatch-up after `silence expire`: {got[0][0] - expired:.2f} s"
                f"\nreminder spacing: {', '.join(f'{g:.2f}' for g in gaps)} s"
            )
        finally:
            assert alerter.terminate() == 0
            exporter.terminate()
            service.close()
