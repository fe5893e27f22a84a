"""Pure rules turning cycles, heartbeat replies and stalls into item updates and alerts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from alerter.debounce import Change, ItemState, Observation, Policy, Transition, advance, observe
from alerter.model import Event, ItemUpdate, NewAlert
from alerter.payload import AlertFacts, Context, alert_id, build_alert
from alerter.worker import worker_observation, worker_reason
from hbmon.db.records import Check, Cycle

WORKER = "worker"
EXPORTER = "exporter"
STALL_INTERVALS = 3
_STALL_POLICY = Policy(down_threshold=1, recovery_threshold=1)
STALLED = "stalled"
RUNNING = "running"
SERVICE_PREFIX = "service:"
_NEW = ItemState()


def service_key(name: str) -> str:
    return f"{SERVICE_PREFIX}{name}"


@dataclass
class Effects:
    """What one step produced: changed state rows to save or retire, and alerts to enqueue.

    Only states that differ from the ones given are in `updates`: a steady item writes nothing.
    """

    updates: list[ItemUpdate] = field(default_factory=list)
    alerts: list[NewAlert] = field(default_factory=list)
    retired: dict[str, ItemState] = field(default_factory=dict)  # key -> its last state

    def update(self, old: ItemState | None, new: ItemState, item: str, kind: str) -> None:
        if new != old:
            self.updates.append(ItemUpdate(item, kind, new))

    def add_alert(self, facts: AlertFacts, context: Context) -> None:
        body = build_alert(facts, context)
        self.alerts.append(NewAlert(alert_id(facts), facts.item, facts.event, facts.cycle_id, body))


def remember(states: dict[str, ItemState], effects: Effects) -> None:
    """Apply committed effects to the in-memory states (only ever after the commit)."""
    for update in effects.updates:
        states[update.item] = update.state
    for item in effects.retired:
        states.pop(item, None)


def cycle_effects(
    states: Mapping[str, ItemState], cycle: Cycle, policy: Policy, context: Context
) -> Effects:
    """Advance every service of the cycle, retire absent ones, and recover a stalled exporter."""
    effects = Effects()
    keys = [service_key(check.name) for check in cycle.checks]
    for key, check in zip(keys, cycle.checks, strict=True):
        old = states.get(key)
        state, transition = advance(old or _NEW, observe(check.status), policy)
        effects.update(old, state, key, check.kind)
        if transition is not None:
            effects.add_alert(_service_facts(check, transition, cycle), context)
    effects.retired.update(_absent(states, set(keys)))
    _recover_exporter(effects, states.get(EXPORTER, ItemState()), cycle, context)
    return effects


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


def _service_facts(check: Check, transition: Transition, cycle: Cycle) -> AlertFacts:
    recovered = transition.change is Change.RECOVERED
    reason = None if recovered else (check.error_message or _code_reason(check.status_code))
    return AlertFacts(
        event=Event.SERVICE_RECOVERED if recovered else Event.SERVICE_DOWN,
        item=check.name,
        kind=check.kind,
        status=transition.status,
        previous_status=transition.previous_status,
        reason=reason,
        status_code=check.status_code,
        latency_ms=check.latency_ms if recovered else None,
        occurred_at=cycle.completed_at,
        cycle_id=cycle.id,
    )


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
    worker_policy = Policy(policy.down_threshold, policy.recovery_threshold, True)
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
