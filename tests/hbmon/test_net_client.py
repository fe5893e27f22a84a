"""HttpClient against loopback servers: the alerter's request(), IP family policy, concurrency."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import trustme

from hbmon.net.client import SYSTEM_CA_BUNDLE, HttpClient, ca_file
from hbmon.net.policy import DnsOverride, IpFamily, NetPolicy
from hbmon.net.reply import ErrorKind, HttpReply
from hbmon.net.resolve import AddrInfo
from tests.netservers import Handler, ok, serve, server_tls
from tests.netservers import ca_file as ca_file_for_test
from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def client() -> Iterator[HttpClient]:
    http = HttpClient(NetPolicy(dns_override=DnsOverride(ip="127.0.0.2")))
    yield http
    http.close()


def test_post_delivers_body_and_returns_status_and_retry_after(client: HttpClient) -> None:
    def busy(handler: Handler) -> None:
        handler.reply(429, b"slow down", (("Retry-After", "30"),))

    with serve(busy) as server:
        reply = client.request(
            server.url("/hook"),
            headers=(("Content-Type", "application/json"),),
            body=b'{"state": "down"}',
            timeout=5.0,
        )
        seen = server.record.requests
    assert [(r.method, r.path, r.body) for r in seen] == [("POST", "/hook", b'{"state": "down"}')]
    assert seen[0].headers["Content-Type"] == "application/json"
    assert reply.error is None
    assert reply.status_code == 429
    assert reply.header("retry-after") == "30"
    assert reply.body == b"slow down"
    assert not reply.ok


def test_request_never_uses_the_dns_override(client: HttpClient) -> None:
    with serve(ok) as server:
        reply = client.request(server.url(host="localhost"), body=b"", timeout=5.0)
    assert reply.ok


def test_parsed_urls_are_remembered_apart_with_and_without_the_override(
    client: HttpClient,
) -> None:
    with serve(ok) as server:
        url = server.url("/same")  # 127.0.0.1 only: the override's 127.0.0.2 refuses
        pinned = [client.exchange(url, timeout=5.0) for _ in range(2)]
        direct = [client.request(url, method="GET", timeout=5.0) for _ in range(2)]
        again = client.exchange(url, timeout=5.0)
    assert [r.error.kind if r.error else None for r in pinned] == [ErrorKind.REFUSED] * 2
    assert [r.ok for r in direct] == [True, True]
    assert again.error is not None
    assert again.error.kind is ErrorKind.REFUSED


def test_request_does_not_follow_redirects_unless_asked(client: HttpClient) -> None:
    def moved(handler: Handler) -> None:
        if handler.path == "/old":
            handler.reply(308, headers=(("Location", "/new"),))
        else:
            handler.reply(204)

    with serve(moved) as server:
        plain = client.request(server.url("/old"), body=b"x", timeout=5.0)
        followed = client.request(server.url("/old"), body=b"x", timeout=5.0, follow_redirects=True)
        bodies = [(r.path, r.body) for r in server.record.requests]
    assert plain.status_code == 308
    assert followed.status_code == 204
    assert bodies == [("/old", b"x"), ("/old", b"x"), ("/new", b"x")]  # 308 keeps the body


def test_a_reused_handle_never_carries_the_previous_requests_options(client: HttpClient) -> None:
    """Handles keep their options between hops of the same shape: a different one resets them."""
    with serve(ok) as server:
        token = (("X-Token", "secret"),)
        client.request(server.url("/a"), headers=token, body=b"one", timeout=5.0)
        client.request(server.url("/b"), method="GET", timeout=5.0)
        client.request(server.url("/c"), method="HEAD", timeout=5.0)
        client.request(server.url("/d"), method="GET", headers=token, timeout=5.0)
        client.request(server.url("/e"), method="GET", timeout=5.0)
        seen = [(r.method, r.path, r.body, "X-Token" in r.headers) for r in server.record.requests]
    assert seen == [
        ("POST", "/a", b"one", True),
        ("GET", "/b", b"", False),
        ("HEAD", "/c", b"", False),
        ("GET", "/d", b"", True),
        ("GET", "/e", b"", False),
    ]


def test_refused_connection_is_an_error_reply_not_an_exception(client: HttpClient) -> None:
    reply = client.request(f"http://127.0.0.1:{free_port()}/", body=b"{}", timeout=5.0)
    assert reply.status_code is None
    assert reply.error is not None
    assert reply.error.kind is ErrorKind.REFUSED


def test_unsupported_url_is_an_error_reply(client: HttpClient) -> None:
    reply = client.request("ftp://127.0.0.1/x", timeout=1.0)
    assert reply.error is not None
    assert reply.error.kind is ErrorKind.PROTOCOL


@pytest.mark.parametrize("host", ["a b", "a\x00b", "a\x7fb"])
def test_url_host_with_space_or_control_character_is_an_error_reply(
    client: HttpClient, host: str
) -> None:
    reply = client.exchange(f"http://{host}/", timeout=1.0)  # pinned: no name lookup
    assert reply.error is not None
    assert (reply.error.kind, reply.error.reason) == (ErrorKind.PROTOCOL, "invalid URL host")


def test_credentials_in_url_are_sent_as_basic_auth_but_never_reported(
    client: HttpClient,
) -> None:
    with serve(ok) as server:
        url = server.url("/?key=hidden").replace("://", "://user:pa%20ss@")
        reply = client.request(url, method="GET", timeout=5.0)
        auth = server.record.requests[0].headers["Authorization"]
    assert auth == "Basic dXNlcjpwYSBzcw=="
    assert reply.final_url == server.url("/")  # no user, password or query string


def test_a_connection_held_by_a_hung_request_is_not_shared(client: HttpClient) -> None:
    release = threading.Event()

    def slow_first(handler: Handler) -> None:
        if handler.path == "/hang":
            release.wait(10)
        handler.reply(200)

    with serve(slow_first) as server, ThreadPoolExecutor(1) as pool:

        def get(path: str) -> HttpReply:  # on the engine, whose connections all requests share
            return client.exchange(server.url(path), timeout=5.0, dns_override=False)

        warm = get("/warm")
        hung = pool.submit(get, "/hang")
        wait_for(lambda: len(server.record.requests) == 2, timeout=5.0)
        other = get("/other")
        release.set()
        assert hung.result().ok
        connections = server.record.connections
    assert warm.ok
    assert other.ok
    assert not other.connection_reused
    assert connections == 2


def test_a_thread_keeps_its_own_connection_for_requests_while_another_hangs(
    client: HttpClient,
) -> None:
    release = threading.Event()

    def slow_first(handler: Handler) -> None:
        if handler.path == "/hang":
            release.wait(10)
        handler.reply(200)

    with serve(slow_first) as server, ThreadPoolExecutor(1) as pool:
        warm = client.request(server.url("/warm"), method="GET", timeout=5.0)
        hung = pool.submit(client.request, server.url("/hang"), method="GET", timeout=5.0)
        wait_for(lambda: len(server.record.requests) == 2, timeout=5.0)
        other = client.request(server.url("/other"), method="GET", timeout=5.0)
        release.set()
        assert hung.result().ok and not hung.result().connection_reused
        connections = server.record.connections
    assert warm.ok and other.ok
    assert other.connection_reused  # the calling thread's own kept-alive connection
    assert connections == 2


def _dual_stack(host: str, port: int, family: int) -> Sequence[AddrInfo]:
    """Resolve `host` to both loopbacks, filtered by `family` as getaddrinfo would.

    This container's /etc/hosts maps localhost to 127.0.0.1 only, so the test injects a
    resolver through the client's constructor rather than relying on the system's.
    """
    found: list[AddrInfo] = []
    for literal in ("::1", "127.0.0.1"):
        try:
            found += socket.getaddrinfo(literal, port, family, socket.SOCK_STREAM)
        except socket.gaierror:
            continue
    return found


def _can_bind_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def _assert_family_listener(client: HttpClient, host: str, used: str, unused: str) -> None:
    """Listeners on 127.0.0.1:P and [::1]:P; only the one of the policy's family is reached."""
    try:
        with serve(ok, host="127.0.0.1") as v4, serve(ok, host="::1", port=v4.port) as v6:
            reply = client.request(f"http://{host}:{v4.port}/", method="GET", timeout=5.0)
            counts = {"127.0.0.1": v4.record.connections, "::1": v6.record.connections}
    finally:
        client.close()
    assert reply.ok
    assert reply.ip_family == used
    assert counts[unused] == 0


