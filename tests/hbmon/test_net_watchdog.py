"""The watchdog ends blocked reads at a budget's expiry, and only for budgets still running."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from hbmon.net.watchdog import Watchdog
from tests.support import wait_for


@pytest.fixture
def watchdog() -> Iterator[Watchdog]:
    dog = Watchdog()
    yield dog
    dog.close()


def test_expired_budget_unblocks_a_read_on_its_socket(watchdog: Watchdog) -> None:
    left, right = socket.socketpair()
    with left, right:
        left.settimeout(10)
        budget = watchdog.budget(0.3)
        budget.watch(left)
        started = time.monotonic()
        data = left.recv(1)  # the peer never writes: only the watchdog can end this
        elapsed = time.monotonic() - started
        fired = watchdog.release(budget)
    assert data == b""
    assert fired
    assert 0.25 <= elapsed < 2.0


def test_released_budget_never_touches_its_socket(watchdog: Watchdog) -> None:
    left, right = socket.socketpair()
    with left, right:
        budget = watchdog.budget(0.05)
        budget.watch(left)
        assert not watchdog.release(budget)
        later = watchdog.budget(0.1)
        left.settimeout(10)
        right.sendall(b"x")
        assert left.recv(1) == b"x"
        wait_for(lambda: later.fired, timeout=2.0)  # budgets fire in order: `budget` is past too
        right.sendall(b"y")
        assert left.recv(1) == b"y"
        assert not budget.fired
        assert later.fired


def test_earlier_budget_added_later_still_fires_on_time(watchdog: Watchdog) -> None:
    long = watchdog.budget(30)
    short = watchdog.budget(0.1)
    wait_for(lambda: short.fired, timeout=2.0)
    assert not long.fired
    watchdog.release(long)
