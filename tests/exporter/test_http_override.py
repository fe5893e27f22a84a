"""The HTTP probe under the DNS override: --resolve semantics, HTTP mode, opt-out, patterns."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trustme

from exporter.app import probing
from exporter.config import ExporterConfig, ServiceSpec
from exporter.probes.base import Fact, ProbeDeps, ProbeResult
from exporter.probes.http import probe
from hbmon.net.client import HttpClient
from hbmon.net.policy import DnsOverride, NetPolicy, OverrideMode
from hbmon.status import Status
from tests.netservers import Handler, ca_file, ok, serve, server_tls, tls_with_cert

MakeClient = Callable[[DnsOverride | None], HttpClient]
NAME = "svc.internal.test"  # .test never resolves: reaching it at all proves the override


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def make_client(ca: trustme.CA, tmp_path: Path) -> Iterator[MakeClient]:
    """Build clients that trust `ca`; all are closed after the test."""
    made: list[HttpClient] = []
    bundle = ca_file(ca, tmp_path)

    def build(override: DnsOverride | None) -> HttpClient:
        client = HttpClient(NetPolicy(dns_override=override), ca_bundle=bundle)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def run(client: HttpClient, url: str, **spec: object) -> ProbeResult:
    service = ServiceSpec(name="svc", kind="http", target=url, **spec)  # type: ignore[arg-type]
    return probe(service, timeout=5.0, deps=ProbeDeps(http=client, docker=None))


def test_override_keeps_real_name_for_host_header_sni_and_certificate(
    ca: trustme.CA, make_client: MakeClient
) -> None:
    sni: list[str | None] = []
    client = make_client(DnsOverride(ip="127.0.0.1"))
    with serve(ok, tls=server_tls(ca, NAME, sni=sni)) as server:
        result = run(client, server.url("/health", host="SVC.Internal.Test"))
        host = server.record.requests[0].headers["Host"]
    assert result.status is Status.HEALTHY, result.reason
    assert host.lower() == f"{NAME}:{server.port}"
    assert sni == [NAME]


def test_override_with_certificate_for_another_name_is_down(
    ca: trustme.CA, make_client: MakeClient
) -> None:
    client = make_client(DnsOverride(ip="127.0.0.1"))
    with serve(ok, tls=server_tls(ca, "other.internal.test")) as server:
        result = run(client, server.url("/", host=NAME))
    assert result.status is Status.DOWN
    assert result.reason is not None
    assert result.reason.startswith("certificate verify failed")
    assert NAME in result.reason


def test_certificate_expiry_is_the_leaf_not_after_also_on_reuse(
    ca: trustme.CA, make_client: MakeClient
) -> None:
    not_after = dt.datetime(2031, 5, 6, 7, 8, 9, tzinfo=dt.UTC)
    client = make_client(DnsOverride(ip="127.0.0.1"))
    tls = tls_with_cert(ca.issue_cert(NAME, not_after=not_after))
    with serve(ok, tls=tls) as server:
        first = run(client, server.url("/", host=NAME))
        second = run(client, server.url("/", host=NAME))
    assert first.facts[Fact.TLS_CERT_EXPIRY] == not_after.timestamp()
    assert second.facts["connection_reused"] is True
    assert second.facts[Fact.TLS_CERT_EXPIRY] == not_after.timestamp()


def test_plain_http_has_no_certificate_expiry(make_client: MakeClient) -> None:
    with serve(ok) as server:
        result = run(make_client(None), server.url())
    assert Fact.TLS_CERT_EXPIRY not in result.facts


def test_http_mode_follows_the_proxy_redirect_to_https_through_the_override(
    ca: trustme.CA, make_client: MakeClient
) -> None:
    sni: list[str | None] = []
    with serve(ok, tls=server_tls(ca, NAME, sni=sni)) as tls_server:

        def vhost(handler: Handler) -> None:
            if handler.headers["Host"].partition(":")[0] != NAME:  # like nginx server_name
                handler.reply(404, b"unknown vhost")
                return
            location = f"https://{NAME}:{tls_server.port}{handler.path}"
            handler.reply(301, headers=(("Location", location),))

        with serve(vhost) as proxy:
            override = DnsOverride(ip="127.0.0.1", mode=OverrideMode.HTTP)
            client = make_client(override)
            # the proxy listens on a free port, not 80, so the URL names it (http mode keeps it)
            result = run(client, f"https://{NAME}:{proxy.port}/health")
            proxy_seen = proxy.record.requests
            tls_seen = tls_server.record.requests
    assert result.status is Status.HEALTHY, result.reason
    assert result.facts["redirects"] == 1
    assert [r.headers["Host"] for r in proxy_seen] == [f"{NAME}:{proxy.port}"]
    assert [r.path for r in tls_seen] == ["/health"]
    assert sni == [NAME]


def test_http_mode_answer_of_the_proxy_alone_is_not_healthy(
    make_client: MakeClient,
) -> None:
    def redirect_to_nowhere(handler: Handler) -> None:
        handler.reply(301, headers=(("Location", f"https://{NAME}:9/"),))

    with serve(redirect_to_nowhere) as proxy:
        override = DnsOverride(ip="127.0.0.1", mode=OverrideMode.HTTP)
        result = run(make_client(override), f"https://{NAME}:{proxy.port}/")
    assert result.status is Status.DOWN
    assert result.reason == "connection refused"


def test_service_opted_out_resolves_normally(make_client: MakeClient) -> None:
    client = make_client(DnsOverride(ip="127.0.0.2"))
    with serve(ok) as server:
        pinned = run(client, server.url(host="localhost"))
        normal = run(client, server.url(host="localhost"), dns_override=False)
    assert pinned.status is Status.DOWN  # nothing listens on 127.0.0.2
    assert normal.status is Status.HEALTHY


def test_host_patterns_select_which_names_are_pinned(make_client: MakeClient) -> None:
    override = DnsOverride(ip="127.0.0.1", hosts=("*.internal.test",))
    client = make_client(override)
    with serve(ok) as server:
        matching = run(client, server.url(host="api.Internal.test"))
        excluded = run(client, server.url(host="svc.elsewhere.test"))
        resolvable = run(client, server.url(host="localhost"))
    assert matching.status is Status.HEALTHY
    assert excluded.status is Status.DOWN
    assert excluded.reason is not None
    assert excluded.reason.startswith("cannot resolve svc.elsewhere.test")
    assert resolvable.status is Status.HEALTHY


def test_exporter_internet_check_ignores_a_catch_all_override(tmp_path: Path) -> None:
    """Wired as the exporter wires it: PING_URL resolves normally while services are pinned."""
    with serve(ok) as server:
        url = server.url(host="localhost")
        config = ExporterConfig.from_env(
            {
                "PING_URL": url,
                "SERVICE_URL_app": url,
                "INTERNAL_DNS_OVERRIDE_IP": "127.0.0.2",  # loopback, nothing listens there
                "DOCKER_HOST": f"unix://{tmp_path}/absent.sock",
            }
        )
        with probing(config) as probes:
            cycle = probes.run_cycle(0.0, 0, threading.Event())
        paths = [r.path for r in server.record.requests]
    [app] = cycle.services
    assert app.result.status is Status.DOWN  # proves the override is in force for services
    assert cycle.internet.status is Status.HEALTHY, cycle.internet.reason
    assert paths == ["/"]