@pytest.mark.skipif(not _can_bind_ipv6_loopback(), reason="cannot bind ::1 here")
@pytest.mark.parametrize(
    ("family", "used", "unused"),
    [(IpFamily.IPV4, "ipv4", "::1"), (IpFamily.IPV6, "ipv6", "127.0.0.1")],
)
def test_ip_family_policy_picks_the_listener_of_that_family(
    family: IpFamily, used: str, unused: str
) -> None:
    _assert_family_listener(
        HttpClient(NetPolicy(ip_family=family), resolver=_dual_stack), "dual.test", used, unused
    )


def _ipv4_only(host: str, port: int, family: int) -> Sequence[AddrInfo]:
    return socket.getaddrinfo("127.0.0.1", port, family, socket.SOCK_STREAM)


def test_ipv6_policy_cannot_reach_an_ipv4_only_name() -> None:
    client = HttpClient(NetPolicy(ip_family=IpFamily.IPV6), resolver=_ipv4_only)
    try:
        with serve(ok) as server:
            reply = client.request(server.url(host="v4.test"), method="GET", timeout=5.0)
    finally:
        client.close()
    assert reply.error is not None
    assert reply.error.kind is ErrorKind.DNS


@pytest.mark.skipif(not _can_bind_ipv6_loopback(), reason="cannot bind ::1 here")
def test_ipv6_override_ip_is_dialled_under_the_ipv4_policy() -> None:
    policy = NetPolicy(ip_family=IpFamily.IPV4, dns_override=DnsOverride(ip="::1"))
    client = HttpClient(policy)
    try:
        with serve(ok, host="::1") as server:
            reply = client.exchange(f"http://svc.internal.test:{server.port}/", timeout=5.0)
            hosts = [r.headers["Host"] for r in server.record.requests]
    finally:
        client.close()
    assert reply.ok, reply.error
    assert reply.ip_family == "ipv6"
    assert hosts == [f"svc.internal.test:{server.port}"]


