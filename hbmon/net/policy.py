"""Network policy as plain data: which IP family to use and which hostnames to pin to an IP."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class IpFamily(StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    AUTO = "auto"


class OverrideMode(StrEnum):
    RESOLVE = "resolve"  # curl --resolve: keep scheme, port, Host, SNI and certificate checks
    HTTP = "http"  # previous agent's behaviour, made honest: plain HTTP to the IP, real Host


@dataclass(frozen=True)
class DnsOverride:
    """Resolve matching hostnames to `ip` at the connection layer."""

    ip: str
    hosts: tuple[str, ...] = ()  # exact names or "*.suffix"; empty means every service
    mode: OverrideMode = OverrideMode.RESOLVE

    def matches(self, hostname: str) -> bool:
        name = hostname.lower().rstrip(".")
        if not self.hosts:
            return True
        for pattern in self.hosts:
            if pattern.startswith("*."):
                if name.endswith(pattern[1:]) and name != pattern[2:]:
                    return True
            elif name == pattern:
                return True
        return False


@dataclass(frozen=True)
class NetPolicy:
    ip_family: IpFamily = IpFamily.IPV4
    dns_override: DnsOverride | None = None
