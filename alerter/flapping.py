"""The flapping rule: too many confirmed changes of an item within a window of cycles."""

from __future__ import annotations

from dataclasses import replace

from alerter.states import DEGRADED, FLAPPING, Change, ItemState, Policy, Transition


def fold(
    state: ItemState, transition: Transition | None, policy: Policy, position: int
) -> tuple[ItemState, Transition | None]:
    """Count a confirmed change at cycle `position`, or hold it while the item is flapping.

    The FLAP_CHANGES-th change within FLAP_WINDOW_CYCLES becomes `flapping` instead. Then every
    change is held until none happened for a whole window: `flapping_ended` with the status
    the item has then.
    """
    if state.flapping:
        return _held(state, transition, policy, position)
    assert transition is not None
    # A change "later" than this cycle is from before the exporter's tables were recreated.
    recent = tuple(p for p in state.changes if 0 <= position - p < policy.flap_window)
    if len(recent) + 1 >= policy.flap_changes:
        started = Transition(Change.FLAPPING, FLAPPING, transition.previous_status)
        return replace(state, flapping=True, changes=(position,)), started
    return replace(state, changes=(*recent, position)), transition


def _held(
    state: ItemState, transition: Transition | None, policy: Policy, position: int
) -> tuple[ItemState, Transition | None]:
    last = state.changes[0] if state.changes else position
    if transition is not None or last > position:  # a held change; or cycle ids started over
        return replace(state, changes=(position,)), None
    if position - last < policy.flap_window:
        return state, None
    ended = replace(state, flapping=False, changes=())
    return ended, Transition(Change.FLAPPING_ENDED, current_status(ended), FLAPPING)


def current_status(state: ItemState) -> str:
    """What the item is now: its alerted failure, degraded, or its last status."""
    if state.alerted is not None:
        return state.alerted
    if state.degraded:
        return DEGRADED
    return state.status or "healthy"


def reason(changes: int, window: int, language: str) -> str:
    if language == "es":
        return f"cambió de estado {changes} veces en {window} ciclos"
    return f"changed state {changes} times within {window} cycles"


def ended_reason(window: int, language: str) -> str:
    if language == "es":
        return f"sin cambios de estado en {window} ciclos"
    return f"no state change for {window} cycles"
