"""Name lookups shared by every request: one lookup per name in flight, answers kept briefly."""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from hbmon.net.policy import IpFamily
from hbmon.net.reply import ErrorKind, NetError

AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, tuple[Any, ...]]
Resolver = Callable[[str, int, int], Sequence[AddrInfo]]
Answer = tuple[str, ...] | NetError  # addresses in resolver order, or why there are none
Listener = Callable[[Answer], None]

TTL_S = 30.0  # how long an answer is fresh; a stale one still serves while it is refreshed
NEGATIVE_TTL_S = 5.0
MAX_ANSWERS = 4096  # past this, expired answers are dropped (redirects may name anything)
MAX_LOOKUPS = 16  # distinct names resolving at once; more wait their turn
FAMILIES = {IpFamily.IPV4: socket.AF_INET, IpFamily.IPV6: socket.AF_INET6}


def system_resolver(host: str, port: int, family: int) -> Sequence[AddrInfo]:
    """getaddrinfo restricted to `family` (AF_UNSPEC for the auto policy)."""
    return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)


class DnsCache:
    """Resolves names on daemon threads; callers are called back with the answer.

    getaddrinfo cannot be interrupted, so a hung lookup keeps its thread until the system
    resolver gives up. It never blocks others: each name has at most one lookup in flight, a
    stale answer keeps serving while it is refreshed, `priority` lookups (the internet check)
    skip the queue, and nobody joins the threads, so a hung lookup never delays process exit.
    """

    def __init__(self, resolver: Resolver = system_resolver, max_lookups: int = MAX_LOOKUPS):
        self._resolver = resolver
        self._max = max_lookups
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, int], tuple[float, Answer]] = {}
        self._waiting: dict[tuple[str, int], list[Listener]] = {}
        self._queue: deque[tuple[str, int]] = deque()
        self._running = 0

    def lookup(
        self, host: str, family: IpFamily, listener: Listener, *, priority: bool = False
    ) -> Answer | None:
        """The answer at once if one is known; otherwise None, and `listener(answer)` later."""
        key = (host, FAMILIES.get(family, socket.AF_UNSPEC))
        with self._lock:
            known = self._answers.get(key)
            if known is not None and known[0] > time.monotonic():
                return known[1]
            stale = known[1] if known is not None and isinstance(known[1], tuple) else None
            waiters = self._waiting.get(key)
            if waiters is None:
                self._waiting[key] = waiters = []
                self._schedule(key, priority)
            elif priority and key in self._queue:
                self._queue.remove(key)
                self._schedule(key, priority)
            if stale is None:
                waiters.append(listener)
        return stale

    def _schedule(self, key: tuple[str, int], priority: bool) -> None:
        """Start a lookup thread, or queue the name; called with the lock held."""
        if not priority and self._running >= self._max:
            self._queue.append(key)
            return
        self._running += not priority
        thread = threading.Thread(
            target=self._resolve, args=(key, not priority), name="hbmon-dns", daemon=True
        )
        thread.start()

    def _resolve(self, key: tuple[str, int], counted: bool) -> None:
        answer = self._ask(*key)
        ttl = TTL_S if isinstance(answer, tuple) else NEGATIVE_TTL_S
        with self._lock:
            if len(self._answers) >= MAX_ANSWERS:
                self._forget_expired()
            self._answers[key] = (time.monotonic() + ttl, answer)
            listeners = self._waiting.pop(key, [])
            self._running -= counted
            if self._queue:
                self._schedule(self._queue.popleft(), False)
        for listener in listeners:
            listener(answer)

    def _forget_expired(self) -> None:
        now = time.monotonic()
        self._answers = {k: v for k, v in self._answers.items() if v[0] > now}

    def _ask(self, host: str, family: int) -> Answer:
        try:
            found = self._resolver(host, 0, family)
        except OSError as exc:
            return NetError(ErrorKind.DNS, f"cannot resolve {host}: {exc.strerror or exc}")
        addresses = tuple(dict.fromkeys(str(info[4][0]) for info in found))
        if not addresses:
            return NetError(ErrorKind.DNS, f"cannot resolve {host}: no address of the IP family")
        return addresses