@pytest.mark.skipif(not _can_bind_ipv6_loopback(), reason="cannot bind ::1 here")
@pytest.mark.parametrize(
    ("family", "listen", "used"),
    [(IpFamily.IPV4, "::1", "ipv6"), (IpFamily.IPV6, "127.0.0.1", "ipv4")],
)
def test_ip_literal_in_the_url_is_dialled_in_its_own_family(
    family: IpFamily, listen: str, used: str
) -> None:
    client = HttpClient(NetPolicy(ip_family=family))
    try:
        with serve(ok, host=listen) as server:
            reply = client.request(server.url(), method="GET", timeout=5.0)
    finally:
        client.close()
    assert reply.ok, reply.error
    assert reply.ip_family == used


def test_auto_policy_uses_whatever_the_name_resolves_to() -> None:
    client = HttpClient(NetPolicy(ip_family=IpFamily.AUTO))
    try:
        with serve(ok) as server:
            reply = client.request(server.url(host="localhost"), method="GET", timeout=5.0)
    finally:
        client.close()
    assert reply.ok
    assert reply.ip_family == "ipv4"


def test_a_hanging_name_lookup_ends_as_timeout_at_the_budget() -> None:
    release = threading.Event()

    def stuck(host: str, port: int, family: int) -> Sequence[AddrInfo]:
        release.wait(10)  # like a resolver whose DNS server never answers
        return socket.getaddrinfo("127.0.0.1", port, family, socket.SOCK_STREAM)

    client = HttpClient(NetPolicy(), resolver=stuck)
    try:
        started = time.monotonic()
        reply = client.request("http://never.test/", method="GET", timeout=0.5)
        elapsed = time.monotonic() - started
    finally:
        release.set()
        client.close()
    assert reply.error is not None
    assert reply.error.kind is ErrorKind.TIMEOUT
    assert reply.error.reason == "timed out after 0.5s connecting"
    assert elapsed < 1.5


def test_concurrent_requests_share_the_client_safely(client: HttpClient) -> None:
    with serve(ok) as server, ThreadPoolExecutor(16) as pool:
        urls = [server.url(f"/{i}") for i in range(400)]
        replies = list(pool.map(lambda u: client.request(u, method="GET", timeout=10.0), urls))
        paths = sorted(r.path for r in server.record.requests)
        connections = server.record.connections
    assert all(r.ok for r in replies)
    assert paths == sorted(f"/{i}" for i in range(400))
    assert connections <= 16


def test_headers_and_credentials_follow_redirects_only_on_the_same_host(
    client: HttpClient,
) -> None:
    with serve(ok) as target:

        def bounce(handler: Handler) -> None:
            if handler.path == "/start":
                handler.reply(302, headers=(("Location", "/same"),))
            else:
                handler.reply(302, headers=(("Location", target.url("/other")),))

        with serve(bounce) as origin:
            url = origin.url("/start").replace("://", "://user:pw@")
            reply = client.request(
                url, method="GET", headers=(("X-Key", "k"),), timeout=5.0, follow_redirects=True
            )
            first_host = [r.headers for r in origin.record.requests]
        other_host = target.record.requests[0].headers
    assert reply.ok
    assert all(h["X-Key"] == "k" and "Authorization" in h for h in first_host)
    assert "X-Key" not in other_host
    assert "Authorization" not in other_host


def _hop_through_https_and_back(handler: Handler) -> None:
    """/start (http) -> /secure (https) -> /plain (http), all on one host and port."""
    host = handler.headers["Host"]
    if handler.path == "/start":
        handler.reply(302, headers=(("Location", f"https://{host}/secure"),))
    elif handler.path == "/secure":
        handler.reply(302, headers=(("Location", f"http://{host}/plain"),))
    else:
        handler.reply(200, b"plain")


