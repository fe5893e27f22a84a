"""The transfer engine: every hop of a client on one CurlMulti, driven from one thread."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial

import pycurl

from hbmon.logs import get_logger
from hbmon.net.exchange import Exchange
from hbmon.net.hop import CertMemory, Handle, HopSettings, configure, outcome, stage
from hbmon.net.loop import CurlLoop
from hbmon.net.policy import IpFamily
from hbmon.net.reply import ErrorKind, HttpReply, NetError
from hbmon.net.resolve import Answer, DnsCache
from hbmon.net.route import needs_lookup

log = get_logger("hbmon.net")
_GRACE_S = 0.02  # libcurl's own TIMEOUT_MS normally ends a hop; this is the backstop
_COMPACT_AT = 1024  # finished jobs wait in the deadline heap; past this many, drop them
_NEVER_STARTED = NetError(ErrorKind.TIMEOUT, "never started: no free transfer slot in time")


class Job:
    """One exchange handed to the engine, and the callback that receives its reply."""

    __slots__ = (
        "asked_at",
        "counted",
        "dns_wait",
        "done",
        "exchange",
        "finished",
        "handle",
        "not_after",
        "priority",
    )

    def __init__(
        self,
        exchange: Exchange,
        done: Callable[[HttpReply], None],
        *,
        priority: bool = False,
        not_after: float | None = None,
    ) -> None:
        self.exchange = exchange
        self.done = done
        self.priority = priority  # skips the queues for a slot and for name lookups
        self.not_after = not_after  # monotonic time past which it must not start or run
        self.counted = False  # holds one of the engine's slots
        self.handle: Handle | None = None  # while a hop is in libcurl's hands
        self.finished = False
        self.asked_at = 0.0
        self.dns_wait = 0.0


class Engine:
    """Owns the CurlMulti; only its own thread ever touches libcurl (other threads `submit`
    jobs through the loop's inbox)."""

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
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_connects)
        self._loop = CurlLoop(self._multi)
        self._deadlines: list[tuple[float, int, Job]] = []
        self._seq = itertools.count()
        self._active: dict[pycurl.Curl, Job] = {}
        self._pending: deque[Job] = deque()  # waiting for a slot; the budget starts after
        self._running = 0
        self._free: list[Handle] = []
        self._certs = CertMemory()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hbmon-net-engine", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        self._loop.post(partial(self._admit, job))

    def close(self) -> None:
        """Stop the loop; pending jobs end with an error. Never waits for a name lookup."""
        self._closed.set()
        self._loop.wake()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        try:
            while not self._closed.is_set():
                try:
                    self._loop.run_once(self._deadlines[0][0] if self._deadlines else None)
                    self._expire()
                    self._collect()
                except Exception:  # a bug in one step must not stop every transfer for good
                    log.exception("net.engine_failed")
        finally:
            self._shut_down()

    def _admit(self, job: Job) -> None:
        if job.priority:
            self._begin(job)
        elif self._running < self._max_transfers and not self._pending:
            job.counted = True
            self._running += 1
            self._begin(job)
        else:
            self._pending.append(job)

    def _admit_pending(self) -> None:
        while self._pending and self._running < self._max_transfers:
            job = self._pending.popleft()
            if job.not_after is not None and time.monotonic() >= job.not_after:
                job.exchange.begin(None)
                self._finish(job, job.exchange.reply(None, _NEVER_STARTED))
                continue
            job.counted = True
            self._running += 1
            self._begin(job)

    def _begin(self, job: Job) -> None:
        job.exchange.begin(job.not_after)
        if len(self._deadlines) > _COMPACT_AT + 4 * self._running:
            self._deadlines = [entry for entry in self._deadlines if not entry[2].finished]
            heapq.heapify(self._deadlines)
        heapq.heappush(self._deadlines, (job.exchange.deadline + _GRACE_S, next(self._seq), job))
        self._hop(job)

    def _hop(self, job: Job) -> None:
        """Resolve the current hop's name (unless dialled by IP), then start its transfer."""
        route = job.exchange.route
        if not needs_lookup(route):
            self._transfer(job, ())
            return
        job.asked_at = time.monotonic()
        listener = partial(self._post_answer, job)
        answer = self._dns.lookup(route.host, self._family, listener, priority=job.priority)
        if answer is not None:
            self._answered(job, answer)

    def _post_answer(self, job: Job, answer: Answer) -> None:
        self._loop.post(partial(self._answered, job, answer))

    def _answered(self, job: Job, answer: Answer) -> None:
        if job.finished:
            return
        job.dns_wait = time.monotonic() - job.asked_at
        if isinstance(answer, NetError):
            self._finish(job, job.exchange.reply(None, answer))
        else:
            self._transfer(job, answer)

    def _transfer(self, job: Job, addresses: tuple[str, ...]) -> None:
        handle = self._free.pop() if self._free else Handle(self._settings.max_body)
        exchange = job.exchange
        job.handle = handle
        error = configure(handle, exchange, addresses, self._settings)
        if error is not None:
            self._release(job)
            self._finish(job, exchange.reply(None, error))
            return
        self._active[handle.curl] = job
        self._multi.add_handle(handle.curl)

    def _collect(self) -> None:
        while True:
            queued, ok, failed = self._multi.info_read()
            for curl in ok:
                self._hop_done(curl, 0, "")
            for curl, code, message in failed:
                self._hop_done(curl, code, message)
            if not queued:
                break
        self._admit_pending()

    def _hop_done(self, curl: pycurl.Curl, code: int, message: str) -> None:
        job = self._active.pop(curl)
        self._multi.remove_handle(curl)
        assert job.handle is not None
        exchange = job.exchange
        hop = self._certs.remember(
            exchange.route.key, outcome(curl, code, message, job.handle.sink, partial(_stage, job))
        )
        self._release(job)
        exchange.account(hop, job.dns_wait)
        job.dns_wait = 0.0
        if hop.error is not None:
            self._finish(job, exchange.reply(hop, exchange.hop_failed(hop.error)))
            return
        following = exchange.next_route(hop)
        if following is None or isinstance(following, NetError):
            self._finish(job, exchange.reply(hop, following))
        elif time.monotonic() >= exchange.deadline:
            self._finish(job, exchange.reply(hop, exchange.timed_out("following a redirect")))
        else:
            self._hop(job)

    def _release(self, job: Job) -> None:
        handle, job.handle = job.handle, None
        if handle is None:
            return
        handle.sink.reset()  # drop the body now, not when the handle is next used
        if len(self._free) < self._max_transfers:
            self._free.append(handle)

    def _expire(self) -> None:
        now = time.monotonic()
        while self._deadlines and self._deadlines[0][0] <= now:
            job = heapq.heappop(self._deadlines)[2]
            if job.finished:
                continue
            reached = _stage(job)
            if job.handle is not None:
                self._active.pop(job.handle.curl, None)
                # mid-transfer: libcurl closes the connection
                self._multi.remove_handle(job.handle.curl)
                self._release(job)
            self._finish(job, job.exchange.reply(None, job.exchange.timed_out(reached)))

    def _finish(self, job: Job, reply: HttpReply) -> None:
        job.finished = True
        if job.counted:
            job.counted = False
            self._running -= 1
        done, job.done = job.done, _ignore  # the heap may hold the job until its deadline
        try:
            done(reply)
        except Exception:  # a caller's bug must not stop every other transfer
            log.exception("net.callback_failed")

    def _shut_down(self) -> None:
        """End what is pending; idle connections close with the multi (libcurl never resolves
        names itself here, so its cleanup has no lookup to wait for)."""
        closed = NetError(ErrorKind.NETWORK, "client closed")
        for curl in self._active:
            self._multi.remove_handle(curl)
        self._active.clear()
        for job in [*(j for _, _, j in self._deadlines), *self._pending]:
            if not job.finished:
                self._finish(job, job.exchange.reply(None, closed))
        self._multi.close()
        self._loop.close()


def _ignore(reply: HttpReply) -> None:
    """What a finished job's callback becomes, so that the heap does not keep its caller's
    objects alive."""


def _stage(job: Job) -> str:
    return stage(job.handle, job.exchange.route.scheme)
