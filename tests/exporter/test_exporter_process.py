"""The real `heartbeat-exporter` process, started as a user would, with real local targets."""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import StatusServer, base_env, free_port, run_cli, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def healthy_server() -> Iterator[StatusServer]:
    server = StatusServer(200)
    yield server
    server.close()


@pytest.fixture
def failing_server() -> Iterator[StatusServer]:
    server = StatusServer(503)
    yield server
    server.close()


def exporter_env(tmp_path: Path, ping: StatusServer, **extra: str) -> dict[str, str]:
    defaults = {
        "LOOP_INTERVAL_SECONDS": "1",
        "SERVICE_TIMEOUT_SECONDS": "0.5",
        "PING_URL": ping.url,
        "EXPORTER_LISTEN": f"127.0.0.1:{free_port()}",
        "DOCKER_HOST": "unix:///nonexistent/docker.sock",
    }
    return base_env(tmp_path, **{**defaults, **extra})


def start(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with (tmp_path / "exporter.log").open("ab") as log:
        return subprocess.Popen(
            ["heartbeat-exporter"], env=env, cwd=tmp_path, stdout=log, stderr=log
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def query(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db, timeout=10) as conn:
        return conn.execute(sql).fetchall()


def cycles_stored(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return int(query(db, "SELECT COUNT(*) FROM monitoring_cycles")[0][0])  # type: ignore[call-overload]
    except sqlite3.OperationalError:
        return 0


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except urllib.error.URLError:
        return 0, ""  # not listening (yet)


def test_cycles_sit_on_the_grid_and_every_check_is_stored(
    tmp_path: Path, healthy_server: StatusServer, failing_server: StatusServer
) -> None:
    env = exporter_env(
        tmp_path,
        healthy_server,
        SERVICE_URL_web=healthy_server.url,
        SERVICE_URL_api=failing_server.url,
    )
    process = start(tmp_path, env)
    db = tmp_path / "metrics.db"
    try:
        wait_for(lambda: cycles_stored(db) >= 3, timeout=20)
    finally:
        stop(process)
    starts = [row[0] for row in query(db, "SELECT started_at FROM monitoring_cycles ORDER BY id")]
    assert all(float(s) == int(float(s)) for s in starts)  # type: ignore[arg-type]
    # The probes really ran on the grid: each request arrived just after a whole second.
    assert len(failing_server.hit_times) >= 3
    assert all(t % 1.0 < 0.3 for t in failing_server.hit_times), failing_server.hit_times
    checks = query(
        db,
        "SELECT service_name, status, status_code FROM service_checks "
        "WHERE cycle_id = (SELECT MAX(id) FROM monitoring_cycles) ORDER BY service_name",
    )
    assert checks == [("api", "error", 503), ("web", "healthy", 200)]
    assert query(db, "SELECT DISTINCT internet_status FROM monitoring_cycles") == [("healthy",)]
    assert query(
        db, "SELECT COUNT(*) FROM monitoring_cycles WHERE container_count IS NOT NULL"
    ) == [(0,)]


def test_metrics_and_healthz_are_served(
    tmp_path: Path, healthy_server: StatusServer, failing_server: StatusServer
) -> None:
    env = exporter_env(
        tmp_path,
        healthy_server,
        SERVICE_URL_web=healthy_server.url,
        SERVICE_URL_api=failing_server.url,
    )
    base = f"http://{env['EXPORTER_LISTEN']}"
    process = start(tmp_path, env)
    try:
        wait_for(lambda: cycles_stored(tmp_path / "metrics.db") >= 1, timeout=20)
        status, metrics = get(base + "/metrics")
        health, detail = get(base + "/healthz")
    finally:
        stop(process)
    assert status == 200
    assert 'heartbeat_service_up{kind="http",service="web"} 1.0' in metrics
    assert 'heartbeat_service_up{kind="http",service="api"} 0.0' in metrics
    assert 'heartbeat_service_http_status_code{service="api"} 503.0' in metrics
    assert "heartbeat_internet_up 1.0" in metrics
    assert (health, json.loads(detail)["status"]) == (200, "ok")


def test_sigterm_stops_within_a_second_without_losing_the_cycle(
    tmp_path: Path, healthy_server: StatusServer
) -> None:
    env = exporter_env(tmp_path, healthy_server, SERVICE_URL_web=healthy_server.url)
    process = start(tmp_path, env)
    db = tmp_path / "metrics.db"
    try:
        wait_for(lambda: cycles_stored(db) >= 2, timeout=20)
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = process.wait(timeout=5)
        took = time.monotonic() - sent
    finally:
        stop(process)
    assert code == 0
    assert took < 1.0
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    assert "exporter.stopped" in (tmp_path / "exporter.log").read_text()


class BlackHole:
    """Accepts connections and never answers: a probe of it is in flight until its budget ends."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def close(self) -> None:
        self.sock.close()


def test_sigterm_during_probing_stops_within_a_second_and_stores_no_partial_cycle(
    tmp_path: Path, healthy_server: StatusServer
) -> None:
    hole = BlackHole()
    env = exporter_env(
        tmp_path,
        healthy_server,
        LOOP_INTERVAL_SECONDS="3",
        SERVICE_TIMEOUT_SECONDS="2",
        SERVICE_URL_web=healthy_server.url,
        SERVICE_URL_hole=hole.url,
    )
    db = tmp_path / "metrics.db"
    process = start(tmp_path, env)
    try:
        wait_for(lambda: cycles_stored(db) >= 1, timeout=20)
        stored = cycles_stored(db)
        # web and the internet check both hit this server: more hits means the next cycle began
        wait_for(lambda: healthy_server.hits > 2 * stored, timeout=10)
        process.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = process.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        stop(process)
        hole.close()
    assert code == 0
    assert took < 1.0
    assert cycles_stored(db) == stored
    assert query(db, "SELECT COUNT(*) FROM service_checks") == [(2 * stored,)]
    assert "cycle.aborted" in (tmp_path / "exporter.log").read_text()


def test_black_hole_is_a_timeout_and_the_cycle_still_ends_on_time(
    tmp_path: Path, healthy_server: StatusServer
) -> None:
    hole = BlackHole()
    env = exporter_env(
        tmp_path, healthy_server, SERVICE_URL_web=healthy_server.url, SERVICE_URL_hole=hole.url
    )
    db = tmp_path / "metrics.db"
    process = start(tmp_path, env)
    try:
        wait_for(lambda: cycles_stored(db) >= 3, timeout=20)
    finally:
        stop(process)
        hole.close()
    checks = query(
        db,
        "SELECT s.service_name, s.status, s.latency_ms, c.cycle_duration_ms, c.skipped_ticks "
        "FROM service_checks s JOIN monitoring_cycles c ON c.id = s.cycle_id "
        "WHERE s.service_name = 'hole'",
    )
    assert len(checks) >= 3
    for _, status, _, duration_ms, skipped in checks:
        assert status == "timeout"
        assert 450 <= float(duration_ms) < 900  # type: ignore[arg-type]  # budget 0.5 s
        assert skipped == 0
    starts = [r[0] for r in query(db, "SELECT started_at FROM monitoring_cycles ORDER BY id")]
    assert all(b - a == 1.0 for a, b in itertools.pairwise(starts))  # type: ignore[operator]


def test_kill_9_mid_run_leaves_a_consistent_database(
    tmp_path: Path, healthy_server: StatusServer
) -> None:
    services = {f"SERVICE_URL_s{i}": healthy_server.url for i in range(30)}
    env = exporter_env(
        tmp_path,
        healthy_server,
        LOOP_INTERVAL_SECONDS="0.5",
        SERVICE_TIMEOUT_SECONDS="0.3",
        **services,
    )
    db = tmp_path / "metrics.db"
    rng = random.Random(7)
    for _ in range(4):
        process = start(tmp_path, env)
        already = cycles_stored(db)
        wait_for(lambda n=already: cycles_stored(db) > n, timeout=20)
        time.sleep(rng.uniform(0.0, 0.5))  # land the kill at a random point of the cycle
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    partial = query(
        db,
        "SELECT c.id, COUNT(s.id) FROM monitoring_cycles c LEFT JOIN service_checks s "
        "ON s.cycle_id = c.id GROUP BY c.id HAVING COUNT(s.id) != 30",
    )
    assert partial == []


def test_overrun_skips_ticks_and_says_so(tmp_path: Path, healthy_server: StatusServer) -> None:
    """The process stalls for 2.5 s (SIGSTOP, as a paused VM would), so its cycle overruns.
    A held write lock no longer does: a cycle write waits at most half an interval for it."""
    env = exporter_env(tmp_path, healthy_server, SERVICE_URL_web=healthy_server.url)
    db = tmp_path / "metrics.db"
    process = start(tmp_path, env)
    try:
        wait_for(lambda: cycles_stored(db) >= 1, timeout=20)
        os.kill(process.pid, signal.SIGSTOP)
        time.sleep(2.5)
        os.kill(process.pid, signal.SIGCONT)
        wait_for(
            lambda: query(db, "SELECT SUM(skipped_ticks) FROM monitoring_cycles")[0][0], timeout=10
        )
        _, metrics = get(f"http://{env['EXPORTER_LISTEN']}/metrics")
    finally:
        stop(process)
    skipped = int(query(db, "SELECT SUM(skipped_ticks) FROM monitoring_cycles")[0][0])  # type: ignore[call-overload]
    assert skipped >= 1
    assert f"heartbeat_skipped_ticks_total {float(skipped)}" in metrics
    assert "cycle.overrun" in (tmp_path / "exporter.log").read_text()


def test_once_prints_a_table_and_exits_by_health(
    tmp_path: Path, healthy_server: StatusServer, failing_server: StatusServer
) -> None:
    env = exporter_env(tmp_path, healthy_server, SERVICE_URL_web=healthy_server.url)
    ok = run_cli(["heartbeat-exporter", "--once"], env, tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0].split() == ["service", "kind", "status", "latency", "reason"]
    assert ok.stdout.splitlines()[1].split()[:3] == ["web", "http", "healthy"]
    env["SERVICE_URL_api"] = failing_server.url
    bad = run_cli(["heartbeat-exporter", "--once"], env, tmp_path)
    assert bad.returncode == 1
    assert any(line.split()[:3] == ["api", "http", "error"] for line in bad.stdout.splitlines())
    assert not (tmp_path / "metrics.db").exists()


def test_busy_listen_address_is_a_clear_error(tmp_path: Path, healthy_server: StatusServer) -> None:
    env = exporter_env(tmp_path, healthy_server)
    env["EXPORTER_LISTEN"] = f"127.0.0.1:{healthy_server.port}"
    done = run_cli(["heartbeat-exporter"], env, tmp_path)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{healthy_server.port}" in done.stderr
