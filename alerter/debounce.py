"""Debounce as a pure function: item state + one observation -> new state and maybe a transition."""

from __future__ import annotations

from dataclasses import replace

from alerter import degraded, flapping
from alerter.states import Change, Cover, ItemState, Observation, Policy, Transition
from hbmon.status import FAILURE_STATUSES, Status

__all__ = [
    "HOLD_STATUSES",
    "Change",
    "Cover",
    "ItemState",
    "Observation",
    "Policy",
    "Transition",
    "advance",
    "observe",
]

HOLD_STATUSES = frozenset({Status.STARTING.value})


def observe(status: str, cover: Cover = Cover.NONE) -> Observation:
    """An observation of a probe status from `service_checks.status`.

    `cover` says what the item's parent is doing; it only matters to a failing observation.
    """
    known = _OBSERVATIONS[cover].get(status)
    if known is not None:
        return known
    failing = status in FAILURE_STATUSES
    return Observation(status, failing, cover if failing else Cover.NONE)


def advance(
    state: ItemState, observation: Observation, policy: Policy, *, position: int = 0
) -> tuple[ItemState, Transition | None]:
    """Fold one observation into an item's state; return the transition to alert, if any.

    `position` is the id of the observation's cycle: the flapping window is counted in cycles,
    so nothing in the state has to count observations.
    """
    if observation.status in HOLD_STATUSES:
        return state, None
    if observation.failing:
        new, transition = _fail(state, observation, policy)
    else:
        # The streak only matters up to the threshold: capped, a steady item's state stops.
        successes = min(state.successes + 1, policy.recovery_threshold)
        if _steady(state, observation.status, successes):
            return state, None  # the common case, built without a new object
        new, transition = _succeed(state, observation.status, successes, policy)
    if policy.degraded_failures:
        new, transition = degraded.fold(state, new, observation, transition, policy)
    if policy.flap_changes and (transition is not None or new.flapping):
        new, transition = flapping.fold(new, transition, policy, position)
    return new, transition


def _fail(
    state: ItemState, observation: Observation, policy: Policy
) -> tuple[ItemState, Transition | None]:
    status = observation.status
    if observation.cover is not Cover.NONE and state.alerted is None:
        # The parent's incident covers this failure: it counts from the parent's recovery.
        failures = 0 if observation.cover is Cover.RESET else state.failures
        return replace(state, status=status, failures=failures, successes=0), None
    failed = replace(state, status=status, failures=state.failures + 1, successes=0)
    if state.alerted is None:
        if failed.failures < policy.down_threshold:
            return failed, None
        return replace(failed, alerted=status), Transition(Change.DOWN, status, state.baseline)
    if policy.alert_failure_changes and status != state.alerted:
        return replace(failed, alerted=status), Transition(Change.CHANGED, status, state.alerted)
    return failed, None


def _succeed(
    state: ItemState, status: str, successes: int, policy: Policy
) -> tuple[ItemState, Transition | None]:
    healthy = replace(state, status=status, baseline=status, failures=0, successes=successes)
    if state.alerted is None or healthy.successes < policy.recovery_threshold:
        return healthy, None
    return replace(healthy, alerted=None), Transition(Change.RECOVERED, status, state.alerted)


def _steady(state: ItemState, status: str, successes: int) -> bool:
    """A healthy observation that would leave the state exactly as it is.

    A degraded item always has failures in its window, so `window == 0` also rules it out.
    """
    return (
        state.alerted is None
        and state.failures == 0
        and state.successes == successes
        and state.status == status
        and state.baseline == status
        and state.window == 0
        and not state.flapping
    )


# One shared (frozen) observation per known status and cover: a cycle of 10,000 checks builds
# none. A healthy observation is never covered.
_OBSERVATIONS = {
    cover: {
        s.value: Observation(s.value, s in FAILURE_STATUSES, cover)
        if s in FAILURE_STATUSES
        else Observation(s.value, False)
        for s in Status
    }
    for cover in Cover
}
