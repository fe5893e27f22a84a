"""Dependencies: the configured or default parent of each check, and the address class behind it."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from exporter.config import ExporterConfig, ServiceSpec
from exporter.cycle import Cycle, CyclePlan, CycleRunner, internet_check
from exporter.dependencies import AddressClass, ParentTracker, classify, default_parent
from exporter.probes.base import Fact, FactValue, ProbeDeps, ProbeResult
from exporter.probes.registry import PROBES, STARTERS
from exporter.store import Store
from hbmon.envconfig import ConfigError
from hbmon.net.client import HttpClient
from hbmon.net.policy import DnsOverride, NetPolicy
from hbmon.net.resolve import AddrInfo
from hbmon.status import Status
from tests.exporter.test_store import HOST, LIMA
from tests.netservers import Handler, ok, serve

# Literal addresses, only ever classified: no traffic goes to any of them.
CLASSES = [
    ("1.1.1.1", AddressClass.PUBLIC),
    ("2606:4700::1111", AddressClass.PUBLIC),
    ("::ffff:8.8.4.4", AddressClass.PUBLIC),
    ("10.1.2.3", AddressClass.PRIVATE),
    ("172.16.0.1", AddressClass.PRIVATE),
    ("192.168.1.1", AddressClass.PRIVATE),
    ("100.64.0.1", AddressClass.PRIVATE),  # shared (CGNAT) space: not globally routable
    ("fd00::1", AddressClass.PRIVATE),
    ("127.0.0.1", AddressClass.LOOPBACK),
    ("127.8.9.10", AddressClass.LOOPBACK),
    ("::1", AddressClass.LOOPBACK),
    ("::ffff:127.0.0.1", AddressClass.LOOPBACK),
    ("169.254.1.1", AddressClass.LINK_LOCAL),
    ("fe80::1", AddressClass.LINK_LOCAL),
    ("0.0.0.0", AddressClass.UNKNOWN),
    ("224.0.0.1", AddressClass.UNKNOWN),
    ("svc.test", AddressClass.UNKNOWN),
    ("", AddressClass.UNKNOWN),
]


@pytest.mark.parametrize(("address", "expected"), CLASSES)
def test_address_class_of_a_literal(address: str, expected: AddressClass) -> None:
    assert classify(address) is expected


HTTP = ServiceSpec(name="api", kind="http", target="https://api.test/")
DOCKER = ServiceSpec(name="db", kind="docker", target="postgres")


def child(kind: str, parent: str) -> ServiceSpec:
    return ServiceSpec(name="c", kind=kind, target="http://c.test/", depends_on=parent)


PARENTS: list[tuple[ServiceSpec, AddressClass | None, str | None]] = [
    (HTTP, AddressClass.PUBLIC, "internet"),
    (HTTP, AddressClass.UNRESOLVED, "internet"),
    (HTTP, AddressClass.PRIVATE, None),
    (HTTP, AddressClass.LOOPBACK, None),
    (HTTP, AddressClass.LINK_LOCAL, None),
    (HTTP, AddressClass.UNKNOWN, None),
    (DOCKER, None, "docker"),
    (child("http", "db"), None, "db"),
    (child("http", "internet"), AddressClass.LOOPBACK, "internet"),
    (child("http", "none"), AddressClass.PUBLIC, None),
    (child("docker", "none"), None, None),
    (child("docker", "api"), None, "api"),
]


@pytest.mark.parametrize(("spec", "address_class", "parent"), PARENTS)
def test_configured_parent_else_the_default_one(
    spec: ServiceSpec, address_class: AddressClass | None, parent: str | None
) -> None:
    assert default_parent(spec, address_class) == parent


def observed(address: str | None = None, *, unresolved: bool = False) -> ProbeResult:
    facts: dict[str, FactValue] = {Fact.REDIRECTS: 0}
    if address is not None:
        facts[Fact.PRIMARY_IP] = address
    if unresolved:
        facts[Fact.UNRESOLVED] = True
    return ProbeResult(Status.HEALTHY if address else Status.DOWN, facts=facts)


# (what each cycle observed, (address_class, depends_on) recorded for each)
SEQUENCES = {
    "public address": ([observed("1.1.1.1")], [("public", "internet")]),
    "a failure without an address keeps the last class": (
        [observed("1.1.1.1"), observed(), observed(unresolved=True)],
        [("public", "internet")] * 3,
    ),
    "unresolved before any address counts as internet": (
        [observed(unresolved=True), observed("10.0.0.5"), observed(unresolved=True)],
        [("unresolved", "internet"), ("private", None), ("private", None)],
    ),
    "no address and no lookup failure is unknown": ([observed()], [("unknown", None)]),
    "the class follows the address": (
        [observed("10.0.0.5"), observed("1.1.1.1")],
        [("private", None), ("public", "internet")],
    ),
}


@pytest.mark.parametrize(("results", "recorded"), SEQUENCES.values(), ids=SEQUENCES.keys())
def test_tracker_records_class_and_parent_per_cycle(
    results: list[ProbeResult], recorded: list[tuple[str, str | None]]
) -> None:
    tracker = ParentTracker((HTTP,), None)
    annotated = [tracker.annotate(HTTP, result) for result in results]
    assert [(r.facts[Fact.ADDRESS_CLASS], r.facts[Fact.DEPENDS_ON]) for r in annotated] == recorded
    for result in annotated:
        assert Fact.PRIMARY_IP not in result.facts  # consumed: never stored
        assert Fact.UNRESOLVED not in result.facts
        assert result.facts[Fact.REDIRECTS] == 0


def test_override_ip_or_ip_literal_decides_the_class_whatever_was_connected_to() -> None:
    pinned = ServiceSpec(name="pinned", kind="http", target="https://svc.test/")
    opted_out = ServiceSpec(name="out", kind="http", target="https://svc.test/", dns_override=False)
    literal = ServiceSpec(name="literal", kind="http", target="http://10.9.8.7:8080/")
    override = DnsOverride(ip="1.1.1.1", hosts=("svc.test",))  # as the app narrows it
    tracker = ParentTracker((pinned, opted_out, literal), override)
    classes = {
        spec.name: tracker.annotate(spec, observed(unresolved=True)).facts[Fact.ADDRESS_CLASS]
        for spec in (pinned, opted_out, literal)
    }
    assert classes == {"pinned": "public", "out": "unresolved", "literal": "private"}


def test_docker_check_depends_on_docker_without_an_address_class() -> None:
    facts = ParentTracker((DOCKER,), None).annotate(DOCKER, ProbeResult(Status.HEALTHY)).facts
    assert facts == {Fact.DEPENDS_ON: "docker"}


def config(**env: str) -> ExporterConfig:
    return ExporterConfig.from_env(env)


def test_parents_are_read_per_service_and_keywords_ignore_case() -> None:
    services = config(
        SERVICE_URL_web="https://web.test/",
        SERVICE_URL_api="https://api.test/",
        SERVICE_URL_db="docker:postgres",
        SERVICE_URL_cache="docker:redis",
        SERVICE_DEPENDS_ON_web="api",
        SERVICE_DEPENDS_ON_api="db",
        SERVICE_DEPENDS_ON_db="Internet",
        SERVICE_DEPENDS_ON_cache="NONE",
    ).services
    assert {s.name: s.depends_on for s in services} == {
        "api": "db",
        "cache": "none",
        "db": "internet",
        "web": "api",
    }


BAD_PARENTS = {
    "unknown parent": (
        {"SERVICE_URL_a": "http://a.test/", "SERVICE_DEPENDS_ON_a": "b"},
        ["SERVICE_DEPENDS_ON_a='b': names no configured service (nor internet, docker or none)"],
    ),
    "itself": (
        {"SERVICE_URL_a": "http://a.test/", "SERVICE_DEPENDS_ON_a": "a"},
        ["SERVICE_DEPENDS_ON_a='a': is a dependency cycle: a -> a"],
    ),
    "a cycle of two": (
        {
            "SERVICE_URL_a": "http://a.test/",
            "SERVICE_URL_b": "docker:b",
            "SERVICE_DEPENDS_ON_a": "b",
            "SERVICE_DEPENDS_ON_b": "a",
        },
        [
            "SERVICE_DEPENDS_ON_a='b': is a dependency cycle: a -> b -> a",
            "SERVICE_DEPENDS_ON_b='a': is a dependency cycle: b -> a -> b",
        ],
    ),
    "a parent of no service": (
        {"SERVICE_URL_a": "http://a.test/", "SERVICE_DEPENDS_ON_x": "internet"},
        ["SERVICE_DEPENDS_ON_x='internet': names no service: SERVICE_URL_x is unset"],
    ),
    "a parent left out by SERVICE_NAMES": (
        {
            "SERVICE_NAMES": "a",
            "SERVICE_URL_a": "http://a.test/",
            "SERVICE_URL_b": "http://b.test/",
            "SERVICE_DEPENDS_ON_a": "b",
        },
        ["SERVICE_DEPENDS_ON_a='b': names no configured service (nor internet, docker or none)"],
    ),
}


@pytest.mark.parametrize(("env", "problems"), BAD_PARENTS.values(), ids=BAD_PARENTS.keys())
def test_bad_parent_is_a_configuration_error(env: dict[str, str], problems: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        ExporterConfig.from_env(env)
    assert caught.value.problems == problems


def test_a_chain_into_a_cycle_reports_only_the_cycle() -> None:
    env = {f"SERVICE_URL_{n}": f"http://{n}.test/" for n in "abc"}
    env |= {"SERVICE_DEPENDS_ON_a": "b", "SERVICE_DEPENDS_ON_b": "c", "SERVICE_DEPENDS_ON_c": "b"}
    with pytest.raises(ConfigError) as caught:
        ExporterConfig.from_env(env)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "SERVICE_DEPENDS_ON_b='c'",
        "SERVICE_DEPENDS_ON_c='b'",
    ]


def _names(host: str, port: int, family: int) -> Sequence[AddrInfo]:
    """A name server for the test: `gone.test` does not resolve, every other name is loopback."""
    if host == "gone.test":
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return socket.getaddrinfo("127.0.0.1", port, family, socket.SOCK_STREAM)


def _cycle(services: tuple[ServiceSpec, ...], port: int) -> Cycle:
    plan = CyclePlan(
        services=services,
        internet=internet_check(f"http://127.0.0.1:{port}/"),
        probes=PROBES,
        service_timeout=2.0,
        deadline_s=3.0,
        starters=STARTERS,
    )
    http = HttpClient(NetPolicy(), resolver=_names)
    runner = CycleRunner(plan, max_workers=2)
    try:
        deps = ProbeDeps(http=http, docker=None)
        return runner.run(
            tick=time.time(), skipped_ticks=0, host=lambda: HOST, deps=deps, stop=threading.Event()
        )
    finally:
        runner.close()
        http.close()


def test_a_real_cycle_stores_each_checks_class_and_parent(tmp_path: Path) -> None:
    with serve(ok) as server:
        services = (
            ServiceSpec(name="named", kind="http", target=f"http://svc.test:{server.port}/"),
            ServiceSpec(name="literal", kind="http", target=server.url()),
            ServiceSpec(name="gone", kind="http", target=f"http://gone.test:{server.port}/"),
            ServiceSpec(name="remote", kind="http", target=server.url("/r"), depends_on="internet"),
            ServiceSpec(name="child", kind="http", target=server.url("/c"), depends_on="remote"),
        )
        cycle = _cycle(services, server.port)
    store = Store(tmp_path / "m.db", LIMA)
    store.write(cycle)
    store.close()
    with sqlite3.connect(tmp_path / "m.db") as conn:
        rows = conn.execute(
            "SELECT service_name, status, address_class, depends_on, details FROM service_checks"
        ).fetchall()
    assert {name: (status, cls, parent) for name, status, cls, parent, _ in rows} == {
        "named": ("healthy", "loopback", None),
        "literal": ("healthy", "loopback", None),
        "gone": ("down", "unresolved", "internet"),
        "remote": ("healthy", "loopback", "internet"),
        "child": ("healthy", "loopback", "remote"),
    }
    assert not any("primary_ip" in (details or "") for *_, details in rows)


def _slow_on_s(handler: Handler) -> None:
    if handler.path.startswith("/s"):
        time.sleep(0.5)  # the cycle waits several slices: the others are tagged meanwhile
    handler.reply(200, b"ok")


def test_checks_tagged_while_the_cycle_waits_carry_the_same_class_and_parent() -> None:
    """Results that came in before the last one are tagged during the wait (issue 14); each
    outcome is what tagging after the cycle gives."""
    with serve(_slow_on_s) as server:
        services = (
            ServiceSpec(name="named", kind="http", target=f"http://svc.test:{server.port}/"),
            ServiceSpec(name="gone", kind="http", target=f"http://gone.test:{server.port}/"),
            ServiceSpec(name="remote", kind="http", target=server.url("/r"), depends_on="internet"),
            ServiceSpec(name="slow", kind="http", target=server.url("/s"), depends_on="none"),
        )
        cycle = _cycle(services, server.port)
    facts = {
        o.spec.name: (o.result.facts.get(Fact.ADDRESS_CLASS), o.result.facts[Fact.DEPENDS_ON])
        for o in cycle.services
    }
    assert facts == {
        "named": ("loopback", None),
        "gone": ("unresolved", "internet"),
        "remote": ("loopback", "internet"),
        "slow": ("loopback", None),
    }
    assert [o.spec.name for o in cycle.services] == [s.name for s in services]
    assert not any(Fact.PRIMARY_IP in o.result.facts for o in cycle.services)
