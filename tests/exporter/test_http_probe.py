"""The HTTP probe against real loopback servers: statuses, budgets, bodies, redirects, reuse."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

from exporter.config import ServiceSpec
from exporter.probes.base import (
    PHASES,
    Fact,
    ProbeDeps,
    ProbeResult,
)
from exporter.probes.http import probe
from hbmon.net.client import HttpClient
from hbmon.net.policy import NetPolicy
from hbmon.status import Status
from tests.netservers import Handler, ca_file, ok, serve, server_tls

BUDGET = 1.0
TOLERANCE = 0.5  # scheduling slack on a loaded CI machine


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(NetPolicy(), max_body_bytes=1024)
    yield http
    http.close()


def run(client: HttpClient, url: str, *, timeout: float = 5.0, **spec: object) -> ProbeResult:
    service = ServiceSpec(name="svc", kind="http", target=url, **spec)  # type: ignore[arg-type]
    return probe(service, timeout=timeout, deps=ProbeDeps(http=client, docker=None))


def test_200_is_healthy_with_code_family_and_phases(client: HttpClient) -> None:
    with serve(ok) as server:
        result = run(client, server.url("/health"))
    assert result.status is Status.HEALTHY
    assert result.status_code == 200
    assert result.reason is None
    assert result.facts[Fact.IP_FAMILY] == "ipv4"
    assert set(result.phases) == set(PHASES)


@pytest.mark.parametrize("code", [404, 500, 503])
def test_unhealthy_http_status_is_error_with_code_stored(client: HttpClient, code: int) -> None:
    with serve(lambda h: h.reply(code, b"no")) as server:
        result = run(client, server.url())
    assert result.status is Status.ERROR
    assert result.status_code == code
    assert result.reason == f"HTTP {code}"


def test_redirect_is_followed_and_latency_covers_both_hops(client: HttpClient) -> None:
    def behaviour(handler: Handler) -> None:
        if handler.path.startswith("/old"):
            handler.reply(301, headers=(("Location", "/new"),))
        else:
            handler.reply(200, b"new")

    with serve(behaviour) as server:
        result = run(client, server.url("/old?token=secret"))
        paths = [seen.path for seen in server.record.requests]
    assert result.status is Status.HEALTHY
    assert result.status_code == 200
    assert paths == ["/old?token=secret", "/new"]
    assert result.facts["redirects"] == 1
    assert result.facts["final_url"] == server.url("/new")
    assert result.latency_s is not None
    assert result.latency_s >= sum(result.phases.values())


def test_redirect_loop_fails_with_reason_and_keeps_last_code(client: HttpClient) -> None:
    def behaviour(handler: Handler) -> None:
        target = "/b" if handler.path == "/a" else "/a"
        handler.reply(302, headers=(("Location", target),))

    with serve(behaviour) as server:
        result = run(client, server.url("/a"))
    assert result.status is Status.ERROR
    assert result.status_code == 302
    assert result.reason is not None
    assert "redirect loop" in result.reason


def test_too_many_redirects_fail_with_reason(client: HttpClient) -> None:
    def behaviour(handler: Handler) -> None:
        step = int(handler.path.strip("/") or 0)
        handler.reply(302, headers=(("Location", f"/{step + 1}"),))

    with serve(behaviour) as server:
        result = run(client, server.url("/0"))
        hops = len(server.record.requests)
    assert result.status is Status.ERROR
    assert result.reason == "too many redirects (more than 5)"
    assert hops == 6


def test_https_redirect_to_plain_http_is_an_error_and_never_followed(tmp_path: Path) -> None:
    ca = trustme.CA()
    http = HttpClient(NetPolicy(), ca_bundle=ca_file(ca, tmp_path))

    def downgrade(handler: Handler) -> None:
        if handler.scheme == "https":
            handler.reply(302, headers=(("Location", f"http://{handler.headers['Host']}/"),))
        else:
            handler.reply(200)

    try:
        with serve(downgrade, tls=server_tls(ca, "127.0.0.1"), also_plain=True) as server:
            result = run(http, server.url("/"), headers=(("X-Key", "k"),))
            schemes = [r.scheme for r in server.record.requests]
    finally:
        http.close()
    assert result.status is Status.ERROR
    assert result.reason == "redirect downgrades https to http"
    assert result.status_code == 302
    assert schemes == ["https"]  # the plain hop, which would carry X-Key in clear, never ran


def test_server_rejecting_head_is_healthy_with_default_get(client: HttpClient) -> None:
    def behaviour(handler: Handler) -> None:
        handler.reply(405 if handler.command == "HEAD" else 200)

    with serve(behaviour) as server:
        default = run(client, server.url())
        head = run(client, server.url(), method="HEAD")
        methods = [seen.method for seen in server.record.requests]
    assert default.status is Status.HEALTHY
    assert head.status is Status.ERROR
    assert head.status_code == 405
    assert methods == ["GET", "HEAD"]


def test_custom_headers_reach_the_server_and_never_the_result(client: HttpClient) -> None:
    headers = (("Authorization", "Bearer s3cret-token"), ("X-Env", "prod"))
    with serve(ok) as server:
        result = run(client, server.url(), headers=headers)
        seen = server.record.requests[0].headers
    assert seen["Authorization"] == "Bearer s3cret-token"
    assert seen["X-Env"] == "prod"
    assert "s3cret" not in repr(result)


def test_black_hole_server_times_out_at_the_budget(client: HttpClient) -> None:
    with serve(lambda h: h.stop.wait()) as server:
        started = time.monotonic()
        result = run(client, server.url(), timeout=BUDGET)
        elapsed = time.monotonic() - started
    assert result.status is Status.TIMEOUT
    assert result.reason == "timed out after 1s waiting for the response"
    assert BUDGET - 0.05 <= elapsed < BUDGET + TOLERANCE


def test_tls_server_that_never_answers_times_out_at_the_budget(tmp_path: Path) -> None:
    ca = trustme.CA()
    http = HttpClient(NetPolicy(), ca_bundle=ca_file(ca, tmp_path))
    try:
        with serve(lambda h: h.stop.wait(), tls=server_tls(ca, "127.0.0.1")) as server:
            started = time.monotonic()
            result = run(http, server.url(), timeout=BUDGET)
            elapsed = time.monotonic() - started
    finally:
        http.close()
    assert result.status is Status.TIMEOUT
    assert elapsed < BUDGET + TOLERANCE


def test_listener_that_never_accepts_times_out_during_tls_handshake(client: HttpClient) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # the kernel completes TCP handshakes; nobody ever speaks TLS
        url = f"https://127.0.0.1:{listener.getsockname()[1]}/"
        started = time.monotonic()
        result = run(client, url, timeout=BUDGET)
        elapsed = time.monotonic() - started
    assert result.status is Status.TIMEOUT
    assert result.reason == "timed out after 1s connecting"
    assert elapsed < BUDGET + TOLERANCE


def test_server_dripping_headers_times_out_at_the_budget(client: HttpClient) -> None:
    def drip(handler: Handler) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
            if handler.stop.wait(0.2):
                return
            handler.wfile.write(bytes([byte]))

    with serve(drip) as server:
        started = time.monotonic()
        result = run(client, server.url(), timeout=BUDGET)
        elapsed = time.monotonic() - started
    assert result.status is Status.TIMEOUT
    assert elapsed < BUDGET + TOLERANCE


def test_endless_body_is_read_only_up_to_the_cap(client: HttpClient) -> None:
    chunk = b"x" * 65536

    def endless(handler: Handler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(1 << 30))
        handler.end_headers()
        while not handler.stop.is_set():
            try:
                handler.wfile.write(chunk)
            except OSError:
                return
            handler.count_sent(len(chunk))

    with serve(endless) as server:
        result = run(client, server.url())
        again = run(client, server.url())
        sent = server.record.bytes_sent
        connections = server.record.connections
    assert result.status is Status.HEALTHY
    assert again.status is Status.HEALTHY
    assert connections == 2  # an unread body must not be left on a reused connection
    assert sent < 32 * 1024 * 1024


def test_untrusted_certificate_is_down_with_certificate_reason(client: HttpClient) -> None:
    stranger = trustme.CA()
    with serve(ok, tls=server_tls(stranger, "127.0.0.1")) as server:
        result = run(client, server.url())
    assert result.status is Status.DOWN
    assert result.reason is not None
    assert result.reason.startswith("certificate verify failed")


def test_connection_refused_is_down(client: HttpClient) -> None:
    with serve(ok) as server:
        url = server.url()
    result = run(client, url)
    assert result.status is Status.DOWN
    assert result.reason == "connection refused"


def test_keep_alive_connection_is_reused_with_zero_setup_phases(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    http = HttpClient(NetPolicy(), ca_bundle=ca_file(ca, tmp_path))
    try:
        with serve(ok, tls=server_tls(ca, "127.0.0.1")) as server:
            first = run(http, server.url())
            second = run(http, server.url())
            connections = server.record.connections
    finally:
        http.close()
    assert first.facts[Fact.CONNECTION_REUSED] is False
    assert first.phases["tls"] > 0
    assert second.status is Status.HEALTHY
    assert second.facts[Fact.CONNECTION_REUSED] is True
    assert [second.phases[p] for p in ("dns", "connect", "tls")] == [0.0, 0.0, 0.0]
    assert connections == 1


def test_server_closing_idle_keep_alive_does_not_fail_next_probe(client: HttpClient) -> None:
    def close_after_answer(handler: Handler) -> None:
        handler.reply(200)
        handler.close_connection = True  # no "Connection: close" header: the client can't know

    with serve(close_after_answer) as server:
        first = run(client, server.url())
        second = run(client, server.url())
    assert first.status is Status.HEALTHY
    assert second.status is Status.HEALTHY
    assert second.facts[Fact.CONNECTION_REUSED] is False


def test_keep_alive_dropped_as_it_is_reused_is_retried_once_transparently(
    client: HttpClient,
) -> None:
    def one_answer_per_connection(handler: Handler) -> None:
        if handler.close_connection is False and getattr(handler, "answered", False):
            handler.close_connection = True  # hang up on the second request, like an idle timeout
            return
        handler.answered = True  # type: ignore[attr-defined]
        handler.reply(200)

    with serve(one_answer_per_connection) as server:
        first = run(client, server.url())
        second = run(client, server.url())
        connections = server.record.connections
    assert first.status is Status.HEALTHY
    assert second.status is Status.HEALTHY
    assert connections == 2


def test_phases_are_non_negative_and_add_up_to_about_the_total(client: HttpClient) -> None:
    with serve(ok) as server:
        result = run(client, server.url())
    assert all(result.phases[p] >= 0 for p in PHASES)
    assert result.latency_s is not None
    assert sum(result.phases.values()) <= result.latency_s < sum(result.phases.values()) + 0.05


def test_proxy_environment_variables_are_ignored(
    client: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    with serve(ok) as server:
        result = run(client, server.url())
    assert result.status is Status.HEALTHY
