"""Folding sequences of statuses through the pure `advance`, for the rule tables."""

from __future__ import annotations

from alerter.debounce import Change, ItemState, Policy, advance, observe

Seen = tuple[int, Change, str]  # (position, change, status)


def fold(
    statuses: list[str], policy: Policy, state: ItemState | None = None, start: int = 0
) -> tuple[ItemState, list[Seen]]:
    """Each status is one cycle; its position (cycle id) is `start` + its index."""
    state = state or ItemState()
    seen = []
    for index, status in enumerate(statuses, start):
        state, transition = advance(state, observe(status), policy, position=index)
        if transition is not None:
            seen.append((index, transition.change, transition.status))
    return state, seen


def transitions(statuses: list[str], policy: Policy) -> list[Seen]:
    return fold(statuses, policy)[1]


def restarted(statuses: list[str], policy: Policy, at: int) -> list[Seen]:
    """The same fold, interrupted after `at` cycles (a restart resumes from the saved state)."""
    state, first = fold(statuses[:at], policy)
    return first + fold(statuses[at:], policy, state, start=at)[1]
