"""The degraded rule: enough failures among a service's recent observations, without a down."""

from __future__ import annotations

from dataclasses import replace

from alerter.states import DEGRADED, Change, Cover, ItemState, Observation, Policy, Transition


def fold(
    old: ItemState,
    new: ItemState,
    observation: Observation,
    transition: Transition | None,
    policy: Policy,
) -> tuple[ItemState, Transition | None]:
    """Slide the window over one observation; `new`/`transition` come from the down rule.

    A down alert supersedes degraded (no separate clear) and its failures never count: the
    window is empty while the item is alerted and starts again at its recovery. A failure the
    parent's incident covers neither counts nor slides the window.
    """
    if transition is not None:
        if transition.change is Change.DOWN:
            return replace(new, window=0, degraded=False), transition
        return (new if new.window == 0 else replace(new, window=0)), transition
    if new.alerted is not None or observation.cover is not Cover.NONE:
        return new, None
    mask = (1 << policy.degraded_window) - 1
    window = ((old.window << 1) | observation.failing) & mask
    failures = window.bit_count()
    if not old.degraded and failures >= policy.degraded_failures:
        opened = Transition(Change.DEGRADED, DEGRADED, new.baseline, failures)
        return replace(new, window=window, degraded=True), opened
    if old.degraded and failures <= 1:
        assert new.status is not None
        cleared = Transition(Change.DEGRADED_CLEARED, new.status, DEGRADED, failures)
        return replace(new, window=window, degraded=False), cleared
    return (new if window == new.window else replace(new, window=window)), None


def reason(failures: int, window: int, language: str) -> str:
    if language == "es":
        return f"{failures} de los últimos {window} chequeos fallaron"
    return f"{failures} of the last {window} checks failed"
