"""Name resolution that a request can abandon at its deadline, since getaddrinfo cannot be cut."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from hbmon.net.watchdog import Budget

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
Resolver = Callable[[str, int, int], Sequence[AddrInfo]]


def system_resolver(host: str, port: int, family: int) -> Sequence[AddrInfo]:
    """getaddrinfo restricted to `family` (AF_UNSPEC for the auto policy)."""
    return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)


class BoundedResolver:
    """Looks names up on at most `workers` daemon threads so that the caller can stop waiting.

    A lookup that outlives its budget keeps its thread and slot until the system resolver gives
    up (glibc: `timeout`/`attempts` in resolv.conf); later lookups wait for a slot and time out
    on their own budgets. The threads are daemons and nobody joins them, so a hung lookup never
    delays process exit (SIGTERM must stop the exporter within a second).

    IP literals, such as a DNS override, skip the threads and keep their own family: the
    policy's family governs name resolution, and `::1` under the IPv4 policy still means ::1.
    """

    def __init__(self, resolver: Resolver = system_resolver, workers: int = 4) -> None:
        self._resolver = resolver
        self._slots = threading.BoundedSemaphore(workers)

    def __call__(self, host: str, port: int, family: int, budget: Budget) -> Sequence[AddrInfo]:
        if _is_ip(host):
            return socket.getaddrinfo(
                host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
            )
        if not self._slots.acquire(timeout=max(budget.remaining(), 0.0)):
            raise TimeoutError("timed out resolving the host name")
        lookup = _Lookup()
        worker = threading.Thread(
            target=lookup.run,
            args=(self._resolver, host, port, family, self._slots),
            name="hbmon-net-dns",
            daemon=True,
        )
        try:
            worker.start()
        except BaseException:
            self._slots.release()
            raise
        return lookup.result(max(budget.remaining(), 0.0))


class _Lookup:
    """One lookup's outcome, handed from its worker thread to the waiting request."""

    __slots__ = ("_addresses", "_done", "_error")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._addresses: Sequence[AddrInfo] = ()
        self._error: Exception | None = None

    def run(
        self, resolver: Resolver, host: str, port: int, family: int, slot: threading.Semaphore
    ) -> None:
        try:
            self._addresses = resolver(host, port, family)
        except Exception as exc:  # re-raised in the requesting thread by result()
            self._error = exc
        finally:
            slot.release()
            self._done.set()

    def result(self, timeout: float) -> Sequence[AddrInfo]:
        if not self._done.wait(timeout):
            raise TimeoutError("timed out resolving the host name")
        if self._error is not None:
            raise self._error
        return self._addresses


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
