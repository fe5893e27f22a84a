"""Silences as a pure filter: which alerts a window holds, and the one catch-up it owes."""

from __future__ import annotations

import dataclasses

import pytest

from alerter.model import Event, NewAlert
from alerter.silences import Category, QuietItem, Silence, catch_up, category, gate, settle
from tests.alerter.quietutil import CONTEXT, alert

DOWN, UP = Event.SERVICE_DOWN, Event.SERVICE_RECOVERED
WORKER = Event.WORKER_STATUS_CHANGED
WINDOW = (Silence(1, "web-*", 100.0, 200.0), Silence(2, "worker", 100.0, 200.0))
TICK = "tick"
Step = tuple[float, NewAlert] | tuple[float, str]


def run(steps: list[Step]) -> list[tuple[str, str, bool]]:
    """Fold steps through gate (an alert) and settle (a poll): (event, item, catch-up) sent."""
    items: dict[str, QuietItem] = {}
    sent: list[NewAlert] = []
    for at, step in steps:
        if isinstance(step, NewAlert):
            out = gate(items, [step], WINDOW, now=at, context=CONTEXT)
        else:
            out = settle(items, WINDOW, now=at, context=CONTEXT)
        items.update(out.items)
        sent += out.sent
    return [(str(a.event), a.item, "silenced_until" in a.body) for a in sent]


