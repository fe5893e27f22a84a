"""One thread that enforces total time budgets by shutting down the sockets of late requests."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time

# A watchdog with nothing to watch for this long lets its thread end; the next budget restarts it.
_IDLE_EXIT_S = 30.0
# Cancelled budgets stay in the heap until they reach its top; past this size we compact it.
_COMPACT_AT = 4096


class Budget:
    """A request's total time budget; the watchdog shuts down `watch`ed sockets when it runs out.

    Per-recv socket timeouts cannot bound a server that drips one byte a second, so the
    watchdog calls `socket.socket.shutdown` (not `SSLSocket.shutdown`, which would touch the
    TLS state from another thread) and the blocked read returns at once.
    """

    __slots__ = ("_lock", "_sock", "cancelled", "expires", "fired", "seconds")

    def __init__(self, seconds: float, lock: threading.Lock) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.fired = False
        self.cancelled = False
        self._sock: socket.socket | None = None
        self._lock = lock

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    @property
    def expired(self) -> bool:
        return self.fired or time.monotonic() >= self.expires

    def watch(self, sock: socket.socket | None) -> None:
        """Make `sock` the one to shut down at expiry (None: watch nothing)."""
        with self._lock:
            self._sock = sock
            fire_now = sock is not None and self.fired
        if fire_now and sock is not None:
            _shutdown(sock)

    def _fire(self) -> None:
        """Called by the watchdog with the lock held."""
        self.fired = True
        if self._sock is not None:
            _shutdown(self._sock)


def _shutdown(sock: socket.socket) -> None:
    # OSError: already closed, or never connected, so nothing is blocked on it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Watchdog:
    """Fires `Budget`s at their expiry from a single daemon thread started on demand."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Budget]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def budget(self, seconds: float) -> Budget:
        """Start a budget of `seconds`; call `release` when the request is over."""
        entry = Budget(seconds, self._lock)
        with self._lock:
            earliest = not self._heap or entry.expires < self._heap[0][0]
            heapq.heappush(self._heap, (entry.expires, next(self._seq), entry))
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="hbmon-net-watchdog")
                self._thread.daemon = True
                self._thread.start()
            elif earliest:
                self._wake.notify()
        return entry

    def release(self, budget: Budget) -> bool:
        """Stop watching; returns whether the budget had already fired."""
        with self._lock:
            budget.cancelled = True
            budget._sock = None
            return budget.fired

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread, self._thread = self._thread, None
            self._wake.notify()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        idle_since = time.monotonic()
        with self._lock:
            while not self._closed:
                now = time.monotonic()
                self._pop_due(now)
                if self._heap:
                    idle_since = now
                    self._wake.wait(self._heap[0][0] - now)
                elif now - idle_since >= _IDLE_EXIT_S:
                    self._thread = None
                    return
                else:
                    self._wake.wait(_IDLE_EXIT_S)

    def _pop_due(self, now: float) -> None:
        heap = self._heap
        while heap and (heap[0][2].cancelled or heap[0][0] <= now):
            entry = heapq.heappop(heap)[2]
            if not entry.cancelled:
                entry._fire()
        if len(heap) > _COMPACT_AT:
            self._heap = [item for item in heap if not item[2].cancelled]
            heapq.heapify(self._heap)
