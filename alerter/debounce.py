"""Debounce as a pure function: item state + one observation -> new state and maybe a transition."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from hbmon.status import FAILURE_STATUSES, Status

HOLD_STATUSES = frozenset({Status.STARTING.value})


class Change(StrEnum):
    DOWN = "down"  # the item crossed the failure threshold
    RECOVERED = "recovered"  # an alerted item crossed the recovery threshold
    CHANGED = "changed"  # an alerted item moved to another failure state (worker only)


@dataclass(frozen=True)
class ItemState:
    """What the debouncer remembers about one item between cycles."""

    status: str | None = None  # last observed status
    baseline: str | None = None  # last non-failing status; None if the item never was healthy
    failures: int = 0  # consecutive failing observations
    successes: int = 0  # consecutive healthy observations, counted up to the recovery threshold
    alerted: str | None = None  # failure status the last alert announced; None = not alerted


@dataclass(frozen=True)
class Observation:
    status: str  # "healthy", a failure status, or a hold status ("starting")
    failing: bool


@dataclass(frozen=True)
class Policy:
    down_threshold: int = 4
    recovery_threshold: int = 1
    alert_failure_changes: bool = False  # worker: a new failure state after the threshold alerts


@dataclass(frozen=True)
class Transition:
    change: Change
    status: str
    previous_status: str | None


def observe(status: str) -> Observation:
    """An observation of a probe status from `service_checks.status`."""
    known = _OBSERVATIONS.get(status)
    return known if known is not None else Observation(status, status in FAILURE_STATUSES)


def advance(
    state: ItemState, observation: Observation, policy: Policy
) -> tuple[ItemState, Transition | None]:
    """Fold one observation into an item's state; return the transition to alert, if any."""
    if observation.status in HOLD_STATUSES:
        return state, None
    if observation.failing:
        return _fail(state, observation.status, policy)
    return _succeed(state, observation.status, policy)


def _fail(state: ItemState, status: str, policy: Policy) -> tuple[ItemState, Transition | None]:
    failed = replace(state, status=status, failures=state.failures + 1, successes=0)
    if state.alerted is None:
        if failed.failures < policy.down_threshold:
            return failed, None
        return replace(failed, alerted=status), Transition(Change.DOWN, status, state.baseline)
    if policy.alert_failure_changes and status != state.alerted:
        return replace(failed, alerted=status), Transition(Change.CHANGED, status, state.alerted)
    return failed, None


def _succeed(state: ItemState, status: str, policy: Policy) -> tuple[ItemState, Transition | None]:
    # The streak only matters up to the threshold: capped, a steady item's state stops changing.
    successes = min(state.successes + 1, policy.recovery_threshold)
    if _steady(state, status, successes):
        return state, None  # the common case, built without a new object
    healthy = replace(state, status=status, baseline=status, failures=0, successes=successes)
    if state.alerted is None or healthy.successes < policy.recovery_threshold:
        return healthy, None
    return replace(healthy, alerted=None), Transition(Change.RECOVERED, status, state.alerted)


def _steady(state: ItemState, status: str, successes: int) -> bool:
    """A healthy observation that would leave the state exactly as it is."""
    return (
        state.alerted is None
        and state.failures == 0
        and state.successes == successes
        and state.status == status
        and state.baseline == status
    )


# One shared (frozen) observation per known status: a cycle of 10,000 checks builds none.
_OBSERVATIONS = {s.value: Observation(s.value, s in FAILURE_STATUSES) for s in Status}
