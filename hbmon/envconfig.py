"""Typed, problem-collecting readers for configuration taken from environment variables."""

from __future__ import annotations

import ipaddress
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hbmon.net.policy import IpFamily

EXIT_CONFIG_ERROR = 2
LOG_LEVELS = ("debug", "info", "warning", "error")
T = TypeVar("T")
_DOTENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


class ConfigError(Exception):
    """Every problem found in one configuration, reported together."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def load_dotenv(path: Path) -> dict[str, str]:
    """Parse a `.env` file: KEY=value lines, optional quotes, `#` comments, `export` prefix."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _DOTENV_LINE.match(line)
        if match is None:
            continue
        key, raw = match.groups()
        values[key] = _unquote(raw)
    return values


def _unquote(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    return re.sub(r"\s+#.*$", "", raw)


def merged_environment(env: Mapping[str, str], dotenv: Path | None) -> dict[str, str]:
    """Real environment variables win over the `.env` file, as with docker compose."""
    merged = load_dotenv(dotenv) if dotenv is not None else {}
    merged.update(env)
    return merged


def _zone_key(path: str) -> str:
    """`/etc/localtime` usually links into the zoneinfo tree: name the zone after the link."""
    target = str(Path(path).resolve())
    _, found, key = target.partition("zoneinfo/")
    return key if found else path


def show(value: str) -> str:
    """Quote a value for an error message so that empty and blank values stay visible."""
    return repr(value)


class EnvReader:
    """Reads typed values from one environment mapping and collects every problem."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, name: str, value: str | None, message: str, *, secret: bool = False) -> None:
        shown = "<redacted>" if secret else show(value or "")
        self.problems.append(f"{name}={shown}: {message}")

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return None if value is None or value.strip() == "" else value.strip()

    def string(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def number(
        self, name: str, default: float, *, minimum: float = 0.0, inclusive: bool = False
    ) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            parsed = float(value)
        except ValueError:
            parsed = math.nan
        too_small = parsed < minimum if inclusive else parsed <= minimum
        if not math.isfinite(parsed) or too_small:
            bound = ">=" if inclusive else ">"
            self.problem(name, value, f"must be a number {bound} {minimum:g}")
            return default
        return parsed

    def integer(self, name: str, default: int, *, minimum: int = 1) -> int:
        value = self.raw(name)
        if value is None:
            return default
        if not re.fullmatch(r"[+-]?\d+", value) or int(value) < minimum:
            self.problem(name, value, f"must be a whole number >= {minimum}")
            return default
        return int(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        self.problem(name, value, "must be true or false")
        return default

    def choice(self, name: str, default: str, choices: Iterable[str]) -> str:
        allowed = tuple(choices)
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in allowed:
            self.problem(name, value, f"must be one of {', '.join(allowed)}")
            return default
        return value.lower()

    def timezone(self, name: str, default: str = "UTC") -> ZoneInfo:
        """An IANA name, or glibc's `:/path/to/zonefile` form (e.g. `TZ=:/etc/localtime`)."""
        value = self.string(name, default)
        key = value.removeprefix(":")
        try:
            if key.startswith("/"):
                with Path(key).open("rb") as zonefile:
                    return ZoneInfo.from_file(zonefile, key=_zone_key(key))
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.problem(name, value, "is not an IANA time zone (e.g. UTC, America/Lima)")
            return ZoneInfo(default)

    def listen(self, name: str, default: str) -> ListenAddress:
        value = self.string(name, default)
        match = re.fullmatch(r"\[?([^\]]*?)\]?:(\d{1,5})", value)
        if match is None or not 0 < int(match.group(2)) < 65536:
            self.problem(name, value, "must be HOST:PORT (e.g. 0.0.0.0:9877 or [::]:9877)")
            return self.listen_fallback(default)
        return ListenAddress(match.group(1) or "0.0.0.0", int(match.group(2)))

    @staticmethod
    def listen_fallback(default: str) -> ListenAddress:
        host, _, port = default.rpartition(":")
        return ListenAddress(host, int(port))

    def url(self, name: str, *, secret: bool = False) -> str | None:
        """An optional http(s) URL; secret URLs (webhooks) are never echoed back."""
        value = self.secret(name) if secret else self.raw(name)
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            self.problem(name, value, "must be an http:// or https:// URL", secret=secret)
            return None
        return value

    def ip_address(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            self.problem(name, value, "must be an IPv4 or IPv6 address literal")
            return None

    def secret(self, name: str) -> str | None:
        """`NAME`, or the contents of the file named by `NAME_FILE` (Docker secrets)."""
        direct = self.raw(name)
        file_name = self.raw(f"{name}_FILE")
        if direct is not None and file_name is not None:
            self.problem(f"{name}_FILE", file_name, f"set either {name} or {name}_FILE, not both")
            return direct
        if file_name is None:
            return direct
        try:
            content = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            self.problem(f"{name}_FILE", file_name, f"cannot be read ({exc.strerror})")
            return None
        if not content:
            self.problem(f"{name}_FILE", file_name, "names an empty file")
            return None
        return content

    def finish(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def shared_settings(reader: EnvReader) -> dict[str, Any]:
    """Variables both processes read from their shared `.env`: one name, default and check each.

    The keys are the field names both frozen configs use.
    """
    return {
        "interval": reader.number("LOOP_INTERVAL_SECONDS", 10.0),
        "db_path": Path(reader.string("SQLITE_DB_PATH", "data/metrics.db")),
        "tz": reader.timezone("TZ"),
        "log_level": reader.choice("LOG_LEVEL", "info", LOG_LEVELS),
        "log_format": reader.choice("LOG_FORMAT", "", ("json", "console")) or None,
    }


def ip_family(reader: EnvReader) -> IpFamily:
    return IpFamily(reader.choice("IP_FAMILY", "ipv4", [f.value for f in IpFamily]))


def load_or_exit(prog: str, from_env: Callable[[Mapping[str, str]], T], env_file: Path) -> T:
    """Build a config from the environment plus `env_file`; on problems print all, exit 2."""
    try:
        return from_env(merged_environment(os.environ, env_file))
    except ConfigError as error:
        print(f"{prog}: invalid configuration:", file=sys.stderr)
        for problem in error.problems:
            print(f"  - {problem}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG_ERROR) from None
