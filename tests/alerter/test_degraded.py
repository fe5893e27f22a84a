"""The degraded table: intermittent failures, isolated blips, and how down supersedes it."""

from __future__ import annotations

import pytest

from alerter.debounce import Change, ItemState, Policy, advance, observe
from alerter.degraded import reason
from tests.alerter.rulesutil import Seen, restarted, transitions

H, D, T, S = "healthy", "down", "timeout", "starting"
DEFAULTS = Policy(flap_changes=0)  # STATUS_CHANGE_THRESHOLD 4, DEGRADED_FAILURES 6 of 12
DG, CL = Change.DEGRADED, Change.DEGRADED_CLEARED
THREE_ONE = [D, D, D, H] * 10  # the pattern: 75 % failing for 40 cycles

CASES: list[tuple[str, Policy, list[str], list[Seen]]] = [
    (
        "3 fail / 1 pass x40: one degraded within 12 cycles, one clear after it ends",
        DEFAULTS,
        THREE_ONE + [H] * 20,
        # the 6th failure is cycle 6; the last failure (38) leaves the window at cycle 49
        [(6, DG, "degraded"), (49, CL, H)],
    ),
    ("one blip every 12 cycles: nothing", DEFAULTS, ([D] + [H] * 11) * 10, []),
    ("three failures every 12 cycles: nothing", DEFAULTS, ([D] * 3 + [H] * 9) * 10, []),
    ("five failures in 12: nothing", DEFAULTS, [D, H, D, H, D, H, D, H, D, H, H, H] * 5, []),
    (
        "every other cycle fails: degraded at the 6th failure",
        DEFAULTS,
        [D, H] * 6,
        [(10, DG, "degraded")],
    ),
    (
        "an outage then a recovery is never degraded",
        DEFAULTS,
        [H] * 3 + [D] * 10 + [H] * 20,
        [(6, Change.DOWN, D), (13, Change.RECOVERED, H)],
    ),
    (
        "down supersedes degraded: no separate clear",
        DEFAULTS,
        [D, D, D, H, D, D, D, D, D, D] + [H] * 20,
        [(6, DG, "degraded"), (7, Change.DOWN, D), (10, Change.RECOVERED, H)],
    ),
    (
        "the window restarts at a recovery: failures before the outage do not count",
        Policy(down_threshold=2, flap_changes=0),
        [D, H, D, H, D, H, D, D, H, D, H, D],
        [(7, Change.DOWN, D), (8, Change.RECOVERED, H)],
    ),
    (
        "a kind change counts like any failure",
        DEFAULTS,
        [D, T, D, H, T, D, T],
        [(6, DG, "degraded")],
    ),
    (
        "starting neither counts nor slides the window",
        DEFAULTS,
        [D, D, D, H, S, S, S, D, D, D],
        [(9, DG, "degraded")],
    ),
    (
        "clear needs at most one failure in the window",
        Policy(degraded_failures=3, degraded_window=5, flap_changes=0),
        [D, H, D, H, D, H, H, H, D, H, H, H],
        [(4, DG, "degraded"), (7, CL, H)],
    ),
    ("degraded rule off: nothing", Policy(degraded_failures=0, flap_changes=0), THREE_ONE, []),
]


@pytest.mark.parametrize(
    ("policy", "statuses", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_degraded_table(policy: Policy, statuses: list[str], expected: list[Seen]) -> None:
    assert transitions(statuses, policy) == expected


@pytest.mark.parametrize("at", [1, 5, 6, 7, 20, 40, 45])
def test_a_restart_mid_window_changes_nothing(at: int) -> None:
    statuses = THREE_ONE + [H] * 20
    assert restarted(statuses, DEFAULTS, at) == transitions(statuses, DEFAULTS)


def test_degraded_transition_carries_the_counted_failures() -> None:
    state = ItemState()
    for status in [D, H, D, H, D, H, D, H, D, H]:
        state, _ = advance(state, observe(status), DEFAULTS)
    state, transition = advance(state, observe(D), DEFAULTS)
    assert transition is not None and transition.failures == 6
    assert (transition.status, transition.previous_status) == ("degraded", "healthy")
    assert state.degraded and state.window == 0b10101010101


def test_a_steady_healthy_item_keeps_the_same_state_object() -> None:
    steady = ItemState(H, H, 0, 1, None)
    assert advance(steady, observe(H), DEFAULTS)[0] is steady


def test_reasons_in_both_languages() -> None:
    assert reason(6, 12, "en") == "6 of the last 12 checks failed"
    assert reason(6, 12, "es") == "6 de los últimos 12 chequeos fallaron"
