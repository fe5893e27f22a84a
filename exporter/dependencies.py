"""Which parent (internet, Docker engine, another service) each check depends on, and why."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from exporter.probes.base import Fact, FactValue, ProbeResult

if TYPE_CHECKING:
    from exporter.config import ServiceSpec
    from hbmon.net.policy import DnsOverride


class Parent(StrEnum):
    """The keywords of SERVICE_DEPENDS_ON_<name>; any other value names a service."""

    INTERNET = "internet"
    DOCKER = "docker"
    NONE = "none"


class AddressClass(StrEnum):
    PUBLIC = "public"  # globally routable
    PRIVATE = "private"  # RFC 1918, unique local, shared (CGNAT) and other non-global ranges
    LOOPBACK = "loopback"
    LINK_LOCAL = "link_local"
    UNRESOLVED = "unresolved"  # the name did not resolve, so there is no address
    UNKNOWN = "unknown"  # no address to judge (e.g. a timeout before connecting)


# Hot-path keys and values as plain strings (what ParentTracker stores for each check).
_PRIMARY_IP, _UNRESOLVED = Fact.PRIMARY_IP.value, Fact.UNRESOLVED.value
_ADDRESS_CLASS, _DEPENDS_ON = Fact.ADDRESS_CLASS.value, Fact.DEPENDS_ON.value
_UNRESOLVED_CLASS, _UNKNOWN_CLASS = AddressClass.UNRESOLVED.value, AddressClass.UNKNOWN.value
_INTERNET, _DOCKER, _NONE = Parent.INTERNET.value, Parent.DOCKER.value, Parent.NONE.value
# A name that does not resolve, with no earlier address to go by, is what the internet going
# away looks like (the resolver is usually upstream): count it as internet-bound.
_INTERNET_BOUND = frozenset({AddressClass.PUBLIC.value, _UNRESOLVED_CLASS})


def classify(address: str) -> AddressClass:
    """The class of an IP literal; UNKNOWN for anything that is not one."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return AddressClass.UNKNOWN
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return AddressClass.LOOPBACK
    if ip.is_link_local:
        return AddressClass.LINK_LOCAL
    if ip.is_unspecified or ip.is_multicast or ip.is_reserved:
        return AddressClass.UNKNOWN  # nothing a service answers on (some count as global)
    if ip.is_global:
        return AddressClass.PUBLIC
    return AddressClass.PRIVATE


def fixed_address(spec: ServiceSpec, override: DnsOverride | None) -> str | None:
    """The address known from configuration alone: the override IP, or an IP-literal host."""
    host = urlsplit(spec.target).hostname or ""
    if override is not None and spec.dns_override and override.matches(host):
        return override.ip
    return host if classify(host) is not AddressClass.UNKNOWN else None


def default_parent(spec: ServiceSpec, address_class: str | None) -> str | None:
    """The configured parent, else docker for containers and internet for public addresses."""
    if spec.depends_on is not None:
        return None if spec.depends_on == _NONE else spec.depends_on
    if spec.kind == "docker":
        return _DOCKER
    return _INTERNET if address_class in _INTERNET_BOUND else None


class ParentTracker:
    """Adds ADDRESS_CLASS and DEPENDS_ON to each check; remembers each HTTP service's last
    known address class, so that a failure without an address keeps the class it had.

    Runs on every check of every cycle: plain strings, one dict per check, and an address is
    classified only when it differs from the service's previous one."""

    def __init__(self, services: tuple[ServiceSpec, ...], override: DnsOverride | None) -> None:
        self._fixed: dict[str, str] = {}  # class known from configuration alone
        for spec in services:
            address = fixed_address(spec, override) if spec.kind == "http" else None
            if address is not None:
                self._fixed[spec.name] = classify(address).value
        self._last: dict[str, tuple[str, str]] = {}  # name -> (address, its class)

    def annotate(self, spec: ServiceSpec, result: ProbeResult) -> ProbeResult:
        facts = dict(result.facts)
        address_class = self._address_class(spec.name, facts) if spec.kind == "http" else None
        if address_class is not None:
            facts[_ADDRESS_CLASS] = address_class
        facts[_DEPENDS_ON] = default_parent(spec, address_class)
        return ProbeResult(
            result.status, result.latency_s, result.reason, result.status_code, result.phases, facts
        )

    def _address_class(self, name: str, facts: dict[str, FactValue]) -> str:
        address = facts.pop(_PRIMARY_IP, None)
        unresolved = facts.pop(_UNRESOLVED, False)
        fixed = self._fixed.get(name)
        if fixed is not None:
            return fixed
        last = self._last.get(name)
        if isinstance(address, str):
            if last is None or last[0] != address:
                self._last[name] = last = (address, classify(address).value)
            return last[1]
        if last is not None:
            return last[1]
        return _UNRESOLVED_CLASS if unresolved else _UNKNOWN_CLASS


def parents_problem(parents: Mapping[str, str], name: str, services: frozenset[str]) -> str | None:
    """Why service `name`'s configured parent is unusable: unknown, or a cycle back to it."""
    value = parents[name]
    if value in set(Parent):
        return None
    if value not in services:
        return "names no configured service (nor internet, docker or none)"
    path = [name]
    while value in parents and value not in path:
        path.append(value)
        value = parents[value]
    if value == name:
        return "is a dependency cycle: " + " -> ".join([*path, name])
    return None
