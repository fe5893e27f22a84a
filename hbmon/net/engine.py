"""The transfer engine: every hop of a client on one CurlMulti, driven from one thread."""

from __future__ import annotations

import contextlib
import heapq
import itertools
import math
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import pycurl

from hbmon.logs import get_logger
from hbmon.net.exchange import Exchange
from hbmon.net.hop import HopOutcome, HopSettings, configure, outcome
from hbmon.net.policy import IpFamily
from hbmon.net.reply import ErrorKind, HttpReply, NetError
from hbmon.net.resolve import Answer, DnsCache
from hbmon.net.sink import Sink

log = get_logger("hbmon.net")
_GRACE_S = 0.02  # libcurl's own TIMEOUT_MS normally ends a hop; this is the backstop
_MAX_WAIT_S = 1.0
_MAX_CERTS = 65536


class Job:
    """One exchange handed to the engine, and the callback that receives its reply."""

    __slots__ = ("asked_at", "curl", "dns_wait", "done", "exchange", "finished", "priority", "sink")

    def __init__(
        self, exchange: Exchange, done: Callable[[HttpReply], None], priority: bool
    ) -> None:
        self.exchange = exchange
        self.done = done
        self.priority = priority  # its name lookups skip the queue (the internet check)
        self.curl: pycurl.Curl | None = None
        self.sink: Sink | None = None
        self.finished = False
        self.asked_at = 0.0
        self.dns_wait = 0.0


