"""The debounce table: sequences of observations and the transitions they must (not) produce."""

from __future__ import annotations

import pytest

from alerter.debounce import Change, ItemState, Policy, advance, observe
from alerter.worker import worker_observation

H, D, T, E, U, S = "healthy", "down", "timeout", "error", "unknown", "starting"


def run(statuses: list[str], policy: Policy) -> list[tuple[int, Change, str, str | None]]:
    """Fold statuses through `advance`; return (index, change, status, previous) per transition."""
    state = ItemState()
    out = []
    for index, status in enumerate(statuses):
        state, transition = advance(state, observe(status), policy)
        if transition is not None:
            out.append((index, transition.change, transition.status, transition.previous_status))
    return out


# The consecutive-failure rule alone: degraded and flapping have their own tables.
ONLY_DOWN = {"degraded_failures": 0, "flap_changes": 0}
P4 = Policy(down_threshold=4, recovery_threshold=1, **ONLY_DOWN)
P4R3 = Policy(down_threshold=4, recovery_threshold=3, **ONLY_DOWN)
P1 = Policy(down_threshold=1, recovery_threshold=1, **ONLY_DOWN)

CASES = [
    # (name, policy, statuses, expected transitions)
    ("all healthy never alerts", P4, [H] * 10, []),
    ("three failures stay below the threshold", P4, [H, D, D, D, H], []),
    ("fourth consecutive failure alerts once", P4, [H, D, D, D, D, D, D], [(4, Change.DOWN, D, H)]),
    (
        "recovery after alert",
        P4,
        [H, D, D, D, D, H],
        [(4, Change.DOWN, D, H), (5, Change.RECOVERED, H, D)],
    ),
    (
        "failing from the first cycle alerts, previous None",
        P4,
        [D, D, D, D],
        [(3, Change.DOWN, D, None)],
    ),
    (
        "alternating down/timeout counts together",
        P4,
        [H, D, T, D, T, D, T],
        [(4, Change.DOWN, T, H)],
    ),
    ("error and unknown count as failures", P4, [E, U, E, U], [(3, Change.DOWN, U, None)]),
    (
        "a kind change after the alert does not re-alert",
        P4,
        [D, D, D, D, T, E, U, D],
        [(3, Change.DOWN, D, None)],
    ),
    ("intermittent failures reset the count", P4, [D, D, D, H, D, D, D, H, D, D, D], []),
    ("starting holds the failure count", P4, [D, D, S, S, D, D], [(5, Change.DOWN, D, None)]),
    (
        "starting holds an open incident",
        P4,
        [D, D, D, D, S, S, H],
        [(3, Change.DOWN, D, None), (6, Change.RECOVERED, H, D)],
    ),
    ("starting alone never alerts", P4, [S] * 10, []),
    ("healthy without an alert is not a recovery", P4, [D, D, H, H], []),
    (
        "recovery threshold 3 needs 3 healthy in a row",
        P4R3,
        [D, D, D, D, H, H, D, H, H, H],
        [(3, Change.DOWN, D, None), (9, Change.RECOVERED, H, D)],
    ),
    (
        "a failure during recovery does not re-alert",
        P4R3,
        [D, D, D, D, H, D, D, D, D, D],
        [(3, Change.DOWN, D, None)],
    ),
    (
        "threshold 1 alerts at once and recovers at once",
        P1,
        [H, D, H, D],
        [(1, Change.DOWN, D, H), (2, Change.RECOVERED, H, D), (3, Change.DOWN, D, H)],
    ),
    (
        "second outage alerts again",
        P4,
        [D] * 4 + [H] + [D] * 4,
        [(3, Change.DOWN, D, None), (4, Change.RECOVERED, H, D), (8, Change.DOWN, D, H)],
    ),
]


@pytest.mark.parametrize(
    ("policy", "statuses", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_debounce_table(
    policy: Policy, statuses: list[str], expected: list[tuple[int, Change, str, str | None]]
) -> None:
    assert run(statuses, policy) == expected


WORKER_POLICY = Policy(
    down_threshold=2, recovery_threshold=1, alert_failure_changes=True, **ONLY_DOWN
)

WORKER_CASES = [
    ("200 is healthy", [200, 200, 200], []),
    ("220 blind after the threshold", [200, 220, 220], [(2, Change.DOWN, "blind", "healthy")]),
    ("221 partial update failure", [221, 221], [(1, Change.DOWN, "partial_update_failure", None)]),
    ("500 critical", [500, 500], [(1, Change.DOWN, "critical", None)]),
    ("no answer is unreachable", [None, None], [(1, Change.DOWN, "unreachable", None)]),
    ("other codes are unexpected", [401, 503], [(1, Change.DOWN, "unexpected_reply", None)]),
    (
        "a change between failure states after the threshold alerts",
        [220, 220, 500, 500, 200],
        [
            (1, Change.DOWN, "blind", None),
            (2, Change.CHANGED, "critical", "blind"),
            (4, Change.RECOVERED, "healthy", "critical"),
        ],
    ),
    (
        "a change before the threshold only counts",
        [220, 500, 500],
        [(1, Change.DOWN, "critical", None)],
    ),
    ("one bad reply between good ones is nothing", [200, 500, 200, None, 200], []),
]


@pytest.mark.parametrize(
    ("codes", "expected"), [c[1:] for c in WORKER_CASES], ids=[c[0] for c in WORKER_CASES]
)
def test_worker_codes_table(
    codes: list[int | None], expected: list[tuple[int, Change, str, str | None]]
) -> None:
    state = ItemState()
    out = []
    for index, code in enumerate(codes):
        state, transition = advance(state, worker_observation(code), WORKER_POLICY)
        if transition is not None:
            out.append((index, transition.change, transition.status, transition.previous_status))
    assert out == expected


def test_advance_is_pure_and_returns_new_state() -> None:
    state = ItemState()
    new_state, _ = advance(state, observe(D), P4)
    assert state == ItemState()
    assert new_state.failures == 1
    assert advance(state, observe(D), P4) == advance(state, observe(D), P4)
