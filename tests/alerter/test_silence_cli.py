"""`heartbeat-alerter silence ...` as a user runs it, against a real database file."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.alerter.dbutil import alerter_db, insert_cycle
from tests.alerter.proc import ALERTER, alerter_env


def silence(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ALERTER, "silence", *args],
        check=False,
        env=alerter_env(tmp_path, **{"TZ": "UTC", **env}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    db = alerter_db(tmp_path / "metrics.db")
    insert_cycle(db, {"web-1": "healthy", "web-2": "down", "api": "healthy"})
    db.close()
    return tmp_path / "metrics.db"


def rows(path: Path) -> list[tuple[int, str, float, float, str]]:
    with sqlite3.connect(path) as conn:
        query = "SELECT id, pattern, starts_at, ends_at, reason FROM alert_silences ORDER BY id"
        return [tuple(r) for r in conn.execute(query)]  # type: ignore[misc]


def test_add_for_a_duration_stores_it_and_names_the_items_it_matches(
    tmp_path: Path, db_path: Path
) -> None:
    before = time.time()
    done = silence(tmp_path, "add", "web-*", "--for", "1h30m", "--reason", "deploy  v2")
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(
        r"silence 1: web-\* until \S+\+00:00: deploy v2\nmatches now: web-1, web-2\n", done.stdout
    )
    ((_, pattern, starts_at, ends_at, reason),) = rows(db_path)
    assert (pattern, reason) == ("web-*", "deploy v2")
    assert before <= starts_at <= time.time() and ends_at - starts_at == pytest.approx(5400)


def test_add_until_reads_a_time_without_offset_in_tz(tmp_path: Path, db_path: Path) -> None:
    done = silence(
        tmp_path,
        "add",
        "worker",
        "--until",
        "2099-01-01T12:00",
        "--reason",
        "r",
        TZ="Europe/Madrid",
    )
    assert done.returncode == 0, done.stderr
    assert "until 2099-01-01T12:00:00+01:00" in done.stdout and "matches now: worker" in done.stdout
    assert rows(db_path)[0][3] == 4070948400.0  # 2099-01-01T11:00Z


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "api", "--for", "2x", "--reason", "r"), "'2x' is not a duration"),
        (("add", "api", "--for", "0m", "--reason", "r"), "the duration must be more than 0"),
        (("add", "api", "--until", "tomorrow", "--reason", "r"), "'tomorrow' is not an ISO-8601"),
        (("add", "api", "--until", "2001-01-01T00:00", "--reason", "r"), "is not in the future"),
        (
            ("add", "service:api", "--for", "1h", "--reason", "r"),
            "write the name as alerts show it: 'api'",
        ),
        (("add", "web-[12", "--for", "1h", "--reason", "r"), "unbalanced [ ] in the glob"),
        (("add", "my api", "--for", "1h", "--reason", "r"), "without spaces"),
        (("add", "api", "--for", "1h", "--reason", "  "), "--reason must say why"),
        (("add", "api", "--reason", "r"), "one of the arguments --for --until is required"),
        (
            ("add", "api", "--for", "1h", "--until", "2099-01-01", "--reason", "r"),
            "not allowed with",
        ),
        (("expire", "7"), "no silence 7"),
        (("expire", "one"), "invalid int value"),
    ],
)
def test_bad_arguments_exit_2_with_one_clear_line(
    tmp_path: Path, db_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = silence(tmp_path, *args)
    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr
    assert rows(db_path) == []


def test_no_database_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    done = silence(tmp_path, "list")
    assert done.returncode == 2
    assert "no database at" in done.stderr and not (tmp_path / "metrics.db").exists()


def test_list_and_expire(tmp_path: Path, db_path: Path) -> None:
    assert silence(tmp_path, "list").stdout == "no silences in effect\n"
    assert silence(tmp_path, "add", "api", "--for", "2h", "--reason", "move").returncode == 0
    assert silence(tmp_path, "add", "web-*", "--for", "1d", "--reason", "deploy").returncode == 0
    listed = silence(tmp_path, "list").stdout.splitlines()
    assert [line.split("\t")[:3] for line in listed] == [
        ["1", "api", "active"],
        ["2", "web-*", "active"],
    ]
    assert listed[0].endswith("\tmove")
    done = silence(tmp_path, "expire", "1")
    assert done.returncode == 0 and done.stdout.startswith("silence 1 (api) ended at ")
    again = silence(tmp_path, "expire", "1")
    assert again.returncode == 0 and "had already ended" in again.stdout
    assert [line.split("\t")[1] for line in silence(tmp_path, "list").stdout.splitlines()] == [
        "web-*"
    ]
    every = silence(tmp_path, "list", "--all").stdout.splitlines()
    assert [line.split("\t")[2] for line in every] == ["ended", "active"]
