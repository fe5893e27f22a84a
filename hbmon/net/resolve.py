"""Name resolution that a request can abandon at its deadline, since getaddrinfo cannot be cut."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from hbmon.net.watchdog import Budget

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
Resolver = Callable[[str, int, int], Sequence[AddrInfo]]


def system_resolver(host: str, port: int, family: int) -> Sequence[AddrInfo]:
    """getaddrinfo restricted to `family` (AF_UNSPEC for the auto policy)."""
    return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)


class BoundedResolver:
    """Runs lookups of names on a few worker threads so that the caller can stop waiting.

    A lookup that outlives its budget keeps its worker busy until the system resolver gives
    up (glibc: `timeout`/`attempts` in resolv.conf); later lookups queue behind it and time
    out on their own budgets. IP literals, such as a DNS override, skip the threads.
    """

    def __init__(self, resolver: Resolver = system_resolver, workers: int = 4) -> None:
        self._resolver = resolver
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="hbmon-net-dns")

    def __call__(self, host: str, port: int, family: int, budget: Budget) -> Sequence[AddrInfo]:
        if _is_ip(host):
            return self._resolver(host, port, family)
        future = self._pool.submit(self._resolver, host, port, family)
        try:
            return future.result(timeout=max(budget.remaining(), 0.0))
        except FutureTimeout:
            future.cancel()
            raise TimeoutError("timed out resolving the host name") from None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
