"""Retry pacing: doubling from the base, capped, due at once again after a success."""

from __future__ import annotations

from hbmon.db.retry import Backoff


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=5.0)
    assert [backoff.failed(0.0) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_not_due_before_the_delay_and_due_at_it() -> None:
    backoff = Backoff(base=2.0, cap=60.0)
    assert backoff.due(0.0)
    backoff.failed(10.0)
    assert not backoff.due(11.9)
    assert backoff.due(12.0)


def test_a_success_makes_the_next_attempt_due_at_once_and_restarts_the_doubling() -> None:
    backoff = Backoff(base=1.0, cap=60.0)
    for _ in range(4):
        backoff.failed(0.0)
    backoff.succeeded()
    assert backoff.due(0.0)
    assert backoff.failed(0.0) == 1.0


def test_thousands_of_failures_stay_at_the_cap() -> None:
    backoff = Backoff(base=1.0, cap=30.0)
    delays = [backoff.failed(0.0) for _ in range(5000)]
    assert delays[-1] == 30.0
