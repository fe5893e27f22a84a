"""Reminders as pure functions: what opens and closes a problem, when repeats are due."""

from __future__ import annotations

import pytest

from alerter.model import REMINDER_SUFFIX, Event, NewAlert, ReminderEvent
from alerter.reminders import REMINDED, Reminder, due, opens, repeat, track
from tests.alerter.quietutil import alert

DOWN, UP = Event.SERVICE_DOWN, Event.SERVICE_RECOVERED
WORKER = Event.WORKER_STATUS_CHANGED
OPEN = Reminder(alert("api", DOWN, at=10), 10.0, 0, 10.0)
Expected = dict[str, tuple[str, int] | None]  # item -> (original event, sent), None: closed

TRACKING: dict[str, tuple[dict[str, Reminder], list[NewAlert], Expected]] = {
    "a down opens one": ({}, [alert("api", DOWN, at=20)], {"api": ("service_down", 0)}),
    "a recovery closes it": ({"api": OPEN}, [alert("api", UP, at=20)], {"api": None}),
    "a recovery of an item without one changes nothing": ({}, [alert("api", UP)], {}),
    "down then recovered in one step: closed": (
        {},
        [alert("api", DOWN, at=20), alert("api", UP, at=20)],
        {"api": None},
    ),
    "degraded then down: the down replaces it": (
        {"api": Reminder(alert("api", Event.SERVICE_DEGRADED, "error"), 1.0, 3, 5.0)},
        [alert("api", DOWN, at=20)],
        {"api": ("service_down", 0)},
    ),
    "flapping opens, flapping ended closes": (
        {"api": Reminder(alert("api", Event.SERVICE_FLAPPING), 1.0, 1, 5.0)},
        [alert("api", Event.SERVICE_FLAPPING_ENDED, "down", at=20)],
        {"api": None},
    ),
    "a certificate warning neither opens nor closes": (
        {"api": OPEN},
        [alert("api", Event.CERTIFICATE_EXPIRING, "healthy")],
        {},
    ),
    "worker failing opens, worker healthy closes": (
        {"exporter": Reminder(alert("exporter", Event.EXPORTER_STALLED, "stalled"), 1, 0, 1)},
        [alert("worker", WORKER, "error", at=20), alert("exporter", Event.EXPORTER_RECOVERED)],
        {"worker": ("worker_status_changed", 0), "exporter": None},
    ),
    "internet down and Docker unreachable open theirs": (
        {},
        [alert("internet", Event.INTERNET_DOWN), alert("docker", Event.DOCKER_UNREACHABLE)],
        {"internet": ("internet_down", 0), "docker": ("docker_unreachable", 0)},
    ),
}


@pytest.mark.parametrize("name", TRACKING)
def test_tracking(name: str) -> None:
    reminders, sent, expected = TRACKING[name]
    changes = track(reminders, sent, now=20.0)
    assert {
        item: None if r is None else (str(r.original.event), r.sent) for item, r in changes.items()
    } == expected
    assert all(r is None or r.opened_at == r.last_at == 20.0 for r in changes.values())


def test_opens_exactly_the_problem_events() -> None:
    assert {e for e in Event if opens(alert("x", e, "down"))} == set(REMINDED)
    assert not opens(alert("worker", WORKER, "healthy"))


def test_reminder_events_are_their_originals_with_the_suffix() -> None:
    assert {str(r) for r in ReminderEvent} == {f"{e}{REMINDER_SUFFIX}" for e in REMINDED}
    assert all(str(r) == f"{e}{REMINDER_SUFFIX}" for e, r in REMINDED.items())


def never(_item: str) -> bool:
    return False


@pytest.mark.parametrize(
    ("now", "every", "count"),
    [(100.0, 0.0, 0), (69.9, 60.0, 0), (70.0, 60.0, 1), (1000.0, 60.0, 1)],
    ids=["off", "not yet", "due", "long overdue: still one"],
)
def test_due_once_every_period(now: float, every: float, count: int) -> None:
    alerts, changes = due({"api": OPEN}, now=now, every=every, silenced=never, language="en")
    assert len(alerts) == len(changes) == count
    assert all(c.sent == 1 and c.last_at == now for c in changes.values())


def test_silenced_items_get_no_reminder() -> None:
    alerts, changes = due(
        {"api": OPEN}, now=100.0, every=60.0, silenced=lambda i: i == "api", language="en"
    )
    assert alerts == [] and changes == {}


def test_repeats_have_distinct_ids_stable_across_restarts() -> None:
    first, after_first = due({"api": OPEN}, now=70.0, every=60.0, silenced=never, language="en")
    second, _ = due(after_first, now=130.0, every=60.0, silenced=never, language="en")
    ids = [first[0].alert_id, second[0].alert_id]
    assert len({OPEN.original.alert_id, *ids}) == 3
    # A restarted alerter reloads the original and the count: the same ids again.
    assert [repeat(OPEN.original, n, "en").alert_id for n in (1, 2)] == ids


def test_a_repeat_is_its_original_with_event_title_count_and_since() -> None:
    original = alert("api", DOWN, at=10)
    repeated = repeat(original, 2, "en")
    assert (repeated.event, repeated.item, repeated.cycle_id) == (
        ReminderEvent.SERVICE_DOWN,
        "api",
        10,
    )
    assert repeated.body == {
        **original.body,
        "id": repeated.alert_id,
        "event": "service_down_reminder",
        "title": "⏰ Reminder #2: service_down: api",
        "reminder": 2,
        "since": 10,
    }
    assert repeat(original, 3, "es").body["title"] == "⏰ Recordatorio n.º 3: service_down: api"


def test_due_orders_by_opening() -> None:
    later = Reminder(alert("web", DOWN, at=5), 5.0, 0, 5.0)
    alerts, _ = due({"web": later, "api": OPEN}, now=100, every=1, silenced=never, language="en")
    assert [a.item for a in alerts] == ["web", "api"]
