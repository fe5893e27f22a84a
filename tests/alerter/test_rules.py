"""The pure rules over a cycle: services absent from it are retired, nothing is sent."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from alerter.debounce import ItemState, Policy
from alerter.payload import Context
from alerter.rules import EXPORTER, WORKER, absent_services, cycle_effects
from hbmon.db.records import Check, Cycle

CONTEXT = Context("en", ZoneInfo("UTC"), "host-1", "1.2.3")
ALERTED = ItemState("down", "healthy", 5, 0, "down")
COUNTING = ItemState("down", "healthy", 2, 0, None)
HEALTHY = ItemState("healthy", "healthy", 0, 3, None)
STEADY = ItemState("healthy", "healthy", 0, 1, None)  # streak capped at the threshold


def cycle(*names: str) -> Cycle:
    checks = tuple(Check(name, "http", "healthy", 200, 1.0, None) for name in names)
    return Cycle(7, 100.0, 101.0, "healthy", checks)


@pytest.mark.parametrize(
    ("states", "present", "retired"),
    [
        ({"service:api": ALERTED}, ("api",), {}),
        ({"service:api": ALERTED}, (), {"service:api": ALERTED}),
        ({"service:api": COUNTING, "service:web": HEALTHY}, ("web",), {"service:api": COUNTING}),
        ({WORKER: ALERTED, EXPORTER: ALERTED}, (), {}),  # not services: never retired
    ],
)
def test_services_absent_from_the_cycle_are_retired(
    states: dict[str, ItemState], present: tuple[str, ...], retired: dict[str, ItemState]
) -> None:
    assert absent_services(states, cycle(*present)) == retired


def test_retiring_an_alerted_service_sends_nothing() -> None:
    states = {"service:api": ALERTED, "internet": STEADY}
    effects = cycle_effects(states, cycle("web"), Policy(), CONTEXT)
    assert effects.alerts == []
    assert effects.retired == {"service:api": ALERTED}
    assert [u.item for u in effects.updates] == ["service:web"]


def test_a_steady_item_produces_no_update() -> None:
    states = {"service:api": STEADY, "internet": STEADY}
    effects = cycle_effects(states, cycle("api"), Policy(), CONTEXT)
    assert effects.updates == []
    assert effects.alerts == []
