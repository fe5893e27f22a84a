"""The flapping table: changes counted in cycles, held while flapping, ended when quiet."""

from __future__ import annotations

import pytest

from alerter.debounce import Change, ItemState, Policy, advance, observe
from alerter.flapping import ended_reason, reason
from tests.alerter.rulesutil import Seen, restarted, transitions

H, D = "healthy", "down"
DEFAULTS = Policy()  # threshold 4, recovery 1, FLAP_CHANGES 4 within 90 cycles
DOWN, UP = Change.DOWN, Change.RECOVERED
FL, END = Change.FLAPPING, Change.FLAPPING_ENDED
EVERY_5 = ([H] * 5 + [D] * 5) * 20  # up/down every 5 cycles for 200 cycles

CASES: list[tuple[str, Policy, list[str], list[Seen]]] = [
    (
        "up/down every 5 cycles: down, recovered, down, flapping, silence, flapping_ended",
        DEFAULTS,
        EVERY_5 + [H] * 100,
        # the last held change is the recovery at cycle 200; quiet for 90 cycles after it
        [(8, DOWN, D), (10, UP, H), (18, DOWN, D), (20, FL, "flapping"), (290, END, H)],
    ),
    (
        "still failing when it ends: counts as alerted down, its recovery is alerted",
        DEFAULTS,
        EVERY_5[:100] + [D] * 200 + [H],
        [
            (8, DOWN, D),
            (10, UP, H),
            (18, DOWN, D),
            (20, FL, "flapping"),
            (188, END, D),
            (300, UP, H),
        ],
    ),
    (
        "changes further apart than the window are not flapping",
        DEFAULTS,
        ([H] * 96 + [D] * 4) * 3 + [H],
        [(99, DOWN, D), (100, UP, H), (199, DOWN, D), (200, UP, H), (299, DOWN, D), (300, UP, H)],
    ),
    (
        "three changes in the window are not flapping",
        DEFAULTS,
        [D] * 4 + [H] + [D] * 100,
        [(3, DOWN, D), (4, UP, H), (8, DOWN, D)],
    ),
    (
        "degraded and its clear are changes too",
        Policy(degraded_failures=2, degraded_window=3, flap_changes=3, flap_window=20),
        [D, H, D, H, H, H, D, D] + [H] * 40,
        [
            (2, Change.DEGRADED, "degraded"),
            (3, Change.DEGRADED_CLEARED, H),
            (7, FL, "flapping"),
            (29, END, H),
        ],
    ),
    (
        "after it ended, changes count from zero again",
        Policy(down_threshold=1, flap_changes=3, flap_window=10),
        [D, H, D] + [H] * 11 + [D, H, D, H],
        [
            (0, DOWN, D),
            (1, UP, H),
            (2, FL, "flapping"),
            (13, END, H),
            (14, DOWN, D),
            (15, UP, H),
            (16, FL, "flapping"),
        ],
    ),
    (
        "flapping rule off",
        Policy(down_threshold=1, flap_changes=0, degraded_failures=0),
        [D, H] * 3,
        [(0, DOWN, D), (1, UP, H), (2, DOWN, D), (3, UP, H), (4, DOWN, D), (5, UP, H)],
    ),
]


@pytest.mark.parametrize(
    ("policy", "statuses", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_flapping_table(policy: Policy, statuses: list[str], expected: list[Seen]) -> None:
    assert transitions(statuses, policy) == expected


@pytest.mark.parametrize("at", [9, 19, 20, 21, 150, 250, 289])
def test_a_restart_mid_window_changes_nothing(at: int) -> None:
    statuses = EVERY_5 + [H] * 100
    assert restarted(statuses, DEFAULTS, at) == transitions(statuses, DEFAULTS)


def test_flapping_alert_names_the_state_announced_before_it() -> None:
    state = ItemState()
    policy = Policy(down_threshold=1, flap_changes=2)
    state, _ = advance(state, observe(D), policy, position=1)
    state, transition = advance(state, observe(H), policy, position=2)
    assert transition is not None
    assert (transition.change, transition.status, transition.previous_status) == (FL, "flapping", D)
    assert state.flapping and state.changes == (2,)


def test_cycle_ids_starting_over_restart_the_quiet_window() -> None:
    flapping = ItemState(H, H, 0, 1, None, flapping=True, changes=(5000,))
    state, transition = advance(flapping, observe(H), DEFAULTS, position=3)
    assert transition is None and state.changes == (3,)
    state, transition = advance(state, observe(H), DEFAULTS, position=93)
    assert transition is not None and transition.change is END


def test_only_the_latest_changes_are_kept() -> None:
    state, _ = advance(
        ItemState(changes=(1, 2, 500)), observe(D), Policy(down_threshold=1), position=580
    )
    assert state.changes == (500, 580)  # 1 and 2 are more than FLAP_WINDOW_CYCLES ago


def test_reasons_in_both_languages() -> None:
    assert reason(4, 90, "en") == "changed state 4 times within 90 cycles"
    assert reason(4, 90, "es") == "cambió de estado 4 veces en 90 ciclos"
    assert ended_reason(90, "en") == "no state change for 90 cycles"
    assert ended_reason(90, "es") == "sin cambios de estado en 90 ciclos"
