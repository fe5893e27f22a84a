"""Hostile servers on loopback: every probe ends with a result and a reason, within its budget
plus 100 ms, without the process's memory growing, whatever the server sends."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import trustme

from exporter.config import ServiceSpec
from exporter.cycle import Cycle, CyclePlan, CycleRunner, internet_check
from exporter.probes.base import Fact, ProbeDeps
from exporter.probes.registry import PROBES, STARTERS
from hbmon.net.client import HttpClient
from hbmon.net.policy import IpFamily, NetPolicy
from hbmon.net.resolve import AddrInfo
from hbmon.status import Status
from tests.exporter.test_store import HOST
from tests.hostile import (
    BUDGET,
    SLACK,
    assert_bounded,
    drip,
    probe_measured,
    raw_server,
    stream,
)
from tests.netservers import Handler, ca_file, ok, serve, server_tls

FAST = 0.5  # protocol errors are found in milliseconds; this is scheduling slack


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(NetPolicy(), max_body_bytes=1024)
    yield http
    http.close()


def _say(answer: bytes, conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(answer)


def test_negative_chunk_size_is_a_protocol_error_at_once(client: HttpClient) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n"
    with raw_server(partial(stream, head=head, unit=b"x" * 65536)) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.DOWN
    assert probed.result.reason is not None
    assert probed.result.reason.startswith("invalid HTTP response")
    assert_bounded(probed, within=FAST)


def test_body_shorter_than_its_content_length_is_down(client: HttpClient) -> None:
    def short(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
        conn.shutdown(socket.SHUT_WR)
        stop.wait(2)

    with raw_server(short) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.DOWN
    assert probed.result.reason == ("invalid HTTP response: end of response with 990 bytes missing")
    assert_bounded(probed, within=FAST)


def test_endless_interim_responses_are_a_protocol_error_at_once(client: HttpClient) -> None:
    with raw_server(partial(stream, head=b"", unit=b"HTTP/1.1 102 Processing\r\n\r\n")) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.DOWN
    assert probed.result.reason == "invalid HTTP response: more than 8 interim (1xx) responses"
    assert_bounded(probed, within=FAST)


def test_endless_chunked_trailers_are_a_protocol_error_at_once(client: HttpClient) -> None:
    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
    with raw_server(partial(stream, head=head, unit=b"X-Trailer: " + b"t" * 100 + b"\r\n")) as srv:
        probed = probe_measured(client, srv.url())
    assert probed.result.status is Status.DOWN
    assert probed.result.reason is not None
    assert probed.result.reason.startswith("invalid HTTP response")
    assert_bounded(probed, within=FAST)


def test_no_content_with_chunked_encoding_is_healthy_at_once(client: HttpClient) -> None:
    answer = b"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"
    with raw_server(partial(_say, answer)) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.HEALTHY
    assert probed.result.status_code == 204
    assert_bounded(probed, within=FAST)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
            "Invalid Content-Length: value",  # libcurl's own refusal
        ),
        (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nok\r\n0\r\n\r\n",
            "both Content-Length and Transfer-Encoding",
        ),
        (
            b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
            b"2\r\nok\r\n0\r\n\r\n",
            "Transfer-Encoding in an HTTP/1.0 response",
        ),
    ],
    ids=["duplicate_content_length", "length_and_chunked", "http10_chunked"],
)
def test_ambiguous_framing_is_refused_and_its_connection_never_reused(
    client: HttpClient, answer: bytes, reason: str
) -> None:
    with raw_server(partial(_say, answer)) as server:
        first = probe_measured(client, server.url())
        second = probe_measured(client, server.url())
        connections = len(server.connections)
    assert (first.result.status, first.result.reason) == (
        Status.DOWN,
        f"invalid HTTP response: {reason}",
    )
    assert second.result.status is Status.DOWN
    assert connections == 2
    assert_bounded(first, within=FAST)


def test_status_code_that_is_not_three_digits_is_a_protocol_error(client: HttpClient) -> None:
    with raw_server(partial(_say, b"HTTP/1.1 2_00 OK\r\nContent-Length: 0\r\n\r\n")) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.DOWN
    assert probed.result.reason is not None
    assert probed.result.reason.startswith("invalid HTTP response")
    assert_bounded(probed, within=FAST)


def test_second_response_in_the_same_tls_record_never_reaches_the_next_probe(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    first = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
    filler = 8192 - len(first % 8000)
    answer = (first % filler) + b"x" * filler
    assert len(answer) == 8192
    extra = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    answered: list[int] = []

    def two_in_one(handler: Handler) -> None:
        answered.append(1)
        if len(answered) == 1:
            handler.wfile.write(answer + extra)  # one write: one TLS record
        else:
            handler.reply(200, b"ok")

    http = HttpClient(NetPolicy(), ca_bundle=ca_file(ca, tmp_path))
    try:
        with serve(two_in_one, tls=server_tls(ca, "127.0.0.1")) as server:
            codes = [probe_measured(http, server.url()).result.status_code for _ in range(3)]
    finally:
        http.close()
    assert codes == [200, 200, 200]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("/café", "bad redirect: URL is not ASCII (IDNA-encode the host, percent-encode the path)"),
        ("http://bad host/", "bad redirect: invalid URL host"),
        ("http://127.0.0.1:99999/", "bad redirect: invalid URL"),
        ("http://[::1/", "bad redirect: invalid URL"),
    ],
    ids=["non_ascii_path", "space_in_host", "port_out_of_range", "unclosed_bracket"],
)
def test_unusable_redirect_location_is_an_error_result(
    client: HttpClient, location: str, reason: str
) -> None:
    def moved(handler: Handler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with serve(moved) as server:
        probed = probe_measured(client, server.url())
    assert (probed.result.status, probed.result.reason) == (Status.ERROR, reason)
    assert probed.result.status_code == 302
    assert_bounded(probed, within=FAST)


def test_non_ascii_url_is_an_error_result_not_a_crash(client: HttpClient) -> None:
    probed = probe_measured(client, "http://127.0.0.1:9/café")
    assert probed.result.status is Status.DOWN
    assert probed.result.reason == (
        "URL is not ASCII (IDNA-encode the host, percent-encode the path)"
    )


def test_headers_dripped_byte_by_byte_time_out_at_the_budget(client: HttpClient) -> None:
    with raw_server(partial(drip, data=b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100)) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.TIMEOUT
    assert probed.result.reason == "timed out after 1s waiting for the response"
    assert_bounded(probed)


def test_body_dripped_byte_by_byte_times_out_at_the_budget(client: HttpClient) -> None:
    def slow_body(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        drip(conn, stop, b"b" * 100)

    with raw_server(slow_body) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.TIMEOUT
    assert probed.result.reason == "timed out after 1s reading the body"
    assert_bounded(probed)


def test_black_hole_times_out_at_the_budget(client: HttpClient) -> None:
    with raw_server(lambda conn, stop: stop.wait()) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.TIMEOUT
    assert probed.result.reason == "timed out after 1s waiting for the response"
    assert_bounded(probed)


def test_tls_handshake_that_never_completes_times_out_at_the_budget(client: HttpClient) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes TCP handshakes; nobody ever speaks TLS
        probed = probe_measured(client, f"https://127.0.0.1:{listener.getsockname()[1]}/")
    assert probed.result.status is Status.TIMEOUT
    assert probed.result.reason == "timed out after 1s connecting"
    assert_bounded(probed)


def test_gigabyte_body_is_read_only_up_to_the_cap(client: HttpClient) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (1 << 30)
    with raw_server(partial(stream, head=head, unit=b"x" * 65536)) as server:
        probed = probe_measured(client, server.url())
        again = probe_measured(client, server.url())
        connections = len(server.connections)
    assert probed.result.status is Status.HEALTHY
    assert again.result.facts[Fact.CONNECTION_REUSED] is False
    assert connections == 2  # the unread rest must never be read as the next answer
    assert_bounded(probed, within=FAST)


def test_redirect_loop_is_an_error_with_its_reason(client: HttpClient) -> None:
    def loop(handler: Handler) -> None:
        target = "/b" if handler.path == "/a" else "/a"
        handler.reply(302, headers=(("Location", target),))

    with serve(loop) as server:
        probed = probe_measured(client, server.url("/a"))
    assert probed.result.status is Status.ERROR
    assert probed.result.reason == f"redirect loop at {server.url('/a')}"
    assert_bounded(probed, within=FAST)


def test_certificate_for_another_name_is_down(tmp_path: Path) -> None:
    ca = trustme.CA()
    http = HttpClient(NetPolicy(), ca_bundle=ca_file(ca, tmp_path))
    try:
        with serve(ok, tls=server_tls(ca, "elsewhere.test")) as server:
            probed = probe_measured(http, server.url())
    finally:
        http.close()
    assert probed.result.status is Status.DOWN
    assert probed.result.reason is not None
    assert probed.result.reason.startswith("certificate verify failed")
    assert "127.0.0.1" in probed.result.reason
    assert_bounded(probed, within=FAST)


def test_https_to_http_redirect_is_an_error_and_never_followed(tmp_path: Path) -> None:
    ca = trustme.CA()

    def downgrade(handler: Handler) -> None:
        if handler.scheme == "https":
            handler.reply(302, headers=(("Location", f"http://{handler.headers['Host']}/"),))
        else:
            handler.reply(200)

    http = HttpClient(NetPolicy(), ca_bundle=ca_file(ca, tmp_path))
    try:
        with serve(downgrade, tls=server_tls(ca, "127.0.0.1"), also_plain=True) as server:
            probed = probe_measured(http, server.url(), headers=(("X-Key", "k"),))
            schemes = [r.scheme for r in server.record.requests]
    finally:
        http.close()
    assert (probed.result.status, probed.result.reason) == (
        Status.ERROR,
        "redirect downgrades https to http",
    )
    assert schemes == ["https"]
    assert_bounded(probed, within=FAST)


def test_cross_origin_redirect_drops_configured_headers(client: HttpClient) -> None:
    with serve(ok) as other:

        def away(handler: Handler) -> None:
            handler.reply(302, headers=(("Location", other.url("/landing")),))

        with serve(away) as origin:
            probed = probe_measured(client, origin.url(), headers=(("X-Key", "secret"),))
            sent = origin.record.requests[0].headers
        received = other.record.requests[0].headers
    assert probed.result.status is Status.HEALTHY
    assert sent["X-Key"] == "secret"
    assert "X-Key" not in received
    assert_bounded(probed, within=FAST)


def test_tls_certificate_verification_cannot_be_skipped_by_the_server(
    client: HttpClient,
) -> None:
    stranger = trustme.CA()
    with serve(ok, tls=server_tls(stranger, "127.0.0.1")) as server:
        probed = probe_measured(client, server.url())
    assert probed.result.status is Status.DOWN
    assert probed.result.reason == (
        "certificate verify failed: unable to get local issuer certificate"
    )
    assert ssl.OPENSSL_VERSION  # the wheel's OpenSSL is not Python's; both verify
    assert_bounded(probed, within=FAST)


def test_hung_name_lookups_starve_neither_a_service_nor_the_internet_check() -> None:
    release = threading.Event()

    def resolver(host: str, port: int, family: int) -> list[AddrInfo]:
        if host.startswith("hang"):
            release.wait(30)  # a name server that never answers for these names
        return socket.getaddrinfo("127.0.0.1", port, family, socket.SOCK_STREAM)

    http = HttpClient(NetPolicy(), resolver=resolver)
    try:
        with serve(ok) as server:
            hung = [_spec(f"hang{i}", f"http://hang{i}.test:{server.port}/") for i in range(4)]
            plan = CyclePlan(
                services=(*hung, _spec("svc", f"http://svc.test:{server.port}/")),
                internet=internet_check(f"http://ping.test:{server.port}/"),
                probes=PROBES,
                service_timeout=BUDGET,
                deadline_s=BUDGET + 0.5,
                starters=STARTERS,
            )
            cycles = [_run_cycle(plan, http) for _ in range(3)]
    finally:
        release.set()
        http.close()
    for cycle in cycles:
        statuses = {o.spec.name: (o.result.status, o.result.reason) for o in cycle.services}
        assert cycle.internet.status is Status.HEALTHY
        assert statuses.pop("svc") == (Status.HEALTHY, None)
        assert set(statuses.values()) == {(Status.TIMEOUT, "timed out after 1s connecting")}
        assert cycle.duration_s <= BUDGET + SLACK


def _spec(name: str, url: str) -> ServiceSpec:
    return ServiceSpec(name=name, kind="http", target=url)


def _run_cycle(plan: CyclePlan, http: HttpClient) -> Cycle:
    runner = CycleRunner(plan, max_workers=2)
    try:
        return runner.run(
            tick=time.time(),
            skipped_ticks=0,
            host=lambda: HOST,
            deps=ProbeDeps(http=http, docker=None),
            stop=threading.Event(),
        )
    finally:
        runner.close()


def _can_bind_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _can_bind_ipv6_loopback(), reason="cannot bind ::1 here")
def test_auto_family_falls_back_when_the_first_address_is_a_black_hole() -> None:
    with serve(ok) as v4, socket.socket(socket.AF_INET6) as hole:
        hole.bind(("::1", v4.port))
        hole.listen(0)
        fillers = [socket.socket(socket.AF_INET6) for _ in range(4)]
        for filler in fillers:  # a full accept queue: the kernel drops every further SYN
            filler.setblocking(False)
            filler.connect_ex(("::1", v4.port))

        def both(host: str, port: int, family: int) -> list[AddrInfo]:
            return [
                *socket.getaddrinfo("::1", port, family, socket.SOCK_STREAM),
                *socket.getaddrinfo("127.0.0.1", port, family, socket.SOCK_STREAM),
            ]

        http = HttpClient(NetPolicy(ip_family=IpFamily.AUTO), resolver=both)
        try:
            probed = probe_measured(http, f"http://dual.test:{v4.port}/")
        finally:
            http.close()
            for filler in fillers:
                filler.close()
    assert probed.result.status is Status.HEALTHY, probed.result.reason
    assert probed.result.facts[Fact.IP_FAMILY] == "ipv4"
    assert probed.result.phases["connect"] >= 0.15  # the first address really hung
    assert_bounded(probed, within=FAST)