SCENARIOS: dict[str, tuple[list[Step], list[tuple[str, str, bool]]]] = {
    "down and recovered inside the window: nothing": (
        [(110, alert("web-1", DOWN, at=110)), (150, alert("web-1", UP, at=150)), (201, TICK)],
        [],
    ),
    "down inside, still down at the end: one catch-up": (
        [(110, alert("web-1", DOWN, at=110)), (150, TICK), (201, TICK), (202, TICK)],
        [("service_down", "web-1", True)],
    ),
    "down announced before, recovered inside: catch-up recovery": (
        [(50, alert("web-1", DOWN, at=50)), (150, alert("web-1", UP, at=150)), (201, TICK)],
        [("service_down", "web-1", False), ("service_recovered", "web-1", True)],
    ),
    "down before, recovered then down again inside: nothing more": (
        [
            (50, alert("web-1", DOWN, at=50)),
            (120, alert("web-1", UP, at=120)),
            (150, alert("web-1", DOWN, at=150)),
            (201, TICK),
        ],
        [("service_down", "web-1", False)],
    ),
    "an item the glob does not match alerts as usual": (
        [(110, alert("web", DOWN, at=110)), (120, alert("api", DOWN, at=120))],
        [("service_down", "web", False), ("service_down", "api", False)],
    ),
    "an alert after the end, before any poll: catch-up first, then it": (
        [(110, alert("web-1", DOWN, at=110)), (205, alert("web-1", UP, at=205))],
        [("service_down", "web-1", True), ("service_recovered", "web-1", False)],
    ),
    "a certificate warning inside the window is dropped for good": (
        [(110, alert("web-1", Event.CERTIFICATE_EXPIRING, "healthy", at=110)), (201, TICK)],
        [],
    ),
    "worker error and back inside the window: nothing": (
        [
            (110, alert("worker", WORKER, "error", at=110)),
            (130, alert("worker", WORKER, "healthy", at=130)),
            (201, TICK),
        ],
        [],
    ),
    "worker alerted before, healthy inside: catch-up healthy": (
        [
            (50, alert("worker", WORKER, "error", at=50)),
            (130, alert("worker", WORKER, "healthy", at=130)),
            (201, TICK),
        ],
        [("worker_status_changed", "worker", False), ("worker_status_changed", "worker", True)],
    ),
    "degraded inside, cleared inside: nothing": (
        [
            (110, alert("web-1", Event.SERVICE_DEGRADED, "error", at=110)),
            (150, alert("web-1", Event.SERVICE_DEGRADED_CLEARED, at=150)),
            (201, TICK),
        ],
        [],
    ),
    "the window's start is inclusive and its end exclusive": (
        [(100, alert("web-1", DOWN, at=100)), (200, alert("web-2", DOWN, at=200))],
        [("service_down", "web-2", False)],
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_silence_scenario(name: str) -> None:
    steps, expected = SCENARIOS[name]
    assert run(steps) == expected


def test_catch_up_is_the_held_alert_under_a_new_stable_id_with_its_window() -> None:
    held = alert("web-1", DOWN, at=110)
    first = gate({}, [held], WINDOW, now=110, context=CONTEXT)
    assert first.sent == [] and first.held == [held]
    assert first.items["web-1"] == QuietItem(None, held, 100.0)
    out = settle(first.items, WINDOW, now=201, context=CONTEXT)
    (sent,) = out.sent
    assert sent.alert_id != held.alert_id and sent.alert_id == sent.body["id"]
    assert sent.alert_id == catch_up(held, 100.0, 300, CONTEXT).alert_id  # stable
    assert (sent.event, sent.item, sent.cycle_id) == (DOWN, "web-1", 110)
    assert sent.body["silenced_from"] == 100.0 and sent.body["silenced_until"] == 201
    assert sent.body["message"] == (
        "**Item:** web-1\n**Silenced:** 1970-01-01T00:01:40+00:00 → 1970-01-01T00:03:21+00:00"
    )
    assert {k: v for k, v in sent.body.items() if k not in ("id", "message")} == {
        **{k: v for k, v in held.body.items() if k not in ("id", "message")},
        "silenced_from": 100.0,
        "silenced_until": 201,
    }
    assert out.items == {"web-1": QuietItem(Category.PROBLEM)}


def test_catch_up_message_speaks_spanish() -> None:
    context = dataclasses.replace(CONTEXT, language="es")
    sent = catch_up(alert("web-1", DOWN, at=110), 100.0, 201, context)
    assert sent.body["message"].endswith(
        "**Silenciado:** 1970-01-01T00:01:40+00:00 → 1970-01-01T00:03:21+00:00"
    )


def test_the_last_held_alert_wins_and_the_first_silence_start_stays() -> None:
    items = {"web-1": QuietItem(Category.OK, alert("web-1", DOWN, at=110), 100.0)}
    later = (Silence(3, "web-1", 150.0, 300.0),)
    out = gate(items, [alert("web-1", UP, at=160)], later, now=160, context=CONTEXT)
    assert out.items["web-1"].silenced_from == 100.0
    assert out.items["web-1"].held == alert("web-1", UP, at=160)


def test_settle_leaves_items_still_silenced() -> None:
    items = {"web-1": QuietItem(None, alert("web-1", DOWN, at=110), 100.0)}
    assert settle(items, WINDOW, now=150, context=CONTEXT).items == {}


CATEGORIES = [
    (alert("a", DOWN), Category.PROBLEM),
    (alert("a", UP), Category.OK),
    (alert("a", Event.SERVICE_DEGRADED, "error"), Category.PROBLEM),
    (alert("a", Event.SERVICE_DEGRADED_CLEARED), Category.OK),
    (alert("a", Event.SERVICE_FLAPPING, "down"), Category.PROBLEM),
    (alert("a", Event.SERVICE_FLAPPING_ENDED, "down"), Category.PROBLEM),
    (alert("a", Event.SERVICE_FLAPPING_ENDED, "healthy"), Category.OK),
    (alert("internet", Event.INTERNET_DOWN), Category.PROBLEM),
    (alert("internet", Event.INTERNET_RECOVERED, "healthy"), Category.OK),
    (alert("docker", Event.DOCKER_UNREACHABLE), Category.PROBLEM),
    (alert("docker", Event.DOCKER_RECOVERED, "healthy"), Category.OK),
    (alert("exporter", Event.EXPORTER_STALLED, "stalled"), Category.PROBLEM),
    (alert("exporter", Event.EXPORTER_RECOVERED), Category.OK),
    (alert("worker", WORKER, "timeout"), Category.PROBLEM),
    (alert("worker", WORKER, "healthy"), Category.OK),
    (alert("a", Event.CERTIFICATE_EXPIRING, "healthy"), None),
    (alert("a", Event.CERTIFICATE_RENEWED, "healthy"), None),
]


@pytest.mark.parametrize(
    ("given", "expected"), CATEGORIES, ids=lambda v: str(getattr(v, "event", v))
)
def test_category_of_every_event(given: NewAlert, expected: Category | None) -> None:
    assert category(given) == expected


def test_every_event_has_a_category_decision() -> None:
    assert {str(a.event) for a, _ in CATEGORIES} == {str(e) for e in Event}
