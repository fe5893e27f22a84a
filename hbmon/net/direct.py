"""Single requests run on the caller's own thread, on an easy handle that thread keeps."""

from __future__ import annotations

import threading
import time

import pycurl

from hbmon.net.exchange import Exchange
from hbmon.net.hop import CertMemory, Handle, HopOutcome, HopSettings, configure, outcome, stage
from hbmon.net.policy import IpFamily
from hbmon.net.reply import HttpReply, NetError
from hbmon.net.resolve import Answer, DnsCache
from hbmon.net.route import needs_lookup


class _Local(threading.local):
    """What one thread keeps between its requests: its handle (with libcurl's connection
    cache, so a webhook's connection stays open) and the certificates that handle has seen."""

    def __init__(self) -> None:
        self.handle: Handle | None = None
        self.certs = CertMemory()


class Direct:
    """Runs an exchange with `perform()` on the calling thread: for a webhook or a heartbeat,
    handing one request to the engine's thread and waiting for it cost more CPU than the
    request itself."""

    def __init__(self, settings: HopSettings, dns: DnsCache, family: IpFamily) -> None:
        self._settings, self._dns, self._family = settings, dns, family
        self._local = _Local()

    def run(self, exchange: Exchange) -> HttpReply:
        """Every hop of `exchange`, within its budget; never raises for I/O."""
        exchange.begin(None)
        local = self._local
        if local.handle is None:
            local.handle = Handle(self._settings.max_body)
        while True:
            addresses, waited = self._addresses(exchange)
            if isinstance(addresses, NetError):
                return exchange.reply(None, addresses)
            hop = self._hop(local, exchange, addresses)
            if isinstance(hop, NetError):
                return exchange.reply(None, hop)
            exchange.account(hop, waited)
            if hop.error is not None:
                return exchange.reply(hop, exchange.hop_failed(hop.error))
            following = exchange.next_route(hop)
            if following is None or isinstance(following, NetError):
                return exchange.reply(hop, following)
            if time.monotonic() >= exchange.deadline:
                return exchange.reply(hop, exchange.timed_out("following a redirect"))

    def _addresses(self, exchange: Exchange) -> tuple[tuple[str, ...] | NetError, float]:
        """The current hop's addresses (none when dialled by IP), and the time spent waiting."""
        route = exchange.route
        if not needs_lookup(route):
            return (), 0.0
        asked = time.monotonic()
        box: list[Answer] = []
        ready = threading.Event()

        def answered(answer: Answer) -> None:
            box.append(answer)
            ready.set()

        known = self._dns.lookup(route.host, self._family, answered)
        if known is None and not ready.wait(max(exchange.deadline - asked, 0.0)):
            return exchange.timed_out("connecting"), time.monotonic() - asked
        return (known if known is not None else box[0]), time.monotonic() - asked

    def _hop(
        self, local: _Local, exchange: Exchange, addresses: tuple[str, ...]
    ) -> HopOutcome | NetError:
        handle = local.handle
        assert handle is not None
        error = configure(handle, exchange, addresses, self._settings)
        if error is not None:
            return error
        code, message = _perform(handle.curl)
        scheme = exchange.route.scheme
        hop = outcome(handle.curl, code, message, handle.sink, lambda: stage(handle, scheme))
        handle.sink.reset()  # drop the body now, not when the handle is next used
        return local.certs.remember(exchange.route.key, hop)


def _perform(curl: pycurl.Curl) -> tuple[int, str]:
    try:
        curl.perform()
    except pycurl.error as exc:
        if len(exc.args) == 2:
            return exc.args
        return pycurl.E_FAILED_INIT, exc.args[0]  # only a misused option raises (message,)
    return 0, ""
