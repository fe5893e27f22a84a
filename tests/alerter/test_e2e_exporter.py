"""End to end with the real `heartbeat-exporter` and `heartbeat-alerter` processes."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.alerter.proc import EXPORTER, Process, alerter_env, start
from tests.alerter.receiver import Receiver, receiving
from tests.support import StatusServer, free_port, wait_for

pytestmark = pytest.mark.slow
INTERVAL = 0.5


@pytest.fixture
def ping() -> Iterator[StatusServer]:
    server = StatusServer(200)  # the internet check target: a local 200
    yield server
    server.close()


def exporter_env(tmp_path: Path, ping: StatusServer, **services: str) -> dict[str, str]:
    env = alerter_env(
        tmp_path,
        LOOP_INTERVAL_SECONDS=str(INTERVAL),
        SERVICE_TIMEOUT_SECONDS="0.3",
        PING_URL=ping.url,
        TZ="UTC",
        EXPORTER_LISTEN=f"127.0.0.1:{free_port()}",
    )
    env.update({f"SERVICE_URL_{name}": url for name, url in services.items()})
    return env


def start_pair(
    tmp_path: Path, ping: StatusServer, alerter_extra: dict[str, str], **services: str
) -> tuple[Process, Process]:
    exporter = start(
        tmp_path, exporter_env(tmp_path, ping, **services), program=EXPORTER, name="exporter"
    )
    wait_for(lambda: (tmp_path / "metrics.db").exists() and cycles(tmp_path) > 0, timeout=20)
    env = alerter_env(tmp_path, LOOP_INTERVAL_SECONDS=str(INTERVAL), **alerter_extra)
    alerter = start(tmp_path, env)
    alerter.wait_ready()
    return exporter, alerter


def cycles(tmp_path: Path) -> int:
    try:
        with sqlite3.connect(tmp_path / "metrics.db") as conn:
            return int(conn.execute("SELECT count(*) FROM monitoring_cycles").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def statuses_up_to(tmp_path: Path, name: str, cycle_id: int) -> list[str]:
    with sqlite3.connect(tmp_path / "metrics.db") as conn:
        rows = conn.execute(
            "SELECT status FROM service_checks WHERE service_name = ? "
            "AND cycle_id <= ? ORDER BY cycle_id",
            (name, cycle_id),
        )
        return [str(r[0]) for r in rows]


def alerts(hook: Receiver, event: str) -> list[dict[str, Any]]:
    return [b for b in hook.bodies() if b["event"] == event]


def test_switched_service_alerts_down_once_after_threshold_and_recovers_once(
    tmp_path: Path, ping: StatusServer
) -> None:
    service = StatusServer(200)
    with receiving() as hook:
        exporter, alerter = start_pair(
            tmp_path,
            ping,
            {"N8N_WEBHOOK_URL": hook.url, "STATUS_CHANGE_THRESHOLD": "3"},
            api=service.url,
        )
        try:
            wait_for(lambda: cycles(tmp_path) >= 3, timeout=20)
            service.status = 500
            (down,) = wait_for(lambda: alerts(hook, "service_down"), timeout=20)
            assert (down["item"], down["status"], down["status_code"]) == ("api", "error", 500)
            assert down["reason"] == "HTTP 500" and down["previous_status"] == "healthy"
            history = statuses_up_to(tmp_path, "api", down["cycle_id"])
            assert history[-3:] == ["error"] * 3 and history[-4] == "healthy"
            failing_cycles = cycles(tmp_path)
            wait_for(lambda: cycles(tmp_path) >= failing_cycles + 3, timeout=20)
            service.status = 200
            (up,) = wait_for(lambda: alerts(hook, "service_recovered"), timeout=20)
            assert up["latency_ms"] is not None and up["previous_status"] == "error"
            recovered_at = cycles(tmp_path)
            wait_for(lambda: cycles(tmp_path) >= recovered_at + 2, timeout=20)
            assert [b["event"] for b in hook.bodies()] == ["service_down", "service_recovered"]
        finally:
            assert alerter.terminate() == 0
            exporter.terminate()
            service.close()


def test_exporter_stopped_stops_heartbeats_and_alerts_stalled(
    tmp_path: Path, ping: StatusServer
) -> None:
    with receiving() as hook, receiving(path="/beat") as worker:
        exporter, alerter = start_pair(
            tmp_path,
            ping,
            {"N8N_WEBHOOK_URL": hook.url, "HEARTBEAT_URL": worker.url, "SECRET_KEY": "k-e2e-key"},
            api=ping.url,
        )
        try:
            wait_for(lambda: len(worker.all_requests()) >= 2, timeout=20)
            assert exporter.terminate() == 0
            stopped = time.time()
            last_cycle = cycles(tmp_path)
            (stalled,) = wait_for(lambda: alerts(hook, "exporter_stalled"), timeout=20)
            beats = worker.all_requests()
            assert beats[-1].json()["cycle_id"] == last_cycle
            assert all(b.at <= stopped + 2 * INTERVAL for b in beats)
            assert stalled["item"] == "exporter"
            count = len(beats)
            exporter = start(tmp_path, exporter.env, program=EXPORTER, name="exporter")
            wait_for(lambda: alerts(hook, "exporter_recovered"), timeout=20)
            wait_for(lambda: len(worker.all_requests()) > count, timeout=20)
        finally:
            assert alerter.terminate() == 0
            exporter.terminate()


@pytest.mark.docker
def test_stopped_container_alerts_down_with_its_exit_code(
    tmp_path: Path, ping: StatusServer, busybox_image: str, container_name: str
) -> None:
    subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            container_name,
            busybox_image,
            "sh",
            "-c",
            "trap 'exit 3' TERM; while true; do sleep 0.1; done",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with receiving() as hook:
        exporter, alerter = start_pair(
            tmp_path,
            ping,
            {"N8N_WEBHOOK_URL": hook.url, "STATUS_CHANGE_THRESHOLD": "2"},
            box=f"docker:{container_name}",
        )
        try:
            wait_for(lambda: cycles(tmp_path) >= 3, timeout=30)
            assert statuses_up_to(tmp_path, "box", 10**9)[-1] == "healthy"
            subprocess.run(
                ["docker", "stop", "-t", "5", container_name],
                check=True,
                capture_output=True,
                timeout=60,
            )
            (down,) = wait_for(lambda: alerts(hook, "service_down"), timeout=30)
            assert (down["item"], down["kind"], down["status"]) == ("box", "docker", "down")
            assert "code 3" in down["reason"]
        finally:
            assert alerter.terminate() == 0
            exporter.terminate()
