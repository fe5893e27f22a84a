"""Pure rules turning cycles, heartbeat replies and stalls into item updates and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from alerter import degraded, flapping
from alerter.debounce import (
    Change,
    Cover,
    ItemState,
    Observation,
    Policy,
    Transition,
    advance,
    observe,
)
from alerter.dependencies import (
    Dependents,
    cover,
    infrastructure_effects,
    ordered,
    parent_key,
)
from alerter.effects import SERVICE_PREFIX, Effects, remember, service_key
from alerter.model import Event
from alerter.payload import AlertFacts, Context
from alerter.worker import worker_observation, worker_reason
from hbmon.db.records import Check, Cycle

__all__ = [
    "EXPORTER",
    "SERVICE_PREFIX",
    "STALL_INTERVALS",
    "WORKER",
    "Effects",
    "absent_services",
    "cycle_effects",
    "remember",
    "service_key",
    "stall_effects",
    "worker_effects",
]

WORKER = "worker"
EXPORTER = "exporter"
STALL_INTERVALS = 3
_STALL_POLICY = Policy(down_threshold=1, recovery_threshold=1, degraded_failures=0, flap_changes=0)
STALLED = "stalled"
RUNNING = "running"
_NEW = ItemState()
_SERVICE_EVENTS = {
    Change.DOWN: Event.SERVICE_DOWN,
    Change.RECOVERED: Event.SERVICE_RECOVERED,
    Change.DEGRADED: Event.SERVICE_DEGRADED,
    Change.DEGRADED_CLEARED: Event.SERVICE_DEGRADED_CLEARED,
    Change.FLAPPING: Event.SERVICE_FLAPPING,
    Change.FLAPPING_ENDED: Event.SERVICE_FLAPPING_ENDED,
}


def cycle_effects(
    states: Mapping[str, ItemState], cycle: Cycle, policy: Policy, context: Context
) -> Effects:
    """Advance `internet` and `docker`, then every service, parents before their children.

    Services absent from the cycle are retired, and a stalled exporter is recovered.
    """
    effects = Effects()
    dependents = Dependents(cycle.checks)
    infrastructure_effects(effects, states, cycle, policy, context, dependents=dependents)
    checks = ordered(cycle.checks)
    keys = [service_key(check.name) for check in checks]
    for key, check in zip(keys, checks, strict=True):
        old = states.get(key)
        parent = Cover.NONE if check.depends_on is None else _cover(check, states, effects)
        state, transition = advance(
            old or _NEW, observe(check.status, parent), policy, position=cycle.id
        )
        effects.update(old, state, key, check.kind)
        if transition is not None:
            down = transition.change is Change.DOWN
            affected = dependents.failing(check.name) if down else None
            facts = _service_facts(
                check, transition, cycle, policy, context.language, affected=affected
            )
            effects.add_alert(facts, context)
    effects.retired.update(_absent(states, set(keys)))
    _recover_exporter(effects, states.get(EXPORTER, ItemState()), cycle, context)
    return effects


def _cover(check: Check, states: Mapping[str, ItemState], effects: Effects) -> Cover:
    """What the check's parent, already decided in this cycle, is doing."""
    assert check.depends_on is not None
    key = parent_key(check.depends_on)
    return cover(effects.changed.get(key) or states.get(key))


def absent_services(states: Mapping[str, ItemState], cycle: Cycle) -> dict[str, ItemState]:
    """Services with a state but no check in this cycle: removed from the exporter's config.

    Each cycle checks every configured service, so one absence is enough. Retiring the state
    (alerted or not) sends nothing, and a service added again later starts from scratch.
    """
    return _absent(states, {service_key(check.name) for check in cycle.checks})


def _absent(states: Mapping[str, ItemState], present: set[str]) -> dict[str, ItemState]:
    return {
        key: state
        for key, state in states.items()
        if key not in present and key.startswith(SERVICE_PREFIX)
    }


def _recover_exporter(
    effects: Effects, exporter: ItemState, cycle: Cycle, context: Context
) -> None:
    if exporter.alerted is None:
        return
    state, transition = advance(exporter, Observation(RUNNING, False), _STALL_POLICY)
    effects.update(exporter, state, EXPORTER, EXPORTER)
    if transition is not None:
        facts = _exporter_facts(
            Event.EXPORTER_RECOVERED,
            RUNNING,
            STALLED,
            None,
            at=cycle.completed_at,
            cycle_id=cycle.id,
        )
        effects.add_alert(facts, context)


