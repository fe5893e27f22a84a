"""Typed, problem-collecting readers for configuration taken from environment variables."""

from __future__ import annotations

import io
import ipaddress
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hbmon.configurl import checked_host, http_url, redact_credentials
from hbmon.envpaths import read_small_file

EXIT_CONFIG_ERROR = 2
SHOWN_CHARACTERS = 100  # a 120 KB value is cut to this in messages
# Large enough for any real setting, small enough for SQLite, C ints and `timedelta`.
MAX_INTEGER = 2**31 - 1
_MAX_ZONE_FILE = 1 << 20  # TZif files are a few KB; a FIFO or /dev/zero is not one
MAX_SECONDS = 1e9  # ~31 years: `Event.wait` and datetime arithmetic stay in range
LOG_LEVELS = ("debug", "info", "warning", "error")
T = TypeVar("T")
# Visible Latin-1 plus space and tab: what an HTTP field value may carry (no CR, LF, NUL...).
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\xa0-\xff]*")


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


def _zone_key(path: str) -> str:
    """`/etc/localtime` usually links into the zoneinfo tree: name the zone after the link."""
    target = str(Path(path).resolve())
    _, found, key = target.partition("zoneinfo/")
    return key if found else path


def cut(value: str, quote: Callable[[str], str] = str) -> str:
    """`value` (quoted), or its first SHOWN_CHARACTERS (quoted) and its length when longer."""
    if len(value) <= SHOWN_CHARACTERS:
        return quote(value)
    return f"{quote(value[:SHOWN_CHARACTERS])}... ({len(value)} characters)"


def show(value: str) -> str:
    """Quote a value for an error message so that empty and blank values stay visible.

    A URL's password and query are redacted: config errors end up in logs and terminals.
    Long values are cut: a message names the problem, it does not echo 120 KB back.
    """
    return cut(redact_credentials(value), repr)


def is_text(value: str) -> bool:
    """False for undecodable bytes of the environment (Python keeps them as lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_field_value(value: str) -> bool:
    """True when `value` can travel in an HTTP header as it is: visible Latin-1, no CR/LF."""
    return _FIELD_VALUE.fullmatch(value) is not None


class EnvReader:
    """Reads typed values from one environment mapping and collects every problem."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def problem(self, name: str, value: str | None, message: str, *, secret: bool = False) -> None:
        shown = "<redacted>" if secret else show(value or "")
        problem = f"{cut(name)}={shown}: {message}"
        if problem not in self.problems:  # a variable may be read twice (services)
            self.problems.append(problem)

    def raw(self, name: str, *, secret: bool = False) -> str | None:
        """The stripped value, or None when unset, blank or not text (then a problem)."""
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return None
        if not is_text(value):
            self.problem(name, value, "is not valid UTF-8", secret=secret)
            return None
        return value.strip()

    def checked(self, name: str, default: str, problem_of: Callable[[str], str | None]) -> str:
        """The value when `problem_of` finds nothing wrong with it, else the default."""
        value = self.raw(name)
        if value is None:
            return default
        problem = problem_of(value)
        if problem is not None:
            self.problem(name, value, problem)
            return default
        return value

    def string(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float = 0.0,
        inclusive: bool = False,
        maximum: float = MAX_SECONDS,
    ) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            parsed = float(value)
        except ValueError:
            parsed = math.nan
        too_small = parsed < minimum if inclusive else parsed <= minimum
        if not math.isfinite(parsed) or too_small or parsed > maximum:
            bound = ">=" if inclusive else ">"
            self.problem(name, value, f"must be a number {bound} {minimum:g} and <= {maximum:.15g}")
            return default
        return parsed

    def integer(
        self, name: str, default: int, *, minimum: int = 1, maximum: int = MAX_INTEGER
    ) -> int:
        value = self.raw(name)
        if value is None:
            return default
        # Length first: int() refuses strings of more than 4,300 digits with a ValueError.
        digits = len(str(maximum)) + 1
        if not re.fullmatch(rf"[+-]?[0-9]{{1,{digits}}}", value) or not (
            minimum <= int(value) <= maximum
        ):
            self.problem(name, value, f"must be a whole number from {minimum} to {maximum}")
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
                content, problem = read_small_file(key, limit=_MAX_ZONE_FILE)
                if problem is not None:
                    raise ValueError(problem)
                return ZoneInfo.from_file(io.BytesIO(content), key=_zone_key(key))
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            self.problem(name, value, "is not an IANA time zone (e.g. UTC, America/Lima)")
            return ZoneInfo(default)

    def listen(self, name: str, default: str) -> ListenAddress:
        value = self.string(name, default)
        match = re.fullmatch(r"\[?([^\]]*?)\]?:([0-9]{1,5})", value)
        if match is None or not 0 < int(match.group(2)) < 65536 or not _is_host(match.group(1)):
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
        try:
            return http_url(value)
        except ValueError as error:
            self.problem(name, value, str(error), secret=secret)
            return None

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
        direct = self.raw(name, secret=True)
        file_name = self.raw(f"{name}_FILE")
        if direct is not None and file_name is not None:
            self.problem(f"{name}_FILE", file_name, f"set either {name} or {name}_FILE, not both")
            return direct
        if file_name is None:
            return direct
        content, problem = read_small_file(file_name)
        try:
            text = content.decode("utf-8").strip()
        except UnicodeDecodeError:
            problem = "names a file that is not UTF-8 text"
        if problem is None and not text:
            problem = "names an empty file"
        if problem is not None:
            self.problem(f"{name}_FILE", file_name, problem)
            return None
        return text

    def finish(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def _is_host(host: str) -> bool:
    """An empty host (every address), an IP literal, or a name the resolver can encode."""
    if not host:
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    try:
        checked_host(host)
    except ValueError:
        return False
    return True
