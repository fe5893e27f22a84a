"""libcurl's socket API on epoll: the sockets libcurl wants watched, its timer, an inbox."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections import deque
from collections.abc import Callable

import pycurl

_MAX_WAIT_S = 1.0


class CurlLoop:
    """Drives one CurlMulti from its engine's thread; `post` and `wake` are for other threads.

    epoll has no select() limit, so 10,000 connections are fine.
    """

    def __init__(self, multi: pycurl.CurlMulti) -> None:
        self._multi = multi
        multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._epoll = select.epoll()
        self._watched: dict[int, int] = {}  # fd -> epoll events, as libcurl asked
        self._parked: set[int] = set()  # still registered, though libcurl no longer asks
        self._wake_r, self._wake_w = socket.socketpair()
        for end in (self._wake_r, self._wake_w):
            end.setblocking(False)
        self._epoll.register(self._wake_r.fileno(), select.EPOLLIN)
        self._inbox: deque[Callable[[], None]] = deque()
        self._wake_pending = False
        self._timer_at: float | None = None

    def post(self, action: Callable[[], None]) -> None:
        """Run `action` on the loop's thread soon."""
        self._inbox.append(action)
        if not self._wake_pending:
            self._wake_pending = True
            self.wake()

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def run_once(self, due: float | None) -> None:
        """Wait for sockets, libcurl's timer, the inbox or `due` (monotonic); act on each."""
        wait = min(
            t for t in (due, self._timer_at, time.monotonic() + _MAX_WAIT_S) if t is not None
        )
        wake = self._wake_r.fileno()
        for fd, mask in self._epoll.poll(max(wait - time.monotonic(), 0.0)):
            if fd == wake:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            elif fd in self._watched:
                self._multi.socket_action(fd, _curl_events(mask))
            else:  # a parked connection's peer closed or spoke: libcurl finds out on reuse
                self._forget(fd)
        if self._timer_at is not None and self._timer_at <= time.monotonic():
            self._timer_at = None
            self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        self._wake_pending = False
        while self._inbox:
            self._inbox.popleft()()

    def close(self) -> None:
        self._epoll.close()
        self._wake_r.close()
        self._wake_w.close()

    def _on_socket(self, what: int, fd: int, multi: object, data: object) -> None:
        """Follow libcurl's wishes with as few epoll_ctl calls as possible: a socket it stops
        watching (a kept-alive connection back in its cache) stays registered, parked, so that
        its next transfer costs one `modify` instead of an unregister and a register."""
        watched = self._watched
        if what == pycurl.POLL_REMOVE:
            if watched.pop(fd, None) is not None:
                self._parked.add(fd)
            return
        events = (select.EPOLLIN if what & pycurl.POLL_IN else 0) | (
            select.EPOLLOUT if what & pycurl.POLL_OUT else 0
        )
        if watched.get(fd) == events:
            return
        known = fd in watched or fd in self._parked
        watched[fd] = events
        self._parked.discard(fd)
        try:
            if known:
                self._epoll.modify(fd, events)
            else:
                self._epoll.register(fd, events)
        except FileNotFoundError:  # closed while parked (epoll forgot it); a new socket now
            self._epoll.register(fd, events)
        except FileExistsError:
            self._epoll.modify(fd, events)

    def _forget(self, fd: int) -> None:
        self._parked.discard(fd)
        with contextlib.suppress(OSError):  # libcurl may have closed it already
            self._epoll.unregister(fd)

    def _on_timer(self, ms: int) -> None:
        self._timer_at = None if ms < 0 else time.monotonic() + ms / 1000


def _curl_events(mask: int) -> int:
    readable = mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR)
    return (pycurl.CSELECT_IN if readable else 0) | (
        pycurl.CSELECT_OUT if mask & select.EPOLLOUT else 0
    )
