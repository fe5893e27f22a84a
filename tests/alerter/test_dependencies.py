"""Dependencies, folded over whole cycles: internet and docker items, cover and `affected`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from alerter.debounce import ItemState, Policy
from alerter.dependencies import ordered
from alerter.payload import Context
from alerter.rules import cycle_effects, remember
from hbmon.db.records import Check, Cycle

CONTEXT = Context("en", ZoneInfo("UTC"), "host-1", "1.2.3")
POLICY = Policy(flap_changes=0)  # STATUS_CHANGE_THRESHOLD 4, RECOVERY_THRESHOLD 1
H, D = "healthy", "down"
NAMES = [f"remote-{n:02d}" for n in range(20)]

# A cycle: (internet status, container count, {service: (status, depends_on, kind)})
Spec = tuple[str, int | None, dict[str, tuple[str, str | None, str]]]


def run(specs: Sequence[Spec], policy: Policy = POLICY) -> list[tuple[int, str, str, Any]]:
    """(cycle index, event, item, affected) of every alert, cycle by cycle."""
    states: dict[str, ItemState] = {}
    out = []
    for index, (internet, containers, services) in enumerate(specs):
        checks = tuple(
            Check(name, kind, status, None, 1.0, None, None, parent)
            for name, (status, parent, kind) in services.items()
        )
        cycle = Cycle(index + 1, 100.0 + index, 101.0 + index, internet, checks, 1.0, containers)
        effects = cycle_effects(states, cycle, policy, CONTEXT)
        remember(states, effects)
        out += [(index, a.event.value, a.item, a.body.get("affected")) for a in effects.alerts]
    return out


def remote(status: str, names: list[str] = NAMES) -> dict[str, tuple[str, str | None, str]]:
    return {name: (status, "internet", "http") for name in names}


def test_twenty_services_behind_a_failing_internet_send_one_internet_down() -> None:
    specs: Sequence[Spec] = [(H, None, remote(H))] * 2 + [(D, None, remote(D))] * 10
    specs += [(H, None, remote(H))] * 5
    assert run(specs) == [
        (5, "internet_down", "internet", NAMES),
        (12, "internet_recovered", "internet", None),
    ]


def test_a_child_failing_a_cycle_before_its_parent_is_held_not_alerted() -> None:
    early = remote(H) | {"remote-00": (D, "internet", "http")}
    specs: Sequence[Spec] = [(H, None, remote(H)), (H, None, early)] + [(D, None, remote(D))] * 6
    assert run(specs) == [(5, "internet_down", "internet", NAMES)]


def test_a_child_still_failing_after_the_parent_recovers_alerts_after_its_threshold() -> None:
    still = remote(H) | {"remote-03": (D, "internet", "http")}
    specs: Sequence[Spec] = [(D, None, remote(D))] * 4 + [(H, None, still)] * 6
    assert run(specs) == [
        (3, "internet_down", "internet", NAMES),
        (4, "internet_recovered", "internet", None),
        (7, "service_down", "remote-03", None),  # 4 failures counted from the recovery
    ]


def test_a_child_failing_only_after_the_parent_alerted_is_covered_and_not_listed() -> None:
    later = remote(H, NAMES[:2]) | remote(D, NAMES[2:3])
    specs: Sequence[Spec] = [(D, None, remote(H, NAMES[:2]) | remote(H, NAMES[2:3]))] * 4
    specs += [(D, None, later)] * 6 + [(H, None, remote(H, NAMES[:3]))]
    assert run(specs) == [
        (3, "internet_down", "internet", []),
        (10, "internet_recovered", "internet", None),
    ]


def test_internet_down_is_alerted_without_any_dependent() -> None:
    specs: Sequence[Spec] = [(D, None, {"api": (H, None, "http")})] * 4
    assert run(specs) == [(3, "internet_down", "internet", [])]


def docker(status: str, *names: str) -> dict[str, tuple[str, str | None, str]]:
    return {name: (status, "docker", "docker") for name in names}


def test_an_unreachable_engine_sends_one_docker_unreachable() -> None:
    specs: Sequence[Spec] = [(H, 2, docker(H, "db", "cache"))] + [
        (H, None, docker("unknown", "db", "cache"))
    ] * 5
    specs += [(H, 2, docker(H, "db", "cache"))]
    assert run(specs) == [
        (4, "docker_unreachable", "docker", ["cache", "db"]),
        (6, "docker_recovered", "docker", None),
    ]


def test_no_docker_service_no_docker_item() -> None:
    specs: Sequence[Spec] = [(H, None, {"api": (H, None, "http")})] * 6
    assert run(specs) == []


def test_a_service_parent_is_decided_before_its_children_whatever_the_order() -> None:
    services = {"api": (D, "db", "http"), "web": (D, "api", "http"), "db": (D, None, "http")}
    specs: Sequence[Spec] = [(H, None, services)] * 6
    # `affected` lists direct dependents; web, behind api, is covered too
    assert run(specs) == [(3, "service_down", "db", ["api"])]


def test_a_service_without_dependents_keeps_its_exact_payload_shape() -> None:
    specs: Sequence[Spec] = [(H, None, {"api": (D, None, "http")})] * 4
    assert run(specs) == [(3, "service_down", "api", None)]


def test_degraded_is_suppressed_under_a_failing_parent() -> None:
    pattern = [D, D, D, H] * 6
    specs: Sequence[Spec] = [(s, None, {"api": (s, "internet", "http")}) for s in pattern]
    events = [e for _, e, _, _ in run(specs, Policy())]
    assert "service_degraded" not in events and "service_down" not in events


@pytest.mark.parametrize(
    ("deps", "order"),
    [
        ({"a": None, "b": None}, ["a", "b"]),
        ({"a": "b", "b": None}, ["b", "a"]),
        ({"a": "b", "b": "c", "c": None}, ["c", "b", "a"]),
        ({"a": "b", "b": "a"}, ["b", "a"]),  # a loop: refused by the exporter, no crash here
        ({"a": "gone", "b": "internet"}, ["a", "b"]),
    ],
)
def test_checks_are_ordered_parents_first(deps: dict[str, str | None], order: list[str]) -> None:
    checks = tuple(Check(n, "http", H, None, None, None, None, p) for n, p in deps.items())
    assert [c.name for c in ordered(checks)] == order


def test_steady_items_under_steady_parents_produce_no_update() -> None:
    steady = ItemState(H, H, 0, 1, None)
    states = {"internet": steady, "docker": steady, "service:db": steady, "service:api": steady}
    checks = (
        Check("api", "http", H, 200, 1.0, None, None, "db"),
        Check("db", "docker", H, None, 1.0, None, None, "docker"),
    )
    effects = cycle_effects(states, Cycle(9, 1.0, 2.0, H, checks, 1.0, 1), POLICY, CONTEXT)
    assert (effects.updates, effects.alerts, effects.retired) == ([], [], {})
