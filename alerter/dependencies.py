"""Dependencies: the `internet` and `docker` items, parents before children, and cover."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

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
from alerter.effects import Effects, service_key
from alerter.model import Event
from alerter.payload import AlertFacts, Context
from hbmon.db.records import Check, Cycle
from hbmon.status import FAILURE_STATUSES

INTERNET = "internet"
DOCKER = "docker"
DOCKER_KIND = "docker"
UNREACHABLE = "unreachable"
REACHABLE = "healthy"
_ENGINE = {True: Observation(UNREACHABLE, True), False: Observation(REACHABLE, False)}
_BUILTIN_PARENTS = frozenset({None, INTERNET, DOCKER})
_NEW = ItemState()

StateOf = Callable[[str], ItemState | None]


def parent_key(depends_on: str) -> str:
    """The item key of a parent named in `service_checks.depends_on`."""
    return depends_on if depends_on in (INTERNET, DOCKER) else service_key(depends_on)


def cover(parent: ItemState | None) -> Cover:
    """An alerted parent restarts its children's count; a failing one holds it."""
    if parent is None:
        return Cover.NONE
    if parent.alerted is not None:
        return Cover.RESET
    return Cover.HOLD if parent.status in FAILURE_STATUSES else Cover.NONE


def ordered(checks: Sequence[Check]) -> Sequence[Check]:
    """Parents before children, so a parent's state is decided first within a cycle.

    Checks without a service parent keep their order (and cost one pass). A dependency loop
    is refused by the exporter's configuration; here it only leaves that loop unordered.
    """
    if all(check.depends_on in _BUILTIN_PARENTS for check in checks):
        return checks
    by_name = {check.name: check for check in checks}
    done: dict[str, Check] = {}
    for check in checks:
        _visit(check, by_name, done, frozenset())
    return tuple(done.values())


def _visit(
    check: Check, by_name: Mapping[str, Check], done: dict[str, Check], path: frozenset[str]
) -> None:
    if check.name in done or check.name in path:
        return
    parent = by_name.get(check.depends_on or "")
    if parent is not None:
        _visit(parent, by_name, done, path | {check.name})
    done[check.name] = check


class Dependents:
    """A cycle's checks by parent, indexed once, on the first down alert that asks."""

    def __init__(self, checks: Sequence[Check]) -> None:
        self._checks = checks
        self._by_parent: dict[str, list[Check]] | None = None

    def failing(self, parent: str) -> list[str] | None:
        """Sorted names of the dependents failing in this cycle; None when nothing depends on it."""
        if self._by_parent is None:
            self._by_parent = {}
            for check in self._checks:
                if check.depends_on is not None:
                    self._by_parent.setdefault(check.depends_on, []).append(check)
        children = self._by_parent.get(parent)
        if children is None:
            return None
        return sorted(c.name for c in children if observe(c.status).failing)


def infrastructure_effects(
    effects: Effects,
    states: Mapping[str, ItemState],
    cycle: Cycle,
    policy: Policy,
    context: Context,
    *,
    dependents: Dependents,
) -> None:
    """Advance `internet` (each cycle) and `docker` (while a docker: service exists) first.

    Their alerts are `internet_down`/`internet_recovered` and `docker_unreachable`/
    `docker_recovered`; a down alert lists the failing dependents (`affected`).
    """
    plain = replace(policy, degraded_failures=0, flap_changes=0, alert_failure_changes=False)
    items = [(INTERNET, observe(cycle.internet_status))]
    if any(check.kind == DOCKER_KIND for check in cycle.checks):
        items.append((DOCKER, _ENGINE[cycle.container_count is None]))
    elif DOCKER in states:  # no docker: service any more; like a removed service, sends nothing
        effects.retired[DOCKER] = states[DOCKER]
    for item, observation in items:
        old = states.get(item)
        state, transition = advance(old or _NEW, observation, plain, position=cycle.id)
        effects.update(old, state, item, item)
        if transition is not None:
            down = transition.change is Change.DOWN
            affected = (dependents.failing(item) or []) if down else None
            effects.add_alert(_facts(item, transition, cycle, context, affected=affected), context)


_EVENTS = {
    (INTERNET, Change.DOWN): Event.INTERNET_DOWN,
    (INTERNET, Change.RECOVERED): Event.INTERNET_RECOVERED,
    (DOCKER, Change.DOWN): Event.DOCKER_UNREACHABLE,
    (DOCKER, Change.RECOVERED): Event.DOCKER_RECOVERED,
}


def _facts(
    item: str,
    transition: Transition,
    cycle: Cycle,
    context: Context,
    *,
    affected: list[str] | None,
) -> AlertFacts:
    down = transition.change is Change.DOWN
    return AlertFacts(
        event=_EVENTS[item, transition.change],
        item=item,
        kind=item,
        status=transition.status,
        previous_status=transition.previous_status,
        reason=_reason(item, context.language) if down else None,
        status_code=None,
        latency_ms=None,
        occurred_at=cycle.completed_at,
        cycle_id=cycle.id,
        affected=affected,
    )


def _reason(item: str, language: str) -> str:
    if item == DOCKER:
        return "el motor Docker no respondió" if language == "es" else "no answer from the engine"
    if language == "es":
        return "la verificación de internet falla"
    return "the internet check is failing"
