"""The real `heartbeat-exporter` under real database trouble: a full tmpfs, another writer
holding the lock, immutable files (the -shm one included), a read-only bind mount, a file that is
not a database."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path

import pytest

from tests.exporter.test_exporter_process import cycles_stored, exporter_env, get, start, stop
from tests.mounts import disk_full, fill, immutable, locked, read_only, tmpfs
from tests.support import StatusServer, wait_for

pytestmark = pytest.mark.slow
INTERVAL = 1.0
MARGIN = 4.0  # on top of two intervals: the machine is shared and loaded


@pytest.fixture
def server() -> Iterator[StatusServer]:
    found = StatusServer(200)
    yield found
    found.close()


def events(tmp_path: Path, event: str) -> list[dict[str, object]]:
    lines = (tmp_path / "exporter.log").read_text().splitlines()
    found = [json.loads(line) for line in lines if line.startswith("{")]
    return [line for line in found if line.get("event") == event]


def health(env: dict[str, str]) -> tuple[int, dict[str, object]]:
    status, body = get(f"http://{env['EXPORTER_LISTEN']}/healthz")
    return status, (json.loads(body) if body else {})


def immutable_files(data: Path) -> AbstractContextManager[None]:
    # The -shm file too: SQLite maps it, and must not write to it once it is immutable (that
    # write was a SIGBUS that killed the process).
    return immutable(data / "metrics.db", data / "metrics.db-wal", data / "metrics.db-shm")


Condition = Callable[[Path], AbstractContextManager[object]]
RUNNING: list[tuple[str, Condition, str]] = [
    ("full_disk", disk_full, "disk_full"),
    ("locked", locked, "locked"),
    ("immutable", immutable_files, "read_only"),
    ("read_only_mount", read_only, "read_only"),
]


@pytest.mark.parametrize(
    ("condition", "reason"), [pytest.param(c, r, id=name) for name, c, r in RUNNING]
)
def test_trouble_turns_healthz_to_store_failing_once_logged_and_all_resumes(
    tmp_path: Path, server: StatusServer, condition: Condition, reason: str
) -> None:
    """Within two intervals, and never `stale` first: a held lock is waited on for half an
    interval, not for the whole 5 s busy_timeout."""
    data = tmp_path / "data"
    env = exporter_env(
        tmp_path,
        server,
        LOOP_INTERVAL_SECONDS=str(INTERVAL),
        SQLITE_DB_PATH=str(data / "metrics.db"),
        SERVICE_URL_web=server.url,
    )
    with ExitStack() as undo:
        undo.enter_context(tmpfs(data, "16m") if condition is disk_full else nullcontext(data))
        process = start(tmp_path, env)
        undo.callback(stop, process)
        wait_for(lambda: health(env)[0] == 200 and cycles_stored(data / "metrics.db"), timeout=20)
        seen: list[object] = []

        def failing_health() -> tuple[int, dict[str, object]] | None:
            answer = health(env)
            seen.append(answer[1].get("status"))
            return answer if answer[1].get("status") == "store_failing" else None

        with condition(data):
            began = time.monotonic()
            status, body = wait_for(failing_health, timeout=2 * INTERVAL + MARGIN)
            seen_after = time.monotonic() - began
            time.sleep(3 * INTERVAL)  # more refused cycles: still one log line
            assert process.poll() is None
            # The status page re-renders for each new cycle: an answer (503 when even reads
            # are refused), never a dropped connection.
            page_status = get(f"http://{env['EXPORTER_LISTEN']}/")[0]
            seen.append(health(env)[1].get("status"))
        cleared = time.monotonic()
        wait_for(lambda: health(env)[0] == 200, timeout=2 * INTERVAL + MARGIN)
        resumed_after = time.monotonic() - cleared
        backlog = wait_for(lambda: health(env)[1].get("backlog_cycles") == 0, timeout=5)
        metrics = get(f"http://{env['EXPORTER_LISTEN']}/metrics")[1]
    assert backlog
    assert set(seen) <= {"ok", "store_failing"}, seen
    assert (status, body["status"], body["store_error"]) == (503, "store_failing", reason)
    assert [e["reason"] for e in events(tmp_path, "cycle.store_failed")] == [reason]
    assert page_status in (200, 503)
    assert "cannot rollback" not in (tmp_path / "exporter.log").read_text()
    assert "Traceback" not in (tmp_path / "exporter.log").read_text()
    assert len(events(tmp_path, "cycle.store_recovered")) == 1
    assert f'heartbeat_store_errors_total{{process="exporter",reason="{reason}"}}' in metrics
    print(f"{reason}: 503 after {seen_after:.1f} s, 200 again {resumed_after:.1f} s after clearing")


def run_to_exit(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["heartbeat-exporter"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def assert_start_failed(done: subprocess.CompletedProcess[str], reason: str) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    lines = [json.loads(line) for line in output.splitlines() if "start_failed" in line]
    assert [(line["event"], line["reason"]) for line in lines] == [
        ("exporter.start_failed", reason)
    ], output


def start_env(tmp_path: Path, server: StatusServer, db: Path) -> dict[str, str]:
    return exporter_env(tmp_path, server, SQLITE_DB_PATH=str(db), SERVICE_URL_web=server.url)


def test_not_a_database_fails_at_start_in_one_line(tmp_path: Path, server: StatusServer) -> None:
    db = tmp_path / "metrics.db"
    db.write_bytes(b"not a database, " * 512)
    assert_start_failed(run_to_exit(tmp_path, start_env(tmp_path, server, db)), "corrupt")


def test_read_only_mount_fails_at_start_in_one_line(tmp_path: Path, server: StatusServer) -> None:
    data = tmp_path / "data"
    data.mkdir()
    with read_only(data):
        done = run_to_exit(tmp_path, start_env(tmp_path, server, data / "metrics.db"))
    assert_start_failed(done, "cannot_open")


def test_immutable_database_fails_at_start_in_one_line(
    tmp_path: Path, server: StatusServer
) -> None:
    db = tmp_path / "metrics.db"
    sqlite3.connect(db).close()
    with immutable(db):
        done = run_to_exit(tmp_path, start_env(tmp_path, server, db))
    assert_start_failed(done, "read_only")


def test_immutable_shm_file_fails_at_start_in_one_line(
    tmp_path: Path, server: StatusServer
) -> None:
    """Another connection keeps the -shm file; made immutable, it would be a SIGBUS once
    mapped: the exporter refuses it before SQLite maps it."""
    db = tmp_path / "metrics.db"
    holder = sqlite3.connect(db, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode = wal")
        holder.execute("CREATE TABLE kept (v INTEGER)")
        with immutable(tmp_path / "metrics.db-shm"):
            done = run_to_exit(tmp_path, start_env(tmp_path, server, db))
    finally:
        holder.close()
    assert_start_failed(done, "read_only")
    assert "metrics.db-shm" in done.stdout + done.stderr


def test_full_disk_fails_at_start_in_one_line(tmp_path: Path, server: StatusServer) -> None:
    with tmpfs(tmp_path / "data", "1m") as data:
        filler = fill(data)
        try:
            done = run_to_exit(tmp_path, start_env(tmp_path, server, data / "metrics.db"))
        finally:
            filler.unlink()
    assert_start_failed(done, "disk_full")
