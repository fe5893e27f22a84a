"""WriteWatch: woken by another connection's commit to the database, not by other files."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hbmon.db.connection import open_database
from hbmon.db.watch import WriteWatch


def later(action: Callable[[], None], delay: float = 0.2) -> threading.Thread:
    thread = threading.Thread(target=lambda: (time.sleep(delay), action()))
    thread.start()
    return thread


def timed_wait(watch: WriteWatch, timeout: float) -> tuple[bool, float]:
    began = time.monotonic()
    woken = watch.wait(timeout)
    return woken, time.monotonic() - began


def commit_a_row(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO t VALUES (1)")


def test_another_connections_commit_wakes_the_wait(tmp_path: Path) -> None:
    path = tmp_path / "metrics.db"
    reader = open_database(path)  # WAL mode, as both processes open it
    reader.execute_sql("CREATE TABLE t (x)")
    watch = WriteWatch(path)
    assert watch.active, watch.problem
    assert watch.mode == "inotify"
    writer = later(lambda: commit_a_row(path))
    woken, waited = timed_wait(watch, 5.0)
    writer.join()
    watch.close()
    reader.close()
    assert woken
    assert waited < 4.0, waited  # woken by the commit, not by the timeout


def test_writes_to_other_files_of_the_directory_do_not_wake_it(tmp_path: Path) -> None:
    watch = WriteWatch(tmp_path / "metrics.db")
    log = tmp_path / "exporter.log"
    writer = later(lambda: log.write_text("a line\n"), delay=0.05)
    woken, waited = timed_wait(watch, 0.5)
    writer.join()
    watch.close()
    assert not woken
    assert waited >= 0.5


def test_without_a_directory_to_watch_it_is_inactive_and_names_why(tmp_path: Path) -> None:
    watch = WriteWatch(tmp_path / "missing" / "metrics.db")
    assert not watch.active
    assert watch.problem is not None
    assert "No such file or directory" in watch.problem
    assert watch.mode == f"poll only: {watch.problem}"
    assert watch.wait(5.0) is False  # at once: the caller waits on its own