def test_redirect_from_https_to_http_drops_headers_and_credentials(tmp_path: Path) -> None:
    ca = trustme.CA()
    client = HttpClient(NetPolicy(), ca_bundle=ca_file_for_test(ca, tmp_path))
    tls = server_tls(ca, "127.0.0.1")
    try:
        with serve(_hop_through_https_and_back, tls=tls, also_plain=True) as server:
            url = server.url("/start", scheme="http").replace("://", "://user:pw@")
            reply = client.request(
                url, method="GET", headers=(("X-Key", "k"),), timeout=5.0, follow_redirects=True
            )
            seen = [
                (r.path, "X-Key" in r.headers, "Authorization" in r.headers)
                for r in server.record.requests
            ]
    finally:
        client.close()
    assert reply.ok, reply.error
    assert seen == [("/start", True, True), ("/secure", True, True), ("/plain", False, False)]


def test_hung_name_lookup_never_delays_process_exit() -> None:
    script = textwrap.dedent(
        """
        import threading, time
        from hbmon.net.client import HttpClient
        from hbmon.net.policy import NetPolicy

        entered = threading.Event()

        def hang(host, port, family):
            entered.set()
            time.sleep(30)  # a resolver whose DNS server never answers
            return []

        client = HttpClient(NetPolicy(), resolver=hang)
        probe = threading.Thread(
            target=client.request, args=("http://hang.test/",), kwargs={"timeout": 0.2}
        )
        probe.start()
        entered.wait(5)
        closing = time.monotonic()
        client.close()
        print(time.monotonic() - closing)
        probe.join()
        """
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", script],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) < 0.5  # close() does not wait for the lookup either
    assert elapsed < 2.0


def _localhost_is_dual_stack() -> bool:
    try:
        socket.getaddrinfo("localhost", 80, socket.AF_INET6, socket.SOCK_STREAM)
        socket.getaddrinfo("localhost", 80, socket.AF_INET, socket.SOCK_STREAM)
    except socket.gaierror:
        return False
    return _can_bind_ipv6_loopback()


@pytest.mark.skipif(
    not _localhost_is_dual_stack(),
    reason="localhost has no ::1 entry in /etc/hosts (covered above with an injected resolver)",
)
@pytest.mark.parametrize(
    ("family", "used", "unused"),
    [(IpFamily.IPV4, "ipv4", "::1"), (IpFamily.IPV6, "ipv6", "127.0.0.1")],
)
def test_ip_family_policy_with_the_system_resolver(
    family: IpFamily, used: str, unused: str
) -> None:
    _assert_family_listener(HttpClient(NetPolicy(ip_family=family)), "localhost", used, unused)


def test_closed_client_refuses_new_requests() -> None:
    client = HttpClient(NetPolicy())
    client.close()
    with pytest.raises(RuntimeError, match="after close"):
        client.request("http://127.0.0.1:9/", timeout=1.0)


def test_ca_file_is_the_given_bundle_then_ssl_cert_file_then_the_system_bundle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The wheel's own OpenSSL knows no system store: the client must always name a file.
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "env.pem"))
    assert ca_file(tmp_path / "given.pem") == str(tmp_path / "given.pem")
    assert ca_file(None) == str(tmp_path / "env.pem")
    monkeypatch.delenv("SSL_CERT_FILE")
    expected = SYSTEM_CA_BUNDLE if Path(SYSTEM_CA_BUNDLE).is_file() else None
    assert ca_file(None) == expected


def test_ssl_cert_file_is_what_verification_trusts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ca = trustme.CA()
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file_for_test(ca, tmp_path)))
    client = HttpClient(NetPolicy())
    try:
        with serve(ok, tls=server_tls(ca, "127.0.0.1")) as server:
            reply = client.request(server.url(), method="GET", timeout=5.0)
    finally:
        client.close()
    assert reply.ok, reply.error


def test_request_on_a_kept_alive_tls_connection_still_reports_the_certificate(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    client = HttpClient(NetPolicy(), ca_bundle=ca_file_for_test(ca, tmp_path))
    try:
        with serve(ok, tls=server_tls(ca, "127.0.0.1")) as server:
            first, second = (client.request(server.url(), body=b"{}", timeout=5.0) for _ in "12")
            connections = server.record.connections
    finally:
        client.close()
    assert first.ok and second.ok, (first.error, second.error)
    assert not first.connection_reused and second.connection_reused and connections == 1
    assert first.tls_cert_expiry is not None
    assert second.tls_cert_expiry == first.tls_cert_expiry