def _service_facts(
    check: Check,
    transition: Transition,
    cycle: Cycle,
    policy: Policy,
    language: str,
    *,
    affected: list[str] | None,
) -> AlertFacts:
    change = transition.change
    return AlertFacts(
        event=_SERVICE_EVENTS[change],
        item=check.name,
        kind=check.kind,
        status=transition.status,
        previous_status=transition.previous_status,
        reason=_service_reason(check, transition, policy, language),
        status_code=check.status_code,
        latency_ms=check.latency_ms if change is Change.RECOVERED else None,
        occurred_at=cycle.completed_at,
        cycle_id=cycle.id,
        failures=transition.failures,
        window=None if transition.failures is None else policy.degraded_window,
        affected=affected,
    )


def _service_reason(
    check: Check, transition: Transition, policy: Policy, language: str
) -> str | None:
    change = transition.change
    if change is Change.DOWN:
        return check.error_message or _code_reason(check.status_code)
    if change is Change.DEGRADED:
        return degraded.reason(transition.failures or 0, policy.degraded_window, language)
    if change is Change.FLAPPING:
        return flapping.reason(policy.flap_changes, policy.flap_window, language)
    if change is Change.FLAPPING_ENDED:
        return flapping.ended_reason(policy.flap_window, language)
    return None


def _code_reason(status_code: int | None) -> str | None:
    return None if status_code is None else f"HTTP {status_code}"


def _exporter_facts(
    event: Event, status: str, previous: str, reason: str | None, *, at: float, cycle_id: int | None
) -> AlertFacts:
    return AlertFacts(event, EXPORTER, EXPORTER, status, previous, reason, None, None, at, cycle_id)


def stall_effects(
    states: Mapping[str, ItemState],
    *,
    newest: Cycle | None,
    since: float,
    now: float,
    interval: float,
    context: Context,
) -> Effects:
    """`exporter_stalled` once no cycle completed for 3 intervals (`since`: when we started)."""
    effects = Effects()
    state = states.get(EXPORTER, ItemState())
    last = newest.completed_at if newest is not None else since
    age = now - last
    if state.alerted is not None or age <= STALL_INTERVALS * interval:
        return effects
    new_state, transition = advance(state, Observation(STALLED, True), _STALL_POLICY)
    effects.update(states.get(EXPORTER), new_state, EXPORTER, EXPORTER)
    if transition is not None:
        reason = _stall_reason(age, interval, newest, context.language)
        cycle_id = newest.id if newest is not None else None
        facts = _exporter_facts(
            Event.EXPORTER_STALLED, STALLED, RUNNING, reason, at=now, cycle_id=cycle_id
        )
        effects.add_alert(facts, context)
    return effects


def _stall_reason(age: float, interval: float, newest: Cycle | None, language: str) -> str:
    last = f"#{newest.id}" if newest is not None else "-"
    if language == "es":
        return f"sin ciclos nuevos en {age:.0f} s (intervalo {interval:g} s; último ciclo {last})"
    return f"no new cycle for {age:.0f} s (interval {interval:g} s; last cycle {last})"


def worker_effects(
    states: Mapping[str, ItemState],
    *,
    status_code: int | None,
    error: str | None,
    latency_ms: float | None,
    cycle: Cycle,
    at: float,
    policy: Policy,
    context: Context,
) -> Effects:
    """Fold one heartbeat reply into the `worker` item; any alert is `worker_status_changed`."""
    effects = Effects()
    worker_policy = replace(policy, alert_failure_changes=True, degraded_failures=0, flap_changes=0)
    old = states.get(WORKER)
    state, transition = advance(old or _NEW, worker_observation(status_code), worker_policy)
    effects.update(old, state, WORKER, WORKER)
    if transition is not None:
        reason = worker_reason(status_code, error, cycle.internet_status, context.language)
        latency = latency_ms if transition.change is Change.RECOVERED else None
        facts = _worker_facts(transition, reason, status_code, latency, at=at, cycle_id=cycle.id)
        effects.add_alert(facts, context)
    return effects


def _worker_facts(
    transition: Transition,
    reason: str,
    status_code: int | None,
    latency_ms: float | None,
    *,
    at: float,
    cycle_id: int,
) -> AlertFacts:
    return AlertFacts(
        Event.WORKER_STATUS_CHANGED,
        WORKER,
        WORKER,
        transition.status,
        transition.previous_status,
        reason,
        status_code,
        latency_ms,
        at,
        cycle_id,
    )