class Engine:
    """Owns the CurlMulti; only its own thread ever touches libcurl.

    Other threads `submit` jobs through an inbox and a wake-up socket. Sockets are watched
    with epoll (no select() limit at 10,000 connections) through libcurl's socket API.
    """

    def __init__(
        self,
        settings: HopSettings,
        dns: DnsCache,
        family: IpFamily,
        *,
        max_transfers: int,
        max_connects: int,
    ) -> None:
        self._settings, self._dns, self._family = settings, dns, family
        self._max_transfers = max_transfers
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_connects)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        for end in (self._wake_r, self._wake_w):
            end.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._inbox: deque[Callable[[], None]] = deque()
        self._wake_pending = False
        self._timer_at: float | None = None
        self._deadlines: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._active: dict[pycurl.Curl, Job] = {}
        self._waiting: deque[tuple[Job, tuple[str, ...]]] = deque()
        self._free: list[pycurl.Curl] = []
        self._certs: dict[tuple[str, str, int, str], float] = {}
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hbmon-net-engine", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        self._post(partial(self._begin, job))

    def close(self) -> None:
        """Stop the loop; pending jobs end with an error. Never waits for a name lookup."""
        self._closed.set()
        self._wake()
        self._thread.join(timeout=1.0)

    def _post(self, action: Callable[[], None]) -> None:
        self._inbox.append(action)
        if not self._wake_pending:
            self._wake_pending = True
            self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            self._wake_w.send(b"\0")

    def _run(self) -> None:
        try:
            while not self._closed.is_set():
                try:
                    self._poll()
                    self._drain_inbox()
                    self._expire()
                    self._collect()
                except Exception:  # a bug in one step must not stop every transfer for good
                    log.exception("net.engine_failed")
        finally:
            self._shut_down()

    def _poll(self) -> None:
        due = [self._deadlines[0][0]] if self._deadlines else []
        if self._timer_at is not None:
            due.append(self._timer_at)
        wait = min([*due, time.monotonic() + _MAX_WAIT_S]) - time.monotonic()
        for key, mask in self._selector.select(max(wait, 0.0)):
            if key.fileobj is self._wake_r:
                with contextlib.suppress(BlockingIOError):
                    self._wake_r.recv(4096)
            else:
                self._multi.socket_action(key.fd, mask)  # EVENT_READ/WRITE == CSELECT_IN/OUT
        if self._timer_at is not None and self._timer_at <= time.monotonic():
            self._timer_at = None
            self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)

    def _drain_inbox(self) -> None:
        self._wake_pending = False
        while self._inbox:
            self._inbox.popleft()()

    def _on_socket(self, what: int, fd: int, multi: object, data: object) -> None:
        if what == pycurl.POLL_REMOVE:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(fd)
            return
        events = (selectors.EVENT_READ if what & pycurl.POLL_IN else 0) | (
            selectors.EVENT_WRITE if what & pycurl.POLL_OUT else 0
        )
        try:
            self._selector.modify(fd, events)
        except (KeyError, OSError):  # new, or a reused number whose old socket was closed
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(fd)
            self._selector.register(fd, events)

    def _on_timer(self, ms: int) -> None:
        self._timer_at = None if ms < 0 else time.monotonic() + ms / 1000

    def _begin(self, job: Job) -> None:
        heapq.heappush(self._deadlines, (job.exchange.deadline + _GRACE_S, next(self._seq), job))
        self._hop(job)

    def _hop(self, job: Job) -> None:
        """Resolve the current hop's name (unless dialled by IP), then start its transfer."""
        route = job.exchange.route
        if route.dial != route.host or _is_ip(route.host):
            self._ready(job, ())
            return
        job.asked_at = time.monotonic()
        listener = partial(self._post_answer, job)
        answer = self._dns.lookup(route.host, self._family, listener, priority=job.priority)
        if answer is not None:
            self._answered(job, answer)

    def _post_answer(self, job: Job, answer: Answer) -> None:
        self._post(partial(self._answered, job, answer))

    def _answered(self, job: Job, answer: Answer) -> None:
        if job.finished:
            return
        job.dns_wait = time.monotonic() - job.asked_at
        if isinstance(answer, NetError):
            self._finish(job, job.exchange.reply(None, answer))
        else:
            self._ready(job, answer)

    def _ready(self, job: Job, addresses: tuple[str, ...]) -> None:
        if len(self._active) >= self._max_transfers:
            self._waiting.append((job, addresses))
        else:
            self._transfer(job, addresses)

    def _transfer(self, job: Job, addresses: tuple[str, ...]) -> None:
        curl = self._free.pop() if self._free else pycurl.Curl()
        exchange = job.exchange
        remaining_ms = max(1, math.ceil((exchange.deadline - time.monotonic()) * 1000))
        job.sink = Sink(self._settings.max_body)
        job.curl = curl
        try:
            configure(
                curl,
                exchange.route,
                exchange.request,
                addresses=addresses,
                timeout_ms=remaining_ms,
                settings=self._settings,
                sink=job.sink,
            )
        except (pycurl.error, ValueError, TypeError) as exc:  # e.g. a header libcurl refuses
            self._release(job)
            error = NetError(ErrorKind.PROTOCOL, f"cannot send the request: {type(exc).__name__}")
            self._finish(job, exchange.reply(None, error))
            return
        self._active[curl] = job
        self._multi.add_handle(curl)

    def _collect(self) -> None:
        while True:
            queued, ok, failed = self._multi.info_read()
            for curl in ok:
                self._hop_done(curl, 0, "")
            for curl, code, message in failed:
                self._hop_done(curl, code, message)
            if not queued:
                break
        while self._waiting and len(self._active) < self._max_transfers:
            job, addresses = self._waiting.popleft()
            if not job.finished:
                self._transfer(job, addresses)

    def _hop_done(self, curl: pycurl.Curl, code: int, message: str) -> None:
        job = self._active.pop(curl)
        self._multi.remove_handle(curl)
        assert job.sink is not None
        exchange = job.exchange
        hop = self._with_certificate(
            exchange.route.key, outcome(curl, code, message, job.sink, _stage(job))
        )
        self._release(job)
        exchange.account(hop, job.dns_wait)
        job.dns_wait = 0.0
        if hop.error is not None:
            self._finish(job, exchange.reply(hop, _timeout_reason(exchange, hop.error)))
            return
        following = exchange.next_route(hop)
        if following is None or isinstance(following, NetError):
            self._finish(job, exchange.reply(hop, following))
        elif time.monotonic() >= exchange.deadline:
            self._finish(job, exchange.reply(hop, exchange.timed_out("following a redirect")))
        else:
            self._hop(job)

    def _with_certificate(self, origin: tuple[str, str, int, str], hop: HopOutcome) -> HopOutcome:
        """libcurl reports certificates only on a handshake: remember them per origin."""
        if hop.cert_expiry is not None:
            if len(self._certs) >= _MAX_CERTS:
                self._certs.clear()
            self._certs[origin] = hop.cert_expiry
        elif hop.reused and origin in self._certs:
            return replace(hop, cert_expiry=self._certs[origin])
        return hop

    def _release(self, job: Job) -> None:
        if job.curl is not None and len(self._free) < self._max_transfers:
            self._free.append(job.curl)
        job.curl, job.sink = None, None

    def _expire(self) -> None:
        now = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            job = heapq.heappop(self._deadlines)[2]
            if job.finished:
                continue
            stage = _stage(job)
            if job.curl is not None:
                self._active.pop(job.curl, None)
                self._multi.remove_handle(job.curl)  # mid-transfer: libcurl closes the connection
                self._release(job)
            self._finish(job, job.exchange.reply(None, job.exchange.timed_out(stage)))

    def _finish(self, job: Job, reply: HttpReply) -> None:
        job.finished = True
        try:
            job.done(reply)
        except Exception:  # a caller's bug must not stop every other transfer
            log.exception("net.callback_failed")

    def _shut_down(self) -> None:
        """End what is pending; idle connections close with the multi (libcurl never resolves
        names itself here, so its cleanup has no lookup to wait for)."""
        closed = NetError(ErrorKind.NETWORK, "client closed")
        for curl in self._active:
            self._multi.remove_handle(curl)
        self._active.clear()
        for _, _, job in self._deadlines:
            if not job.finished:
                self._finish(job, job.exchange.reply(None, closed))
        self._multi.close()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()


def _stage(job: Job) -> str:
    """Which step a transfer had reached, for a timeout's reason."""
    curl, sink = job.curl, job.sink
    if curl is None or sink is None:
        return "connecting"
    if sink.complete:
        return "reading the body"
    connected = curl.getinfo(pycurl.CONNECT_TIME_T) > 0
    if job.exchange.route.scheme == "https":
        connected = connected and curl.getinfo(pycurl.APPCONNECT_TIME_T) > 0
    return "waiting for the response" if connected else "connecting"


def _timeout_reason(exchange: Exchange, error: NetError) -> NetError:
    return exchange.timed_out(error.reason) if error.kind is ErrorKind.TIMEOUT else error


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True
