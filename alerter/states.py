"""The debounce vocabulary: an item's state, an observation, the policy and a transition."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Change(StrEnum):
    DOWN = "down"  # the item crossed the failure threshold
    RECOVERED = "recovered"  # an alerted item crossed the recovery threshold
    CHANGED = "changed"  # an alerted item moved to another failure state (worker only)
    DEGRADED = "degraded"  # enough failures in the recent window, without a down alert
    DEGRADED_CLEARED = "degraded_cleared"  # the window holds at most one failure again
    FLAPPING = "flapping"  # too many confirmed changes within the flapping window
    FLAPPING_ENDED = "flapping_ended"  # no confirmed change for a whole flapping window


class Cover(StrEnum):
    """How a failing observation is covered by the item's parent (a dependency)."""

    NONE = "none"
    HOLD = "hold"  # the parent is failing, not yet alerted: the count holds
    RESET = "reset"  # the parent is alerted: the count starts again from its recovery


DEGRADED = "degraded"
FLAPPING = "flapping"


@dataclass(frozen=True)
class ItemState:
    """What the debouncer remembers about one item between cycles."""

    status: str | None = None  # last observed status
    baseline: str | None = None  # last non-failing status; None if the item never was healthy
    failures: int = 0  # consecutive failing observations
    successes: int = 0  # consecutive healthy observations, counted up to the recovery threshold
    alerted: str | None = None  # failure status the last alert announced; None = not alerted
    # Degraded: bit i set = the (i+1)-th newest counted observation failed. Failures covered
    # by a down alert (own or a parent's) are not counted, and it restarts at a recovery.
    window: int = 0
    degraded: bool = False  # `service_degraded` was announced and not cleared since
    flapping: bool = False  # `service_flapping` was announced; changes are held
    # Cycle ids of the latest confirmed changes (at most FLAP_CHANGES - 1 of them); while
    # flapping, only the id of the last (held) change: the item is stable a window after it.
    changes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Observation:
    status: str  # "healthy", a failure status, or a hold status ("starting")
    failing: bool
    cover: Cover = Cover.NONE


@dataclass(frozen=True)
class Policy:
    down_threshold: int = 4
    recovery_threshold: int = 1
    alert_failure_changes: bool = False  # worker: a new failure state after the threshold alerts
    degraded_failures: int = 6  # 0: no degraded rule (worker, exporter, internet, docker)
    degraded_window: int = 12
    flap_changes: int = 4  # 0: no flapping rule
    flap_window: int = 90  # cycles


@dataclass(frozen=True)
class Transition:
    change: Change
    status: str
    previous_status: str | None
    failures: int | None = None  # degraded and its clear: counted failures in the window
