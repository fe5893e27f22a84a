"""Degraded, flapping and dependencies through the tail loop on a real SQLite file, restarts too."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from alerter import store
from alerter.debounce import ItemState
from hbmon.db import alerts
from hbmon.db.connection import open_database
from tests.alerter.conftest import Parts
from tests.alerter.dbutil import insert_cycle, outbox_rows

H, D = "healthy", "down"
THREE_ONE = [D, D, D, H] * 10 + [H] * 20
EVERY_5 = ([H] * 5 + [D] * 5) * 20 + [H] * 100
FLAPPED = [
    "service_down",
    "service_recovered",
    "service_down",
    "service_flapping",
    "service_flapping_ended",
]
DEFAULTS = {"down_threshold": 4, "recovery_threshold": 1, "flap_changes": 4}


def events(parts: Parts) -> list[str]:
    return [r[2] for r in outbox_rows(parts.db)]


def feed(parts: Parts, statuses: list[str]) -> None:
    for status in statuses:
        insert_cycle(parts.writer, {"api": status})
        parts.tailer.step()


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (THREE_ONE, ["service_degraded", "service_degraded_cleared"]),
        (
            EVERY_5,
            FLAPPED,
        ),
    ],
    ids=["degraded", "flapping"],
)
@pytest.mark.parametrize("restart_at", [None, 7, 21, 150])
def test_restarts_mid_window_send_the_same_alerts(
    make_parts: Callable[..., Parts],
    statuses: list[str],
    expected: list[str],
    restart_at: int | None,
) -> None:
    parts = make_parts(**DEFAULTS)
    parts.tailer.step()
    split = len(statuses) if restart_at is None else restart_at
    feed(parts, statuses[:split])
    parts.db.close()
    again = make_parts(**DEFAULTS)  # a restarted alerter: state only from the database
    feed(again, statuses[split:])
    assert events(again) == expected


def test_the_degraded_alert_carries_failures_and_window(make_parts: Callable[..., Parts]) -> None:
    parts = make_parts(**DEFAULTS)
    parts.tailer.step()
    feed(parts, [D, D, D, H, D, D, D])
    payload = json.loads(parts.db.execute_sql("SELECT payload FROM alert_outbox").fetchone()[0])
    assert (payload["event"], payload["failures"], payload["window"]) == ("service_degraded", 6, 12)
    assert payload["reason"] == "6 of the last 12 checks failed"


def test_a_degraded_window_is_written_only_while_it_changes(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(**DEFAULTS)
    parts.tailer.step()
    feed(parts, [D] + [H] * 12)
    query = "SELECT window_bits, updated_at FROM alert_items WHERE item = 'service:api'"
    bits, written_at = parts.db.execute_sql(query).fetchone()
    assert bits == 0
    feed(parts, [H] * 3)
    assert parts.db.execute_sql(query).fetchone() == (0, written_at)


def test_twenty_services_behind_the_internet_send_one_alert(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(**DEFAULTS)
    parts.tailer.step()
    names = [f"remote-{n:02d}" for n in range(20)]
    parents = dict.fromkeys(names, "internet")
    for internet in [H] + [D] * 6 + [H] * 2:
        insert_cycle(
            parts.writer, dict.fromkeys(names, internet), internet=internet, depends_on=parents
        )
    parts.tailer.step()
    assert events(parts) == ["internet_down", "internet_recovered"]
    payload = json.loads(parts.db.execute_sql("SELECT payload FROM alert_outbox").fetchone()[0])
    assert payload["affected"] == names and payload["item"] == "internet"


def test_version_2_items_gain_an_empty_window_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE alert_items (item TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT, "
            "baseline TEXT, failures INTEGER NOT NULL, successes INTEGER NOT NULL, "
            "alerted TEXT, updated_at REAL NOT NULL)"
        )
        conn.execute("CREATE TABLE schema_versions (component TEXT PRIMARY KEY, version INTEGER)")
        conn.execute("INSERT INTO schema_versions VALUES ('alerter', 2)")
        conn.execute(
            "INSERT INTO alert_items VALUES ('service:api', 'http', 'down', 'healthy', 7, 0, "
            "'down', 1.0)"
        )
    db = open_database(path)
    alerts.migrate(db)
    assert store.load_items(db) == {"service:api": ItemState("down", "healthy", 7, 0, "down")}
    db.close()


def test_a_restart_during_an_internet_outage_keeps_its_children_covered(
    make_parts: Callable[..., Parts],
) -> None:
    parts = make_parts(**DEFAULTS)
    parts.tailer.step()
    parents = {"api": "internet", "web": "internet"}
    for _ in range(5):
        insert_cycle(parts.writer, {"api": D, "web": D}, internet=D, depends_on=parents)
    parts.tailer.step()
    parts.db.close()
    again = make_parts(**DEFAULTS)
    for _ in range(3):
        insert_cycle(again.writer, {"api": D, "web": D}, internet=D, depends_on=parents)
    for _ in range(5):  # the internet is back; web recovered with it, api did not
        insert_cycle(again.writer, {"api": D, "web": H}, depends_on=parents)
    again.tailer.step()
    assert [(r[1], r[2]) for r in outbox_rows(again.db)] == [
        ("internet", "internet_down"),
        ("internet", "internet_recovered"),
        ("api", "service_down"),  # its 4th failure counted from the internet's recovery
    ]
